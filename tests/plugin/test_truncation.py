"""Truncation as an outcome: xfailed "truncated at N tokens", counted in the summary, gated on request;
and --strict-format keeping the instruction's answer format."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

SCRIPT = {
    "responses": {
        "What is 6 + 5?": "<think>\nLet me add 6 and 5. 6 + 5 = 11",  # never closes: finish "stop"
        "What is 1 + 2?": "We add: 1 + 2 =",  # hits the limit before any answer
        "What is 0 + 7?": "\\boxed{7}, and to double-check",  # hits the limit after its answer
        "What is 3 + 8?": "The sum is 3 + 8 = 11.\n\n\\boxed{}",  # an empty box copied from the instruction
    },
    "length": ["What is 1 + 2?", "What is 0 + 7?"],
    "default": "<think>\nhm\n</think>\nThe answer is \\boxed{10}.",
}
# add/level1 has 20 items: "4 + 6", "3 + 7", "8 + 2" (answer 10), "0 + 7" and twice "3 + 8" are right;
# "6 + 5" and "1 + 2" are truncated; the other 12 are wrong.


@pytest.fixture
def truncating_run(fake_run):
    fake_run.write(SCRIPT)
    return fake_run


def test_truncated_items_are_xfailed_and_counted(truncating_run):
    result = truncating_run.run("-m", "add and level1", "-rx")
    result.assert_outcomes(passed=6, failed=12, xfailed=2)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "XFAIL *add/level1/0001* - truncated at * tokens (unclosed <think>)",
            "XFAIL *add/level1/0002* - truncated at * tokens",
            "*builtin: n=20 avg@n 0.300 *truncated 2/20 samples (10.0%), avg@n excluding truncated 0.333*",
        ]
    )
    (run_dir,) = truncating_run.reports()
    suite = ET.parse(run_dir / "junit.xml").getroot().find("testsuite")
    assert (suite.get("skipped"), suite.get("failures")) == ("2", "12")
    skipped = [case.find("skipped") for case in suite.iter("testcase") if case.find("skipped") is not None]
    assert [s.get("type") for s in skipped] == ["Truncated", "Truncated"]
    summary = json.loads((run_dir / "summary.json").read_text())
    overall = summary["summary"]["benchmarks"]["builtin"]["overall"]
    assert (overall["truncated"], overall["truncated_items"], overall["length_stopped"]) == (2, 2, 2)
    assert overall["excluding_truncated"]["avg@n"]["n"] == 18


def test_strict_pytest_fails_truncated_items(truncating_run):
    result = truncating_run.run("-m", "add and level1", "--strict")
    result.assert_outcomes(passed=6, failed=14)
    assert result.ret == 1


@pytest.mark.parametrize(("limit", "status"), [("0.05", 1), ("0.1", 0)])
def test_max_truncation_gate(truncating_run, limit, status):
    result = truncating_run.run("-m", "add and level1", "--max-truncation", limit)
    assert result.ret == status
    verdict = "FAIL" if status else "PASS"
    result.stdout.fnmatch_lines([f"{verdict} builtin: truncated 2 samples (10.0%) * max *"])


def test_max_truncation_outside_0_1_is_a_usage_error(truncating_run):
    result = truncating_run.run("--max-truncation", "5")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*--max-truncation 5*fraction in [[]0, 1[]]*"])


def test_strict_format_rejects_the_answer_outside_the_box(truncating_run):
    result = truncating_run.run("-m", "add and level1", "--strict-format")
    result.assert_outcomes(passed=4, failed=14, xfailed=2)
    (run_dir,) = truncating_run.reports()
    cases = {c.get("name"): c for c in ET.parse(run_dir / "junit.xml").getroot().iter("testcase")}
    assert cases["add/level1/0004"].find("failure").get("message") == (
        "wrong: extracted '', expected '11' (no answer found)"
    )
