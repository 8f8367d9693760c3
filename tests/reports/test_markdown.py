"""The Markdown verdict summary (pull-request comment, ``$GITHUB_STEP_SUMMARY``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalsuite.comparison import compare_runs_grouped
from evalsuite.gates import check_baseline, check_min_score
from evalsuite.metrics import summarize
from evalsuite.reports.markdown import STEP_SUMMARY_ENV, render_markdown, write_markdown
from evalsuite.types import ItemResult, RunRecord, SampleResult


def item(item_id: str, ok: bool, part: str, bench: str = "builtin") -> ItemResult:
    sample = SampleResult(0, "o", ok, float(ok), "1", "r", "stop", 5)
    return ItemResult(bench, item_id, {"part": part}, "p", "1", (sample,))


def records(b_right_after: int) -> tuple[RunRecord, RunRecord]:
    """Part "a" (60 items) gains 20 right answers; part "b" (20 items) goes from 14 right to ``b_right_after``."""
    base = [item(f"a{i}", i < 20, "a") for i in range(60)] + [item(f"b{i}", i < 14, "b") for i in range(20)]
    run = [item(f"a{i}", i < 40, "a") for i in range(60)]
    run += [item(f"b{i}", i < b_right_after, "b") for i in range(20)]
    base += [item(f"m{i}", i < 5, "x", "math|500") for i in range(10)]
    run += [item(f"m{i}", i < 5, "x", "math|500") for i in range(10)]
    return RunRecord("lora", {"model": "tiny-r1"}, tuple(run)), RunRecord(
        "base", {"model": "tiny-r1"}, tuple(base)
    )


def render(b_right_after: int, *, min_score: dict | None = None) -> str:
    run, base = records(b_right_after)
    cmp = compare_runs_grouped(run, base)
    gates = check_baseline(run, base, comparisons=cmp)
    gates += check_min_score(summarize(run.items), min_score or {})
    return render_markdown(gates, cmp, run=run, baseline=base)


def test_failed_gate_names_the_benchmark_and_its_worst_subgroup() -> None:
    text = render(2, min_score={"builtin/part=a": 0.5})
    lines = text.splitlines()
    assert lines[0] == "### evalsuite gate: ❌ FAILED"
    assert lines[2] == (
        "`lora` (tiny-r1) vs baseline `base` (tiny-r1) · metric avg@n · holm correction over 4 tests "
        "· fails on a drop > 0.02 with corrected p < 0.05"
    )
    table = lines[
        lines.index(
            "| Benchmark | Baseline | Candidate | Δ (95% CI) | p (corrected) | Worst subgroup | Verdict |"
        ) :
    ]
    assert table[1] == "|---|---:|---:|---:|---:|---|---|"
    assert table[2].startswith("| builtin | 0.425 | 0.525 | +0.100 (")
    assert table[2].endswith("| part=b -0.600 (p 0.00049) | ❌ dropped |")
    # A "|" in a name is escaped, so the table keeps its columns.
    assert table[3].startswith("| math\\|500 | 0.500 | 0.500 | +0.000 (+0.000, +0.000) | 1.000 | – | ✅ ok |")
    worst = lines[lines.index("**Worst subgroups**") + 4]
    assert worst.startswith("| builtin/part=b | 20 | 0.700 | 0.100 | -0.600 (")
    assert worst.endswith("| 12/0 | ❌ dropped |")
    assert "- ✅ builtin/part=a: avg@n 0.667 >= min 0.5" in lines
    assert "<details><summary>Gate messages</summary>" in lines
    assert any(line.startswith("- builtin: part=b dropped 0.600") for line in lines)
    assert text.endswith("</details>\n")


def test_benign_change_passes_and_lists_no_failure() -> None:
    text = render(13)  # part b: 14 -> 13 right, not significant
    assert text.startswith("### evalsuite gate: ✅ PASSED\n")
    assert "❌" not in text and "Gate messages" not in text
    assert "| builtin/part=b | 20 | 0.700 | 0.650 | -0.050 (" in text and text.rstrip().endswith("| ✅ ok |")


def test_without_a_baseline_only_thresholds_show() -> None:
    run, _ = records(2)
    text = render_markdown(check_min_score(summarize(run.items), {"builtin": 0.9}), [], run=run)
    assert text.splitlines()[0] == "### evalsuite gate: ❌ FAILED"
    assert "| Benchmark |" not in text and "- ❌ builtin: avg@n 0.525 < min 0.9" in text


def test_write_markdown_to_a_file_and_the_step_summary(tmp_path: Path) -> None:
    step = tmp_path / "step.md"
    step.write_text("earlier step\n")
    out = tmp_path / "sub" / "summary.md"
    written = write_markdown("### x\n", out, environ={STEP_SUMMARY_ENV: str(step)})
    assert written == [out, step]
    assert out.read_text() == "### x\n" and step.read_text() == "earlier step\n### x\n"
    assert write_markdown("y", None, environ={}) == []


@pytest.mark.parametrize("worst", [0, 1])
def test_worst_limits_the_subgroup_table(worst: int) -> None:
    run, base = records(2)
    cmp = compare_runs_grouped(run, base)
    text = render_markdown(check_baseline(run, base, comparisons=cmp), cmp, worst=worst)
    assert ("**Worst subgroups**" in text) is (worst > 0)
