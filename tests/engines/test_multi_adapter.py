"""Several LoRA adapters on ONE base-model load: each adapter answers exactly as it does alone.

Two extra adapters are derived here from the shipped one (its LoRA B matrices scaled by -1 and by
0.5: valid adapters with other weights, made in milliseconds, where training would take minutes on
a busy CPU), so the three adapters and the base answer differently; nothing enters the repository.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from evalsuite.benchmarks.builtin import iter_problems
from evalsuite.benchmarks.prompts import math_messages
from evalsuite.engines.base import EngineConfig, engines
from evalsuite.types import Completion, Request, SamplingConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY = REPO_ROOT / "fixtures" / "models" / "tiny-r1"
ADAPTER = REPO_ROOT / "fixtures" / "adapters" / "tiny-r1-lora"
SAMPLING = SamplingConfig(temperature=0.0, max_tokens=96)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (TINY / "config.json").is_file() or not (ADAPTER / "adapter_config.json").is_file(),
        reason="tiny model or its adapter absent (python -m evalsuite.tiny.lora)",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("transformers") is None or importlib.util.find_spec("peft") is None,
        reason="needs transformers and peft (pip install 'evalsuite[hf]')",
    ),
]


def scaled_adapter(out: Path, factor: float) -> Path:
    """A copy of the shipped adapter with every LoRA B matrix multiplied by ``factor``."""
    from safetensors.numpy import load_file, save_file

    shutil.copytree(ADAPTER, out)
    weights = load_file(ADAPTER / "adapter_model.safetensors")
    scaled = {k: (v * factor if ".lora_B." in k else v).astype(v.dtype) for k, v in weights.items()}
    save_file(scaled, out / "adapter_model.safetensors", metadata={"format": "pt"})
    return out


@pytest.fixture(scope="module")
def adapters(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The shipped adapter, its negation and its half."""
    root = tmp_path_factory.mktemp("adapters")
    return {
        "shipped": str(ADAPTER),
        "negated": str(scaled_adapter(root / "negated", -1.0)),
        "half": str(scaled_adapter(root / "half", 0.5)),
    }


def questions() -> list[tuple[str, str]]:
    """10 built-in items spread over every task and level: (id, question)."""
    rows = [(f"{t}/level{lv}/{i:04d}", q) for t, lv, i, q, _ in iter_problems()]
    return rows[::30]


def plan(engine, names: list[str | None]) -> list[Request]:
    """Every question once per adapter name (``None``: the base), interleaved as a real run's plan is."""
    return [
        Request(f"{name}:{qid}", qid, 0, msgs, engine.render(msgs), SAMPLING, adapter=name)
        for qid, question in questions()
        for msgs in [math_messages(question)]
        for name in names
    ]


def outputs(engine, requests: list[Request]) -> dict[str, str]:
    got: dict[str, Completion] = {}
    engine.generate(requests, lambda c: got.setdefault(c.key, c))
    assert set(got) == {r.key for r in requests}
    assert all(c.finish_reason != "error" for c in got.values()), [c.error for c in got.values()]
    return {k: c.text for k, c in got.items()}


def by_model(texts: Mapping[str, str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for key, text in texts.items():
        model, qid = key.split(":", 1)
        out.setdefault(model, {})[qid] = text
    return out


def run_engine(name: str, adapters: Mapping[str, str], models: list[str | None]) -> dict[str, dict[str, str]]:
    engine = engines.get(name)(EngineConfig(model=str(TINY), dtype="float32", adapters=dict(adapters)))
    try:
        engine.load()
        return by_model(outputs(engine, plan(engine, models)))
    finally:
        engine.close()


def count_calls(monkeypatch: pytest.MonkeyPatch, owner, attr: str) -> list[object]:
    """Record every call of ``owner.attr`` (still calling through)."""
    calls: list[object] = []
    original: Callable = getattr(owner, attr)

    def counted(*args, **kwargs):
        calls.append(args[:1])
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, attr, counted)
    return calls


def assert_same_as_alone(multi: dict[str, dict[str, str]], alone: dict[str, dict[str, str]]) -> None:
    for model, texts in alone.items():
        diff = [qid for qid in texts if texts[qid] != multi[model][qid]]
        assert not diff, (
            f"{model}: {len(diff)}/{len(texts)} outputs differ from the single-adapter engine, e.g. {diff[:3]}"
        )


def test_hf_one_base_load_serves_base_and_three_adapters(adapters, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import AutoModelForCausalLM

    loads = count_calls(monkeypatch, AutoModelForCausalLM, "from_pretrained")
    multi = run_engine("hf", adapters, [None, *adapters])
    assert len(loads) == 1  # base and the three adapters: one load of the base weights
    assert set(multi) == {"None", *adapters}
    # The four models really differ (so agreement below means each adapter was the one answering).
    texts = {m: tuple(multi[m].values()) for m in multi}
    assert len(set(texts.values())) == 4, "two models gave identical outputs on every item"

    alone = {"None": run_engine("hf", {}, [None])["None"]}
    for name, path in adapters.items():
        alone[name] = run_engine("hf", {name: path}, [name])[name]
    assert len(loads) == 1 + 4
    assert_same_as_alone(multi, alone)


@pytest.mark.vllm
@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="needs vllm")
def test_vllm_one_load_serves_base_and_three_adapters(adapters, monkeypatch: pytest.MonkeyPatch) -> None:
    """One ``vllm.LLM`` with three LoRAs (``max_loras=3``) answers the base as a LoRA-free engine does
    and an adapter as a one-LoRA engine does (three loads: vLLM starts in tens of seconds on CPU)."""
    import vllm

    loads = count_calls(monkeypatch, vllm, "LLM")
    engine = engines.get("vllm")(
        EngineConfig(model=str(TINY), dtype="float32", max_model_len=1024, adapters=adapters)
    )
    kwargs = engine.engine_kwargs()
    assert kwargs["enable_lora"] and kwargs["max_loras"] == 3 and kwargs["max_lora_rank"] == 8
    try:
        engine.load()
        multi = by_model(outputs(engine, plan(engine, [None, *adapters])))
    finally:
        engine.close()
    assert len(loads) == 1
    assert len({tuple(v.values()) for v in multi.values()}) == 4
    # Base rows batched beside LoRA rows once came back with a LoRA applied (vLLM CPU): compare
    # with an engine that has no LoRA at all.
    alone = {"None": run_engine("vllm", {}, [None])["None"]}
    alone["shipped"] = run_engine("vllm", {"shipped": adapters["shipped"]}, ["shipped"])["shipped"]
    assert len(loads) == 3
    assert_same_as_alone(multi, alone)
