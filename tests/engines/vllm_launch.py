"""Start and stop ``vllm.entrypoints.openai.api_server`` processes on 127.0.0.1 (CPU) for tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

VLLM_STARTUP_S = float(os.environ.get("EVALSUITE_VLLM_STARTUP_S", "900"))


@dataclass(frozen=True)
class VLLMServer:
    """A running ``vllm.entrypoints.openai.api_server``."""

    url: str
    """Base URL with ``/v1``."""
    model_dir: Path
    """The checkpoint it serves (also its model name)."""
    startup_s: float
    """Seconds from launch until ``/v1/models`` answered."""
    log: Path
    """The server's combined stdout/stderr."""
    proc: subprocess.Popen[bytes]
    """The server process (leader of its own process group)."""


def launch(model_dir: Path, port: int, log: Path) -> VLLMServer:
    """Start a server of ``model_dir`` on ``port`` and wait until it lists the model; fails the test otherwise."""
    cmd = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(model_dir), "--dtype", "float32", "--max-model-len", "1024",
        "--enforce-eager", "--seed", "0", "--port", str(port), "--host", "127.0.0.1",
    ]  # fmt: skip
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
    env.pop("VLLM_API_KEY", None)  # the server would demand it from every client
    start = time.monotonic()
    with log.open("wb") as out:
        # A session of its own, so that stop() reaches the server and its engine workers together.
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        while True:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace")[-3000:]
                pytest.fail(f"vLLM server exited with {proc.returncode} during start-up:\n{tail}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() - start > VLLM_STARTUP_S:
                pytest.fail(
                    f"vLLM server not up after {VLLM_STARTUP_S:g} s (EVALSUITE_VLLM_STARTUP_S); log: {log}"
                )
            time.sleep(1)
    except BaseException:
        stop(proc)
        raise
    return VLLMServer(url=url, model_dir=model_dir, startup_s=time.monotonic() - start, log=log, proc=proc)


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the server's whole process group at once, as a crash or the OOM killer would."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    proc.wait(timeout=30)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, SIGKILL it if still alive after 30 s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # also reaches workers left behind if the server died
        proc.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        kill(proc)
