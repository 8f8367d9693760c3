"""kill -9 of vLLM's engine core mid-run: the run ends within the stall timeout, the unfinished items
are errors, and the same command again generates only those."""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY = REPO_ROOT / "fixtures" / "models" / "tiny-r1"
EVAL_MODULE = (REPO_ROOT / "tests" / "benchmarks" / "test_eval.py").read_text()
BOUND_S = 900
"""Upper bound on one run (vLLM start-up on a busy CPU); a hang fails the test instead of blocking."""
LIMIT = 40

pytestmark = [
    pytest.mark.slow,
    pytest.mark.vllm,
    pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="needs vllm"),
    pytest.mark.skipif(not (TINY / "config.json").is_file(), reason="tiny model absent"),
]


def _args(run_id: str) -> list[str]:
    return [
        "--engine", "vllm", "--model", str(TINY), "--limit", str(LIMIT), "--max-tokens", "256",
        "--max-model-len", "1024", "--stall-timeout", "20", "--run-id", run_id, "-p", "no:cacheprovider",
        # One sequence at a time: generation takes seconds even on a quiet machine, so the kill
        # lands mid-run (batched, 40 items finish in half a second).
        "--engine-options", "max_num_seqs=1",
    ]  # fmt: skip


def _stored(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=30) as conn:
            return conn.execute("SELECT COUNT(*) FROM completions").fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0


def _engine_cores(pid: int) -> list[psutil.Process]:
    """vLLM's engine core: the descendants whose name or title says so (all of them: a kill that
    missed the one generating once let the run finish untouched; the engine log then showed the
    engine core stopping on the run's own SIGTERM)."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            if "EngineCore" in child.name() or "EngineCore" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


def _generation_line(output: str) -> tuple[int, int]:
    match = re.search(r"generation: (\d+) generated, (\d+) from cache", output)
    assert match, output[-3000:]
    return int(match[1]), int(match[2])


def test_kill_9_of_the_engine_core_ends_the_run_and_a_rerun_generates_only_the_rest(pytester):
    pytester.makepyfile(test_eval=EVAL_MODULE)
    db = pytester.path / ".evalsuite_cache" / "completions.sqlite"
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
    out = pytester.path / "killed.txt"
    with out.open("w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", *_args("killed")],
            cwd=pytester.path, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + BOUND_S
        while _stored(db) < 3:  # mid-generation: some completions stored, most not
            assert proc.poll() is None, out.read_text()[-3000:]
            assert time.monotonic() < deadline, "vLLM did not start generating"
            time.sleep(0.05)
        cores = _engine_cores(proc.pid)
        assert cores, "no EngineCore process under the run"
        killed_at = time.monotonic()
        for core in cores:
            core.send_signal(signal.SIGKILL)
        _, alive = psutil.wait_procs(cores, timeout=30)
        assert not alive, f"engine core still alive after SIGKILL: {alive}"
        proc.wait(BOUND_S)
        ended_s = time.monotonic() - killed_at
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    output = out.read_text()
    stored = _stored(db)
    print(f"engine core killed: run ended {ended_s:.1f}s later, {stored} of {LIMIT} completions stored")
    assert proc.returncode == pytest.ExitCode.TESTS_FAILED, output[-3000:]
    # vLLM either raises (the engine is dead: "generation failed") or returns the requests in flight
    # as aborted (error completions): both end the run as infrastructure errors, never as answers.
    assert "generation failed:" in output or "could not be generated (infrastructure errors)" in output
    assert stored < LIMIT
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        planned = conn.execute("SELECT COUNT(DISTINCT key) FROM plan WHERE run_id = 'killed'").fetchone()[0]
        # Requests (not distinct prompts) answered from the cache on the rerun: repeated questions count twice.
        cached = conn.execute(
            "SELECT COUNT(*) FROM plan WHERE run_id = 'killed' AND key IN (SELECT key FROM completions)"
        ).fetchone()[0]

    rerun = pytester.run(sys.executable, "-m", "pytest", *_args("rerun"), timeout=BOUND_S)
    generated, from_cache = _generation_line(rerun.stdout.str())
    assert (generated, from_cache) == (planned - stored, cached)
    assert "generation failed" not in rerun.stdout.str()
