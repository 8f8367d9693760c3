"""A wedged engine ends the run: --stall-timeout and --load-timeout, with the fake engine's scripted hangs."""

from __future__ import annotations

import pytest
from plugin_helpers import distinct_questions

ANSWER = "<think>\nhm\n</think>\nThe answer is \\boxed{10}."
TIMEOUT = 240
"""Upper bound on any one run here; the tests pass in a fraction of it (it only stops a hang)."""


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["lone", "xdist"])
def test_wedged_engine_ends_the_run_and_a_rerun_generates_only_the_rest(fake_run, xdist):
    fake_run.write({"default": ANSWER, "hang_after": 3})
    result = fake_run.pytester.runpytest_subprocess(
        *fake_run.args("-m", "add and level1", "--stall-timeout", "2", *xdist), timeout=TIMEOUT
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*generation failed: engine fake made no progress for *s (--stall-timeout 2); 16 of 19 requests left*"
        ]
    )
    outcomes = result.parseoutcomes()
    assert (
        outcomes["errors"] == 17 and outcomes["passed"] + outcomes["failed"] == 3
    )  # 3 answered prompts, 3 items
    answered = [c["prompt"] for c in fake_run.calls()]
    assert len(answered) == 3
    (run_dir,) = fake_run.reports()
    assert (run_dir / "summary.json").exists()

    fake_run.write({"default": ANSWER})  # the engine works again; same answers, same fingerprint
    fake_run.run("-m", "add and level1", *xdist).assert_outcomes(passed=3, failed=17)
    rerun = [c["prompt"] for c in fake_run.calls()[3:]]
    assert len(rerun) == distinct_questions("add/level1") - 3
    assert not set(rerun) & set(answered)


def test_engine_start_up_that_never_ends(fake_run):
    fake_run.write({"default": ANSWER, "hang_on_load": True})
    result = fake_run.pytester.runpytest_subprocess(
        *fake_run.args("-m", "add and level1", "--load-timeout", "1"), timeout=TIMEOUT
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["*engine fake did not finish starting within 1s (--load-timeout); 19 of 19 requests left*"]
    )
    result.assert_outcomes(errors=20)
    assert fake_run.calls() == []
