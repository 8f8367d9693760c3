"""``--adapter``: a peft LoRA on tiny-r1 through transformers and vLLM, its cache identity, and the
base-vs-fine-tuned merge gate (``--baseline``) on the same items."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import pytest

from evalsuite.reports import read_run

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY = REPO_ROOT / "fixtures" / "models" / "tiny-r1"
ADAPTER = REPO_ROOT / "fixtures" / "adapters" / "tiny-r1-lora"
EVAL_MODULE = (REPO_ROOT / "tests" / "benchmarks" / "test_eval.py").read_text()
SUBSET = ("-m", "add", "--max-tokens", "160")
"""The 60 ``add`` items: where the adapter was trained to help (levels 2-3)."""

needs_fixtures = pytest.mark.skipif(
    not (TINY / "config.json").is_file() or not (ADAPTER / "adapter_config.json").is_file(),
    reason="tiny model or its adapter absent (python -m evalsuite.tiny.lora)",
)
needs_peft = pytest.mark.skipif(
    importlib.util.find_spec("transformers") is None or importlib.util.find_spec("peft") is None,
    reason="needs transformers and peft (pip install 'evalsuite[hf]')",
)
needs_vllm = pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="needs vllm")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One completion cache for the module: the vLLM test reuses the peft adapter run of the gate test."""
    return tmp_path_factory.mktemp("lora-cache")


@pytest.fixture
def evaluate(pytester: pytest.Pytester, cache_dir: Path):
    """``evaluate(run_id, *args)``: run the evaluation in a pytest subprocess; return its result and run record."""

    def run(run_id: str, *args: str) -> tuple[pytest.RunResult, dict]:
        pytester.makepyfile(test_eval=EVAL_MODULE)
        result = pytester.runpytest_subprocess(
            *args, "--run-id", run_id, "--cache-dir", str(cache_dir), "-p", "no:cacheprovider", timeout=900
        )
        run_dir = pytester.path / "reports" / run_id
        assert (run_dir / "run.json").exists(), result.stdout.str()[-3000:] + result.stderr.str()[-3000:]
        record = read_run(run_dir)
        return result, {"meta": record.meta, "items": [dataclasses.asdict(i) for i in record.items]}

    return run


def pass_rate(run: dict) -> float:
    items = run["items"]
    return sum(any(s["correct"] for s in i["samples"]) for i in items) / len(items)


def generated(run: dict) -> int:
    return run["meta"]["generation"]["generated"]


