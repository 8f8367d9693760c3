"""kill -9 mid-run, two runs sharing one cache, a full disk: nothing lost, nothing generated twice.

Runs are real ``pytest`` child processes with the fake engine, slowed by its script's ``delay_s``
so that they can be killed or overlapped mid-generation; engine requests are counted in the
script's ``.calls`` file, completions in the SQLite cache itself.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from plugin_helpers import distinct_questions

ANSWER = "<think>\nhm\n</think>\nThe answer is \\boxed{10}."
SELECT = ("-m", "add and level1")
BOUND_S = 300
"""Upper bound on any wait here (a hang fails the test instead of blocking the suite)."""


def start(fake_run, *args: str, script: Path | None = None) -> subprocess.Popen:
    """A run in its own process group (so kill -9 reaches its xdist workers too), output to a file."""
    argv = fake_run.args(*SELECT, *args)
    if script is not None:
        argv[argv.index("--model") + 1] = str(script)
    output = fake_run.pytester.path / f"out-{time.monotonic_ns()}.txt"
    with output.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", *argv],
            cwd=fake_run.pytester.path,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    proc.output = output  # type: ignore[attr-defined]
    return proc


def finish(proc: subprocess.Popen) -> int:
    try:
        return proc.wait(BOUND_S)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def kill_9(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(BOUND_S)


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + BOUND_S
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def cache_db(fake_run) -> Path:
    return fake_run.pytester.path / ".evalsuite_cache" / "completions.sqlite"


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def stored_prompts(db: Path) -> set[str]:
    """Prompts whose completion is in the cache."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT DISTINCT p.prompt FROM plan p JOIN completions c ON c.key = p.key WHERE p.prompt IS NOT NULL"
        )
        return {r[0] for r in rows}


def run_started(db: Path, run_id: str) -> bool:
    if not db.exists():
        return False
    try:
        with sqlite3.connect(db, timeout=30) as conn:
            return conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is not None
    except sqlite3.OperationalError:  # the tables are being created
        return False


def reported_items(fake_run, run_id: str) -> int:
    details = fake_run.pytester.path / "reports" / run_id / "details" / "builtin.jsonl"
    return len(details.read_text().splitlines())


def test_kill_9_during_generation_then_the_same_command(fake_run):
    fake_run.write({"default": ANSWER, "delay_s": 0.3})
    proc = start(fake_run, "--run-id", "killed")
    wait_until(lambda: len(fake_run.calls()) >= 6)
    kill_9(proc)
    db = cache_db(fake_run)
    assert integrity(db) == "ok"
    asked = [c["prompt"] for c in fake_run.calls()]
    stored = stored_prompts(db)
    assert stored <= set(asked) and len(asked) - len(stored) <= 1  # at most the one in flight is lost

    fake_run.write({"default": ANSWER})  # same answers, no delay: same fingerprint
    assert finish(start(fake_run, "--run-id", "rerun")) == 0
    again = [c["prompt"] for c in fake_run.calls()[len(asked) :]]
    print(f"kill -9 of the run: {len(asked)} asked, {len(stored)} stored, rerun generated {len(again)}")
    assert not set(again) & stored  # no completed generation generated twice
    assert len(again) == distinct_questions("add/level1") - len(stored)  # and every other one generated
    assert integrity(db) == "ok"
    assert reported_items(fake_run, "rerun") == 20


KILLING_EVAL_MODULE = """
import os, signal
from pathlib import Path
from evalsuite.testing import check_item

def test_item(evaluation, request):
    marker = Path("killed-once")
    if request.node.nodeid.endswith("[builtin/add/level1/0005]") and not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)  # this xdist worker dies mid-verification
    check_item(evaluation, request)
"""


def test_kill_9_of_an_xdist_worker_during_verification(fake_run):
    fake_run.pytester.makepyfile(test_eval=KILLING_EVAL_MODULE)
    first = fake_run.run(*SELECT, "-n", "2", "--run-id", "first")
    assert (fake_run.pytester.path / "killed-once").exists()
    first.stdout.fnmatch_lines(
        ["*replacing crashed worker gw*", "*builtin/add/level1/0005*worker 'gw*' crashe*"]
    )
    assert first.ret == pytest.ExitCode.TESTS_FAILED
    n = distinct_questions("add/level1")
    assert len(fake_run.calls()) == n
    second = fake_run.run(*SELECT, "-n", "2", "--run-id", "second")
    second.assert_outcomes(passed=3, failed=17)
    assert len(fake_run.calls()) == n  # nothing generated again
    assert integrity(cache_db(fake_run)) == "ok"
    assert reported_items(fake_run, "second") == 20


def test_two_runs_of_one_model_share_the_cache_and_generate_once(fake_run):
    fake_run.write({"default": ANSWER, "delay_s": 1.0})
    db = cache_db(fake_run)
    a = start(fake_run, "--run-id", "a")
    wait_until(lambda: len(fake_run.calls()) >= 2)  # a claimed every key and is generating
    b = start(fake_run, "--run-id", "b")
    wait_until(lambda: run_started(db, "b"))
    assert a.poll() is None  # b planned while a was still generating: they overlap
    assert finish(a) == 0 and finish(b) == 0
    assert len(fake_run.calls()) == distinct_questions("add/level1")  # each completion generated once
    assert integrity(db) == "ok"
    assert reported_items(fake_run, "a") == reported_items(fake_run, "b") == 20


