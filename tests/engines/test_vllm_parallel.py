"""vLLM's own parallelism through the suite, where this machine allows it: tensor parallel over two
CPU ranks (one per core) decodes exactly as one rank; the Ray executor when Ray is installed."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_local_engines import TINY, evaluate, needs_tiny, needs_vllm  # noqa: E402

pytestmark = [needs_tiny, needs_vllm, pytest.mark.slow, pytest.mark.vllm]
COMMON = ("--engine", "vllm", "--model", str(TINY), "--limit", "4", "--max-tokens", "16", "--no-cache")


def outputs(run: dict) -> dict[str, str]:
    return {f"{i['benchmark']}/{i['item_id']}": i["samples"][0]["output"] for i in run["items"]}


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="tensor parallel on CPU needs a core per rank")
def test_tensor_parallel_over_two_cpu_ranks_decodes_as_one_rank(pytester, monkeypatch):
    _, one = evaluate(pytester, *COMMON)
    (pytester.path / "reports" / "r").rename(pytester.path / "reports" / "tp1")
    # vLLM binds one OpenMP rank per NUMA node by default; this machine has one node: a core per rank.
    monkeypatch.setenv("VLLM_CPU_OMP_THREADS_BIND", "0|1")
    result, two = evaluate(pytester, *COMMON, "--tensor-parallel-size", "2")
    assert result.ret == 0, result.stdout.str()[-3000:]
    assert two["meta"]["options"]["tensor_parallel_size"] == 2
    assert outputs(two) == outputs(one) and len(outputs(one)) == 4


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is not installed (pip install ray)")
def test_ray_executor_decodes_as_the_default_executor(pytester):
    _, default = evaluate(pytester, *COMMON)
    (pytester.path / "reports" / "r").rename(pytester.path / "reports" / "mp")
    result, ray = evaluate(pytester, *COMMON, "--distributed-executor-backend", "ray")
    assert result.ret == 0, result.stdout.str()[-3000:]
    assert outputs(ray) == outputs(default)
