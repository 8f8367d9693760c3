"""``--merge-adapter``: the merged checkpoint is built once, reused, and answers as the adapter does."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from evalsuite.engines import merge
from evalsuite.engines.adapters import AdapterMismatch
from evalsuite.engines.base import fingerprint_dir

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY = REPO_ROOT / "fixtures" / "models" / "tiny-r1"
ADAPTER = REPO_ROOT / "fixtures" / "adapters" / "tiny-r1-lora"

pytestmark = [
    pytest.mark.skipif(
        not (TINY / "config.json").is_file() or not (ADAPTER / "adapter_config.json").is_file(),
        reason="tiny model or its adapter absent (python -m evalsuite.tiny.lora)",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("transformers") is None or importlib.util.find_spec("peft") is None,
        reason="needs transformers and peft (pip install 'evalsuite[hf]')",
    ),
]


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return merge.merged_checkpoint(TINY, ADAPTER, tmp_path_factory.mktemp("cache") / "merged")


def test_merged_checkpoint_is_keyed_by_both_fingerprints_and_reused(merged: Path, monkeypatch) -> None:
    assert merged.name == f"{fingerprint_dir(TINY)}-{fingerprint_dir(ADAPTER)}"
    provenance = json.loads((merged / merge.MARKER).read_text())
    assert provenance["adapter_fingerprint"] == fingerprint_dir(ADAPTER)
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= {
        p.name for p in merged.iterdir()
    }
    assert not list(merged.parent.glob("*.tmp-*"))  # built aside and renamed into place

    def no_second_merge(*_):
        raise AssertionError("merged again instead of reusing the cached checkpoint")

    monkeypatch.setattr(merge, "_merge", no_second_merge)
    assert merge.merged_checkpoint(TINY, ADAPTER, merged.parent) == merged


def test_a_foreign_adapter_is_refused_before_merging(tmp_path: Path) -> None:
    import shutil

    foreign = tmp_path / "foreign"
    shutil.copytree(ADAPTER, foreign)
    cfg = json.loads((foreign / "adapter_config.json").read_text())
    (foreign / "adapter_config.json").write_text(json.dumps({**cfg, "target_modules": ["c_attn"]}))
    with pytest.raises(AdapterMismatch, match="c_attn"):
        merge.merged_checkpoint(TINY, foreign, tmp_path / "merged")
    assert not (tmp_path / "merged").exists()


@pytest.mark.slow
def test_merged_weights_agree_with_the_adapter_on_the_builtin_benchmark(merged: Path) -> None:
    """Greedy verdicts on all 300 built-in items: peft adapter vs merged weights agree on >= 99%."""
    from evalsuite.tiny.reference import hf_greedy_results

    with_adapter = hf_greedy_results(TINY, adapter=ADAPTER)
    merged_results = hf_greedy_results(merged)
    assert len(with_adapter) == len(merged_results) == 300
    same_verdict = sum(a.correct == b.correct for a, b in zip(with_adapter, merged_results, strict=True))
    same_output = sum(a.output == b.output for a, b in zip(with_adapter, merged_results, strict=True))
    print(f"verdict agreement {same_verdict}/300, identical outputs {same_output}/300")
    assert same_verdict / 300 >= 0.99, (same_verdict, same_output)
    # Not vacuous: the merged weights score as the adapter does, not as the base (rates.json: 0.370).
    base_correct = round(json.loads((ADAPTER / "rates.json").read_text())["base"]["all"] * 300)
    n_merged, n_adapter = (sum(r.correct for r in rs) for rs in (merged_results, with_adapter))
    assert abs(n_merged - n_adapter) < abs(n_merged - base_correct), (n_merged, n_adapter, base_correct)