def test_a_killed_run_does_not_block_the_run_sharing_its_cache(fake_run):
    """The killed run's claims expire (their lease is 6 heartbeats) and the other run takes them over."""
    fake_run.write({"default": ANSWER, "delay_s": 1.0})
    db = cache_db(fake_run)
    a = start(fake_run, "--run-id", "a", "--stall-timeout", "2")
    wait_until(lambda: len(fake_run.calls()) >= 2)
    b = start(fake_run, "--run-id", "b", "--stall-timeout", "2")
    wait_until(lambda: run_started(db, "b"))
    kill_9(a)
    asked_by_a = len(fake_run.calls())
    stored = stored_prompts(db)
    assert finish(b) == 0
    print(
        f"one of two runs killed: a asked {asked_by_a}, stored {len(stored)}; b generated {len(fake_run.calls()) - asked_by_a}"
    )
    # b generates exactly what a had not stored (a's one request in flight included), nothing twice.
    assert len(fake_run.calls()) - asked_by_a == distinct_questions("add/level1") - len(stored)
    assert integrity(db) == "ok"
    assert reported_items(fake_run, "b") == 20


def test_two_runs_of_different_models_at_once(fake_run):
    fake_run.write({"default": ANSWER, "delay_s": 0.2})
    other = fake_run.pytester.path / "other.json"
    other.write_text('{"default": "\\\\boxed{7}", "delay_s": 0.2}')
    a = start(fake_run, "--run-id", "a")
    b = start(fake_run, "--run-id", "b", script=other)
    assert finish(a) == 0 and finish(b) == 0
    n = distinct_questions("add/level1")
    assert len(fake_run.calls()) == n
    assert len(Path(f"{other}.calls").read_text().splitlines()) == n
    assert integrity(cache_db(fake_run)) == "ok"
    assert reported_items(fake_run, "a") == reported_items(fake_run, "b") == 20


# --- a full disk ------------------------------------------------------------------------------
# A real ENOSPC: a small tmpfs mounted for the test and filled mid-run (root runs the tests, so
# chmod would not stop a write; a full file system does). Skipped where mounting is not allowed.


@pytest.fixture
def small_fs(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], capture_output=True
        ).returncode
    ):
        pytest.skip("cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN)")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(mnt: Path) -> Path:
    """Write zeros until the file system is full; the filler file, to delete later."""
    filler = mnt / "filler"
    with filler.open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * (1 << 16))
                fh.flush()
        except OSError:
            pass
    return filler


def test_disk_full_under_the_cache_mid_run(fake_run, small_fs):
    fake_run.write({"default": ANSWER, "delay_s": 0.3})
    db = small_fs / "cache" / "completions.sqlite"
    args = ("--cache-dir", str(db.parent), "--stall-timeout", "5")
    proc = start(fake_run, *args, "--run-id", "full")
    wait_until(lambda: len(fake_run.calls()) >= 4)
    filler = fill(small_fs)
    assert finish(proc) == pytest.ExitCode.TESTS_FAILED
    output = proc.output.read_text()  # type: ignore[attr-defined]
    assert f"cannot store a completion in the cache {db} (database or disk is full)" in output
    assert integrity(db) == "ok"
    stored = stored_prompts(db)
    assert 0 < len(stored) < distinct_questions("add/level1")  # the disk filled mid-generation

    filler.unlink()
    asked = len(fake_run.calls())
    fake_run.write({"default": ANSWER})
    assert finish(start(fake_run, *args, "--run-id", "after")) == 0
    assert len(fake_run.calls()) - asked == distinct_questions("add/level1") - len(stored)
    assert integrity(db) == "ok"
    assert reported_items(fake_run, "after") == 20


def test_report_directory_full_mid_run(fake_run, small_fs):
    fake_run.write({"default": ANSWER, "delay_s": 0.3})
    proc = start(fake_run, "--report-dir", str(small_fs / "reports"), "--run-id", "r")
    wait_until(lambda: len(fake_run.calls()) >= 4)
    fill(small_fs)
    assert finish(proc) == pytest.ExitCode.TESTS_FAILED
    output = proc.output.read_text()  # type: ignore[attr-defined]
    assert f"error: cannot write the reports to {small_fs / 'reports' / 'r'}" in output
    assert "No space left on device" in output
    db = cache_db(fake_run)
    assert integrity(db) == "ok"
    assert len(stored_prompts(db)) == distinct_questions("add/level1")  # generation itself finished


def test_report_directory_that_cannot_exist_is_a_usage_error(fake_run):
    blocker = fake_run.pytester.path / "not-a-dir"
    blocker.write_text("a file where the report directory should be")
    result = fake_run.run(*SELECT, "--report-dir", str(blocker / "reports"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--report-dir {blocker / 'reports'}: cannot create the run directory*"])
    assert fake_run.calls() == []
