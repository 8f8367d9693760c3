"""``evalsuite gate``: base and adapters on the same items, one engine load, each its own run, gated.

The fake engine's adapters are script files, so the whole command runs in seconds: a "bad" adapter
that forgets every answer the base knew must fail the gate, a "same" adapter must pass it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from plugin_helpers import distinct_questions

from evalsuite.gaterun import GateUsageError, base_args, candidate_args, parse

ITEMS = "builtin/add/level1/*"


def answers() -> dict[str, str]:
    """A fake-engine script that answers every ``add`` level-1 question right."""
    from evalsuite.benchmarks.builtin import iter_problems

    return {
        q: f"<think>\nadd\n</think>\n\\boxed{{{a}}}"
        for task, level, _, q, a in iter_problems()
        if task == "add" and level == 1
    }


@pytest.fixture
def scripts(pytester: pytest.Pytester) -> dict[str, Path]:
    wrong = "<think>\nhm\n</think>\n\\boxed{-1}"
    out = {
        "base": {"responses": answers(), "default": wrong},
        "same": {"responses": answers(), "default": wrong},
        "bad": {"default": wrong},
    }
    paths = {}
    for name, script in out.items():
        paths[name] = pytester.path / f"{name}.json"
        paths[name].write_text(json.dumps(script))
    return paths


def gate(pytester: pytest.Pytester, *args: str, env: dict[str, str] | None = None) -> pytest.RunResult:
    if env:
        for k, v in env.items():
            pytester._monkeypatch.setenv(k, v)
    return pytester.run(sys.executable, "-m", "evalsuite.cli", "gate", *args, timeout=600)


def run_meta(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())["meta"]


def test_gate_runs_base_and_adapters_on_one_load_and_fails_the_regression(
    pytester: pytest.Pytester, scripts: dict[str, Path]
) -> None:
    step_summary = pytester.path / "step_summary.md"
    step_summary.write_text("earlier step\n")
    result = gate(
        pytester,
        "--engine", "fake", "--model", str(scripts["base"]),
        "--adapter", f"same={scripts['same']}", "--adapter", f"bad={scripts['bad']}",
        "--items", ITEMS, "--run-id", "g1", "--summary-md", "out/summary.md",
        env={"GITHUB_STEP_SUMMARY": str(step_summary)},
    )  # fmt: skip
    assert result.ret == 1, result.stdout.str()[-3000:]
    run_dir = pytester.path / "reports" / "g1"
    # Each model is a run of its own, with its own report directory...
    assert {p.name for p in run_dir.iterdir() if p.is_dir()} == {"base", "same", "bad"}
    # ...and only the base run's engine generated: for itself and both adapters (20 items each).
    generated = {
        name: run_meta(run_dir / name)["generation"]["generated"] for name in ("base", "same", "bad")
    }
    distinct = distinct_questions("add/level1/")  # repeated questions share one generation
    assert generated == {"base": 3 * distinct, "same": 0, "bad": 0}
    calls = [json.loads(line) for line in Path(f"{scripts['base']}.calls").read_text().splitlines()]
    assert {c["adapter"] for c in calls} == {None, "bad", "same"}
    assert run_meta(run_dir / "bad")["adapter"] == f"bad={scripts['bad']}"
    assert run_meta(run_dir / "base")["adapter"] is None  # the prefilled adapters are not the base's
    result.stdout.fnmatch_lines(
        [
            "model*benchmark*base avg@n*candidate*delta*verdict",
            "same*builtin*1.000*1.000*+0.000*PASS",
            "bad*builtin*1.000*0.000*-1.000*FAIL",
            "bad builtin: *",
            "evalsuite gate: exit 1*",
        ]
    )
    md = (pytester.path / "out" / "summary.md").read_text()
    assert "FAIL" in md and "| bad | builtin | 1.000 | 0.000 | -1.000 | FAIL |" in md
    assert step_summary.read_text() == "earlier step\n" + md  # appended once, by the gate
    assert "#### bad vs base" in md and (pytester.path / "reports" / "g1" / "bad" / "summary.md").is_file()


def test_gate_passes_a_harmless_adapter_and_reuses_the_cached_base(
    pytester: pytest.Pytester, scripts: dict[str, Path]
) -> None:
    args = (
        "--engine",
        "fake",
        "--model",
        str(scripts["base"]),
        "--adapter",
        f"same={scripts['same']}",
        "--items",
        ITEMS,
    )
    first = gate(pytester, *args, "--run-id", "cold")
    assert first.ret == 0, first.stdout.str()[-3000:]
    again = gate(pytester, *args, "--run-id", "warm")
    assert again.ret == 0
    warm = pytester.path / "reports" / "warm"
    assert run_meta(warm / "base")["generation"]["generated"] == 0  # nothing regenerates
    assert run_meta(warm / "same")["generation"]["generated"] == 0
    again.stdout.fnmatch_lines(["same*builtin*PASS"])


def test_gate_usage_errors_say_what_to_pass() -> None:
    with pytest.raises(GateUsageError, match="--model"):
        parse(["--adapter", "a=x"])
    with pytest.raises(GateUsageError, match="nothing to gate"):
        parse(["--model", "m"])
    with pytest.raises(GateUsageError, match="must differ"):
        parse(["--model", "m", "--adapter", "a=x", "--candidate", "a=y"])


def test_gate_plan_splits_options_between_base_and_candidates(tmp_path: Path) -> None:
    plan = parse(
        ["--model", "m", "--adapter", "t=ad", "--candidate", "full=ckpt", "--min-score", "builtin=0.3",
         "--max-drop=0.01", "-n", "2", "--run-id", "r"],
        cwd=tmp_path,
    )  # fmt: skip
    base = base_args(plan)
    assert "--min-score" not in base and "--max-drop=0.01" not in base and "-n" in base
    assert base[base.index("--prefill-adapters") + 1] == "t=ad"  # the adapter shares the base's load
    adapter, full = (candidate_args(plan, c) for c in plan.candidates)
    assert adapter[adapter.index("--adapter") + 1] == "t=ad" and "--min-score" in adapter
    assert full[full.index("--model") + 1] == "ckpt" and "--adapter" not in full
    assert full[full.index("--baseline") + 1] == str(tmp_path / "reports" / "r" / "base")
