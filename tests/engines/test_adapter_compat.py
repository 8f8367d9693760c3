"""Adapters that do not fit the base model are one clear usage error before any engine starts."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest

from evalsuite.engines.adapters import (
    AdapterMismatch,
    AdapterSpec,
    adapter_identity,
    check_adapter,
    lora_rank,
    parse_adapter_specs,
    safetensors_header,
)
from evalsuite.engines.base import EngineConfig, EngineConfigError, engines
from evalsuite.engines.vllm import vllm_rank_slot

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY = REPO_ROOT / "fixtures" / "models" / "tiny-r1"
ADAPTER = REPO_ROOT / "fixtures" / "adapters" / "tiny-r1-lora"
EVAL_MODULE = (REPO_ROOT / "tests" / "benchmarks" / "test_eval.py").read_text()

pytestmark = pytest.mark.skipif(
    not (TINY / "config.json").is_file() or not (ADAPTER / "adapter_config.json").is_file(),
    reason="tiny model or its adapter absent (python -m evalsuite.tiny.lora)",
)


def copy_adapter(tmp_path: Path, name: str = "copy") -> Path:
    out = tmp_path / name
    shutil.copytree(ADAPTER, out)
    return out


def edit_config(adapter: Path, **changes) -> None:
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    cfg.update(changes)
    (adapter / "adapter_config.json").write_text(json.dumps(cfg))


def write_safetensors(path: Path, shapes: dict[str, list[int]]) -> None:
    """A float32 safetensors file of zeros with these tensor shapes (no torch needed)."""
    header, offset = {}, 0
    for name, shape in shapes.items():
        size = 4
        for d in shape:
            size *= d
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(offset))


def test_the_shipped_adapter_fits_its_base() -> None:
    check_adapter(TINY, ADAPTER)
    assert lora_rank(ADAPTER) == 8 and vllm_rank_slot(8) == 8 and vllm_rank_slot(12) == 16


def test_another_base_model_name_is_named(tmp_path: Path) -> None:
    adapter = copy_adapter(tmp_path)
    edit_config(adapter, base_model_name_or_path="Qwen/Qwen2.5-7B-Instruct")
    with pytest.raises(AdapterMismatch) as err:
        check_adapter(TINY, adapter, name="tuned")
    message = str(err.value)
    assert f"--adapter tuned={adapter}" in message
    assert "base_model_name_or_path is 'Qwen/Qwen2.5-7B-Instruct'" in message and str(TINY) in message


def test_a_copy_of_the_base_under_its_hub_name_fits(tmp_path: Path) -> None:
    """Only the last path component has to agree (an adapter trained on ``org/tiny-r1`` fits ``.../tiny-r1``)."""
    adapter = copy_adapter(tmp_path)
    edit_config(adapter, base_model_name_or_path="someorg/tiny-r1")
    check_adapter(TINY, adapter)


def test_a_local_base_with_other_sizes_is_named(tmp_path: Path) -> None:
    other = tmp_path / "other-base"
    other.mkdir()
    cfg = json.loads((TINY / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**cfg, "hidden_size": 256}))
    adapter = copy_adapter(tmp_path)
    edit_config(adapter, base_model_name_or_path=str(other))
    with pytest.raises(AdapterMismatch, match="config.json differs"):
        check_adapter(TINY, adapter)


def test_target_modules_absent_from_the_base_are_named(tmp_path: Path) -> None:
    adapter = copy_adapter(tmp_path)
    edit_config(adapter, target_modules=["c_attn", "c_proj"])  # GPT-2's names
    with pytest.raises(AdapterMismatch) as err:
        check_adapter(TINY, adapter)
    assert "target_modules ['c_attn', 'c_proj'] match no module" in str(err.value)
    assert "q_proj" in str(err.value)  # says what the base does have


def test_lora_shapes_of_another_hidden_size_are_named(tmp_path: Path) -> None:
    """An adapter trained on a wider model: every LoRA matrix's shape is checked against the base weight."""
    adapter = copy_adapter(tmp_path)
    shapes = {
        k: list(v["shape"]) for k, v in safetensors_header(adapter / "adapter_model.safetensors").items()
    }
    wide = {k: [256 if d == 128 else d for d in s] for k, s in shapes.items()}
    write_safetensors(adapter / "adapter_model.safetensors", wide)
    with pytest.raises(AdapterMismatch) as err:
        check_adapter(TINY, adapter)
    message = str(err.value)
    assert "base_model.model.model.layers.0.mlp.down_proj.lora_B.weight: shape [256, 8]" in message
    assert "model.layers.0.mlp.down_proj.weight [128, 384]" in message
    assert "and " in message and "more" in message  # 56 problems are summarised, not dumped


def test_lora_weights_for_a_module_the_base_lacks_are_named(tmp_path: Path) -> None:
    adapter = copy_adapter(tmp_path)
    write_safetensors(
        adapter / "adapter_model.safetensors",
        {"base_model.model.model.layers.7.self_attn.q_proj.lora_A.weight": [8, 128]},
    )
    with pytest.raises(AdapterMismatch, match=r"no weight model\.layers\.7\.self_attn\.q_proj\.weight"):
        check_adapter(TINY, adapter)


def test_engines_check_adapters_when_built_before_loading_anything(tmp_path: Path) -> None:
    """Both local engines refuse a foreign adapter in their constructor (weights load later)."""
    adapter = copy_adapter(tmp_path, "foreign")
    edit_config(adapter, target_modules=["c_attn"])
    for name in ("hf", "vllm"):
        with pytest.raises(AdapterMismatch, match="foreign"):
            engines.get(name)(
                EngineConfig(model=str(TINY), adapters={"good": str(ADAPTER), "bad": str(adapter)})
            )


def test_a_foreign_adapter_is_a_usage_error_of_the_run(pytester: pytest.Pytester, tmp_path: Path) -> None:
    adapter = copy_adapter(tmp_path, "foreign")
    edit_config(adapter, base_model_name_or_path="meta-llama/Llama-3.1-8B")
    pytester.makepyfile(test_eval=EVAL_MODULE)
    result = pytester.runpytest_subprocess(
        "--engine", "hf", "--model", str(TINY), "--adapter", str(adapter), "-p", "no:cacheprovider"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--adapter*foreign does not fit the base model*", "*Llama-3.1-8B*"])
    assert not (pytester.path / ".evalsuite_cache").exists()  # refused before the cache or engine


def test_adapter_specs_name_and_path() -> None:
    specs = parse_adapter_specs(["tuned=fixtures/a", str(ADAPTER)])
    assert specs == (AdapterSpec("tuned", Path("fixtures/a")), AdapterSpec("tiny-r1-lora", ADAPTER))
    with pytest.raises(EngineConfigError, match="given twice"):
        parse_adapter_specs(["a=x", "a=y"])
    with pytest.raises(EngineConfigError, match="not 'base'"):
        parse_adapter_specs(["base=x"])
    with pytest.raises(EngineConfigError, match="NAME=PATH"):
        parse_adapter_specs(["tuned="])


def test_adapter_identity_follows_the_weights(tmp_path: Path) -> None:
    copy = copy_adapter(tmp_path)
    assert adapter_identity("a", copy) == adapter_identity("a", ADAPTER) != adapter_identity("b", ADAPTER)
    write_safetensors(copy / "adapter_model.safetensors", {"x": [1]})
    assert adapter_identity("a", copy) != adapter_identity("a", ADAPTER)