@needs_fixtures
def test_adapter_without_adapter_config_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """A directory that is not a saved peft adapter fails at start-up, naming the option, before any load."""
    not_adapter = pytester.mkdir("not-an-adapter")
    (not_adapter / "adapter_model.safetensors").write_bytes(b"")
    pytester.makepyfile(test_eval=EVAL_MODULE)
    result = pytester.runpytest_subprocess(
        "--engine", "hf", "--model", str(TINY), "--adapter", str(not_adapter), "-p", "no:cacheprovider"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--adapter*not-an-adapter*adapter_config.json*"])


@needs_fixtures
@needs_peft
@pytest.mark.slow
def test_adapter_changes_the_model_and_the_merge_gate_sees_it(pytester: pytest.Pytester, evaluate) -> None:
    """Base and adapter on the same items: different pass rates, separate cache entries, paired gate."""
    base_args = ("--engine", "hf", "--model", str(TINY), *SUBSET)
    lora_args = (*base_args, "--adapter", str(ADAPTER))
    base_result, base = evaluate("base", *base_args)
    lora_result, lora = evaluate("lora", *lora_args)
    assert base_result.ret == 0 and lora_result.ret == 0
    for run in (base, lora):
        assert len(run["items"]) == 60
        assert all(s["error"] is None for i in run["items"] for s in i["samples"])
    # Measured (adapter README.md, transformers greedy): add 0.55 for the base, 0.80 with the adapter.
    assert pass_rate(base) == pytest.approx(0.55, abs=0.05), pass_rate(base)
    assert pass_rate(lora) - pass_rate(base) >= 0.15, (pass_rate(base), pass_rate(lora))
    # The adapter is part of the cache identity: the adapter run did not reuse the base completions.
    assert generated(lora) > 50

    # The merge gate: the fine-tuned model against the base run, item by item, passes...
    gate_result, gated = evaluate("gate", *lora_args, "--baseline", str(pytester.path / "reports" / "base"))
    assert gate_result.ret == 0 and generated(gated) == 0  # every completion came from the cache
    assert pass_rate(gated) == pass_rate(lora)
    gate_result.stdout.fnmatch_lines(["PASS builtin: avg@n +0.* vs baseline*better of 60*"])
    # ...while the base model gated against the fine-tuned run is a significant drop, and fails.
    back_result, back = evaluate("back", *base_args, "--baseline", str(pytester.path / "reports" / "lora"))
    assert generated(back) == 0 and pass_rate(back) == pass_rate(base)
    assert back_result.ret == pytest.ExitCode.TESTS_FAILED
    back_result.stdout.fnmatch_lines(
        ["FAIL builtin: dropped 0.* vs baseline, p=*", "exit status 1: gate failed*"]
    )


@needs_fixtures
@needs_peft
@needs_vllm
@pytest.mark.slow
@pytest.mark.vllm
def test_vllm_lora_agrees_with_peft(evaluate) -> None:
    """The adapter through vLLM's LoRARequest scores within 5 points of peft on the same items."""
    common = ("--model", str(TINY), "--adapter", str(ADAPTER), *SUBSET)
    hf_result, hf = evaluate("hf", "--engine", "hf", *common)
    vl_result, vl = evaluate("vllm", "--engine", "vllm", *common)
    assert hf_result.ret == 0 and vl_result.ret == 0
    assert generated(vl) > 50 and vl["meta"]["generation"]["errors"] == 0  # vLLM's cache entries are its own
    assert pass_rate(hf) == pytest.approx(0.80, abs=0.05), pass_rate(hf)  # measured: 0.80 (48/60)
    assert abs(pass_rate(hf) - pass_rate(vl)) <= 0.05, (pass_rate(hf), pass_rate(vl))


@needs_fixtures
@needs_peft
@pytest.mark.slow
def test_shipped_adapter_fails_the_default_gate_because_of_expr(pytester: pytest.Pytester, evaluate) -> None:
    """Tasks add and expr (120 items): the adapter raises the score (add 33 -> 48 right of 60) but
    collapses ``expr`` (10 of 60 right -> 1: 10 lost, 1 gained); the default gate (the benchmark, its
    2 tasks and 3 levels; mid-p McNemar; Holm) fails on ``expr``, while the whole-benchmark gate of
    before (``--min-group-size`` above every group) lets the adapter through. The same decision on all
    300 items (Holm over 9 tests, p 0.029) is measured in README.md."""
    base_args = ("--engine", "hf", "--model", str(TINY), "--max-tokens", "160", "-m", "add or expr")
    base_result, base = evaluate("two-base", *base_args)
    assert base_result.ret == 0 and len(base["items"]) == 120
    assert pass_rate(base) == pytest.approx(43 / 120), pass_rate(base)
    lora_args = (
        *base_args,
        "--adapter",
        str(ADAPTER),
        "--baseline",
        str(pytester.path / "reports" / "two-base"),
    )
    md = pytester.path / "gate.md"
    gated_result, gated = evaluate("two-lora", *lora_args, "--summary-md", str(md))
    assert pass_rate(gated) == pytest.approx(49 / 120), pass_rate(gated)
    assert gated_result.ret == pytest.ExitCode.TESTS_FAILED
    gated_result.stdout.fnmatch_lines(
        [
            "FAIL builtin: task=expr dropped 0.150 (0.167 → 0.017) vs baseline, p=0.019 (holm over 6 tests, "
            "raw 0.00317) < 0.05, CI *; 10 of 60 items flipped to wrong, 1 to right *; whole benchmark +0.050 "
            "(0.358 → 0.408)*",
        ]
    )
    assert "| builtin/task=expr | 60 | 0.167 | 0.017 |" in md.read_text()
    # Whole benchmarks only (what the gate did before subgroups): the harmful adapter passes.
    old_result, old = evaluate("two-lora-old", *lora_args, "--min-group-size", "1000")
    assert old_result.ret == 0 and generated(old) == 0
    old_result.stdout.fnmatch_lines(
        ["PASS builtin: avg@n +0.050 (0.358 → 0.408) vs baseline*(0 tested, 5 too small*"]
    )
