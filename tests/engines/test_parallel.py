"""vLLM parallelism options: checked against the devices there are, with errors that say what to do."""

from __future__ import annotations

import glob

import pytest

from evalsuite.engines.base import EngineConfigError
from evalsuite.engines.parallel import Parallelism, check_parallelism, count_devices, cpu_ranks


@pytest.mark.parametrize(
    ("tp", "pp", "dp", "backend", "devices", "in_process", "kwargs"),
    [
        (1, 1, 1, None, 1, True, {}),
        (8, 1, 1, "mp", 8, True, {"tensor_parallel_size": 8, "distributed_executor_backend": "mp"}),
        (
            4,
            2,
            1,
            "ray",
            16,
            True,
            {"tensor_parallel_size": 4, "pipeline_parallel_size": 2, "distributed_executor_backend": "ray"},
        ),
        (2, 1, 4, None, 8, False, {"tensor_parallel_size": 2, "data_parallel_size": 4}),
    ],
)
def test_layouts_that_fit(tp, pp, dp, backend, devices, in_process, kwargs):
    layout = check_parallelism(tp, pp, dp, backend, devices, in_process=in_process)
    assert layout == Parallelism(tp, pp, dp, backend)
    assert layout.devices == tp * pp * dp
    assert layout.llm_kwargs() == kwargs


@pytest.mark.parametrize(
    ("args", "in_process", "message"),
    [
        (
            (8, 1, 1, None, 1),
            True,
            "--tensor-parallel-size 8 x --pipeline-parallel-size 1 x --data-parallel-size 1 needs 8 devices (GPUs; CPU cores on a machine without one) but this machine has 1; lower the sizes, or spread over several nodes with --distributed-executor-backend ray",
        ),
        (
            (4, 4, 1, "ray", 8),
            True,
            "needs 16 devices (GPUs; CPU cores on a machine without one) but the Ray cluster has 8; add nodes to the cluster (`ray start --address HEAD:6379` on each)",
        ),
        (
            (2, 1, 8, "mp", 8),
            False,
            "needs 16 devices (GPUs; CPU cores on a machine without one) but this machine has 8",
        ),
        (
            (1, 1, 2, None, 8),
            True,
            "--data-parallel-size 2: vLLM's in-process engine does not run data parallel in one process; serve the model with `vllm serve MODEL --data-parallel-size 2`",
        ),
        ((0, 1, 1, None, 8), True, "--tensor-parallel-size 0: expected a whole number of at least 1"),
        ((1, 2.5, 1, None, 8), True, "--pipeline-parallel-size 2.5: expected a whole number"),
        ((1, 1, True, None, 8), True, "--data-parallel-size True: expected a whole number"),
        ((1, 1, 1, "slurm", 8), True, "--distributed-executor-backend 'slurm': expected one of mp, ray"),
    ],
)
def test_layouts_that_do_not_fit_say_how_to_fix_them(args, in_process, message):
    with pytest.raises(EngineConfigError) as info:
        check_parallelism(*args, in_process=in_process)
    assert message in str(info.value)


def test_this_machine_counts_at_least_one_device():
    assert count_devices("mp") >= 1 and count_devices(None) == count_devices("mp")


@pytest.mark.parametrize(("bind", "ranks"), [("0|1", 2), ("0-15|16-31|32-47", 3), ("0-7", 1)])
def test_cpu_ranks_follow_vllms_thread_binding(monkeypatch, bind, ranks):
    monkeypatch.setenv("VLLM_CPU_OMP_THREADS_BIND", bind)
    assert cpu_ranks() == ranks
    monkeypatch.setenv("VLLM_CPU_OMP_THREADS_BIND", "auto")  # one rank per NUMA node
    assert cpu_ranks() == max(1, len(glob.glob("/sys/devices/system/node/node[0-9]*")))
