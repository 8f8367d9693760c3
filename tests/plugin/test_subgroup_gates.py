"""``--baseline`` gates every subgroup the items carry: a collapse in one skill fails the session
even when the benchmark's score rises; a benign change passes. Also ``--correction``,
``--min-group-size``, subgroup ``--min-score``, ``--summary-md`` and ``--group-by``."""

from __future__ import annotations

import json

import pytest

from evalsuite.benchmarks.builtin import iter_problems

SELECT = ("-m", "add or expr")
"""120 items: tasks add and expr, levels 1-3 (a family of 6 tests: builtin, 2 tasks, 3 levels)."""


def script(right: dict[str, int]) -> dict:
    """A fake-engine script answering right the first ``right[task]`` items of each listed task."""
    seen: dict[str, int] = {}
    responses = {}
    for task, _level, _index, question, answer in iter_problems():
        if task not in right:
            continue
        seen[task] = seen.get(task, 0) + 1
        if seen[task] <= right[task]:
            responses[question] = f"<think>\nok\n</think>\n\\boxed{{{answer}}}"
    return {"responses": responses, "default": "<think>\nhm\n</think>\n\\boxed{-1}"}


@pytest.fixture
def base_run(fake_run):
    """A baseline run: 12 expr items right, 10 add items right (of 60 each)."""
    fake_run.write(script({"expr": 12, "add": 10}))
    result = fake_run.run(*SELECT, "--run-id", "base")
    assert result.ret == 0, result.stdout.str()[-2000:]
    return fake_run.pytester.path / "reports" / "base"


def test_a_collapsed_skill_fails_the_session_while_the_score_rises(fake_run, base_run, tmp_path, monkeypatch):
    step = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    fake_run.write(script({"expr": 0, "add": 40}))  # 22 -> 40 right overall, expr 12 -> 0
    md = tmp_path / "gate.md"
    result = fake_run.run(*SELECT, "--run-id", "tuned", "--baseline", str(base_run), "--summary-md", str(md))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "FAIL builtin: task=expr dropped 0.200 (0.200 → 0.000) vs baseline, p=* (holm over 6 tests, raw *) < 0.05,"
            " CI *; 12 of 60 items flipped to wrong, 0 to right [[]expr/level1/0000, *]; whole benchmark +0.150"
            " (0.183 → 0.333)*",
            "exit status 1: gate failed: builtin: task=expr dropped*",
        ]
    )
    text = md.read_text()
    assert text.startswith("### evalsuite gate: ❌ FAILED\n")
    assert "| builtin/task=expr | 60 | 0.200 | 0.000 |" in text
    assert step.read_text() == text  # appended to the (empty) GitHub step summary too
    summary = json.loads((fake_run.pytester.path / "reports" / "tuned" / "summary.json").read_text())
    assert summary["passed"] is False
    names = [c["name"] for c in summary["baseline"]["comparisons"]]
    assert names[:2] == ["builtin", "builtin/task=add"] and "builtin/level=level3" in names
    gate = summary["gates"][0]["details"]
    assert gate["dropped"] == ["builtin/task=expr"] and gate["groups"][0]["name"] == "builtin/task=expr"


def test_a_benign_change_passes(fake_run, base_run, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    fake_run.write(script({"expr": 11, "add": 20}))  # add +10 right, expr -1: noise
    result = fake_run.run(*SELECT, "--run-id", "benign", "--baseline", str(base_run))
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(
        [
            "PASS builtin: avg@n +0.075 (0.183 → 0.258) vs baseline, *no subgroup dropped significantly (5 tested)*"
        ]
    )


def test_correction_and_group_size_change_what_is_gated(fake_run, base_run):
    # expr 12 -> 8 right (4 lost): raw mid-p 0.031 fails uncorrected, not after Holm over 6 tests.
    fake_run.write(script({"expr": 8, "add": 10}))
    holm = fake_run.run(*SELECT, "--run-id", "holm", "--baseline", str(base_run))
    assert holm.ret == 0
    none = fake_run.run(*SELECT, "--run-id", "none", "--baseline", str(base_run), "--correction", "none")
    assert none.ret == pytest.ExitCode.TESTS_FAILED
    # The 4 lost items are all level 1: that level dropped more (0.100 of 40 items), so it leads.
    none.stdout.fnmatch_lines(
        [
            "FAIL builtin: level=level1 dropped 0.100 (0.550 → 0.450) vs baseline, p=0.0312 < 0.05*"
            "also dropped: task=expr -0.067 p=0.0312, whole benchmark -0.033 p=0.0312 [[]4 worse, 0 better of 120*"
        ]
    )
    # With --max-drop 0.05 the benchmark (-0.033) is within bounds, task=expr (-0.067) is not...
    wide = ("--baseline", str(base_run), "--correction", "none", "--max-drop", "0.05")
    assert fake_run.run(*SELECT, "--run-id", "wide", *wide).ret == pytest.ExitCode.TESTS_FAILED
    # ...unless subgroups of fewer than 61 paired items are only reported (tasks 60, levels 40).
    small = fake_run.run(*SELECT, "--run-id", "small", *wide, "--min-group-size", "61")
    assert small.ret == 0
    small.stdout.fnmatch_lines(["PASS builtin:*(0 tested, 5 too small to gate)*"])


def test_min_score_on_a_subgroup(fake_run):
    fake_run.write(script({"expr": 3, "add": 30}))
    ok = fake_run.run(*SELECT, "--min-score", "builtin/add=0.5,builtin/task=expr=0.05")
    assert ok.ret == 0
    ok.stdout.fnmatch_lines(
        ["PASS builtin/task=add: avg@n 0.500 >= min 0.5", "PASS builtin/task=expr: avg@n 0.050 >= min 0.05"]
    )
    bad = fake_run.run(*SELECT, "--min-score", "builtin/expr=0.1")
    assert bad.ret == pytest.ExitCode.TESTS_FAILED
    bad.stdout.fnmatch_lines(["FAIL builtin/task=expr: avg@n 0.050 < min 0.1 (95% CI *, n=60)"])


def test_group_by_turns_custom_fields_into_gated_groups(fake_run):
    data = fake_run.pytester.path / "data.jsonl"
    rows = [
        {"question": f"q{i} say {i}", "answer": str(i), "topic": "a" if i % 2 else "b"} for i in range(40)
    ]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    fake_run.write({"responses": {f"q{i} say": f"\\boxed{{{i}}}" for i in range(40)}})
    common = ("--data", str(data), "--group-by", "topic", "--verifier", "exact")
    assert fake_run.run(*common, "--run-id", "base").ret == 0
    # The new model loses every "b" item (20, all right before) and keeps "a".
    fake_run.write(
        {"responses": {f"q{i} say": f"\\boxed{{{i}}}" for i in range(40) if i % 2}, "default": "\\boxed{-1}"}
    )
    result = fake_run.run(*common, "--baseline", str(fake_run.pytester.path / "reports" / "base"))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["FAIL custom: topic=b dropped 1.000 (1.000 → 0.000)*"])
