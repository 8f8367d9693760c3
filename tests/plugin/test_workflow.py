"""The example CI workflow: valid GitHub Actions, and its gate step runs here on the shipped model and adapter.

Install steps and the pull-request comment (network) are skipped; ``${{ ... }}`` expressions and the
job's ``env`` are substituted; ``EVAL_OPTIONS`` is narrowed to a few items so the real command line
runs in a minute on CPU.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = REPO_ROOT / ".github" / "workflows" / "eval-gate.yml"
TINY = REPO_ROOT / "fixtures" / "models" / "tiny-r1"
ADAPTER = REPO_ROOT / "fixtures" / "adapters" / "tiny-r1-lora"
LOCAL_OPTIONS = "--engine hf --benchmark builtin --max-tokens 160 --items builtin/add/level2/000*"
"""Ten ``add`` level-2 items: where the shipped adapter changes the most (0.45 → 0.80 on the level)."""


def load() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def test_workflow_is_a_pull_request_gate() -> None:
    wf = load()
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` key as true
    assert "pull_request" in on
    (job,) = wf["jobs"].values()
    uses = [s.get("uses", "") for s in job["steps"]]
    assert any(u.startswith("actions/checkout@") for u in uses)
    cache = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/cache@"))
    assert cache["with"]["path"] == ".evalsuite_cache"
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()"
    assert "junit.xml" in upload["with"]["path"] and "report.html" in upload["with"]["path"]
    assert any("evalsuite gate" in s.get("run", "") for s in job["steps"])
    assert any("gh pr comment" in s.get("run", "") for s in job["steps"])
    permissions = job.get("permissions") or wf["permissions"]
    assert permissions["pull-requests"] == "write"  # the comment step needs it


def gate_steps(job: dict) -> list[dict]:
    """The steps to run locally: the ``run:`` steps that call evalsuite (not installs, not the PR comment)."""
    return [s for s in job["steps"] if "run" in s and "evalsuite " in s["run"]]


def substitute(text: str, env: dict[str, str]) -> str:
    """``${{ github.run_id }}`` and friends → local values; ``${{ env.X }}`` → ``env[X]``."""

    def expr(m: re.Match[str]) -> str:
        name = m.group(1).strip()
        if name.startswith("env."):
            return env[name[4:]]
        return {"github.run_id": "local", "github.sha": "local", "runner.os": "Linux"}.get(name, "")

    return re.sub(r"\$\{\{(.*?)\}\}", expr, text)


@pytest.mark.slow
@pytest.mark.skipif(
    not (TINY / "config.json").is_file() or not (ADAPTER / "adapter_config.json").is_file(),
    reason="tiny model or its adapter absent",
)
@pytest.mark.skipif(importlib.util.find_spec("peft") is None, reason="needs transformers and peft")
def test_workflow_gate_step_runs_locally(tmp_path: Path) -> None:
    job = next(iter(load()["jobs"].values()))
    env = {k: substitute(str(v), {}) for k, v in job["env"].items()}
    env["EVAL_OPTIONS"] = LOCAL_OPTIONS
    (tmp_path / "fixtures").symlink_to(REPO_ROOT / "fixtures")
    bin_dir = tmp_path / "bin"  # `evalsuite` as the installed console script would be
    bin_dir.mkdir()
    shim = bin_dir / "evalsuite"
    shim.write_text(f'#!/bin/sh\nexec "{shutil.which("python") or "python"}" -m evalsuite.cli "$@"\n')
    shim.chmod(0o755)
    run_env = {
        **os.environ,
        **env,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PYTHONPATH": str(REPO_ROOT),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "step_summary.md"),
    }
    steps = gate_steps(job)
    assert steps, "no evalsuite step in the workflow"
    for step in steps:
        script = substitute(step["run"], env)
        proc = subprocess.run(
            ["bash", "-e", "-c", script],
            cwd=tmp_path,
            env=run_env,
            capture_output=True,
            text=True,
            timeout=1200,
        )
        # 0: the adapter passes, 1: it regresses significantly; anything else is a broken step.
        assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "evalsuite gate: exit" in proc.stdout
    run_dir = tmp_path / "reports" / env["GATE_RUN_ID"]
    # What the upload step collects, and what the comment step posts, exist.
    for name in ("base", "tuned"):
        assert (run_dir / name / "junit.xml").is_file() and (run_dir / name / "report.html").is_file()
    summary = (run_dir / "summary.md").read_text()
    assert "| tuned | builtin |" in summary
    assert (tmp_path / "step_summary.md").read_text().strip() == summary.strip()
