"""vLLM's parallelism options, checked against the devices there are before any engine loads.

vLLM does the distributing (tensor, pipeline and data parallelism; the ``mp`` or ``ray``
executor); this module only checks the request and says how to fix it. See docs/scaling.md.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Any

from evalsuite.engines.base import EngineConfigError

BACKENDS = ("mp", "ray")


@dataclass(frozen=True)
class Parallelism:
    """How one vLLM engine spreads over devices."""

    tensor_parallel_size: int = 1
    """GPUs that split every layer (``--tensor-parallel-size``); keep it within one node."""
    pipeline_parallel_size: int = 1
    """Groups of layers on successive GPUs or nodes (``--pipeline-parallel-size``)."""
    data_parallel_size: int = 1
    """Independent model replicas (``--data-parallel-size``); a server option, see ``check_parallelism``."""
    distributed_executor_backend: str | None = None
    """``mp`` (processes on this node) or ``ray`` (a Ray cluster); None lets vLLM choose."""

    @property
    def devices(self) -> int:
        """Devices the layout occupies: TP × PP × DP."""
        return self.tensor_parallel_size * self.pipeline_parallel_size * self.data_parallel_size

    def llm_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``vllm.LLM`` for this layout (only those that differ from vLLM's defaults)."""
        kwargs: dict[str, Any] = {}
        if self.tensor_parallel_size > 1:
            kwargs["tensor_parallel_size"] = self.tensor_parallel_size
        if self.pipeline_parallel_size > 1:
            kwargs["pipeline_parallel_size"] = self.pipeline_parallel_size
        if self.data_parallel_size > 1:
            kwargs["data_parallel_size"] = self.data_parallel_size
        if self.distributed_executor_backend is not None:
            kwargs["distributed_executor_backend"] = self.distributed_executor_backend
        return kwargs


def check_parallelism(
    tp: int,
    pp: int,
    dp: int,
    backend: str | None,
    available_devices: int,
    *,
    in_process: bool = True,
) -> Parallelism:
    """The validated layout, or ``EngineConfigError`` saying how to fix it.

    Args:
        tp: Tensor-parallel size.
        pp: Pipeline-parallel size.
        dp: Data-parallel size.
        backend: ``mp``, ``ray`` or None (vLLM's choice: ``mp`` on one node).
        available_devices: Accelerators the layout may use: this machine's for ``mp``, the
            Ray cluster's for ``ray`` (``count_devices()`` counts both).
        in_process: Whether the layout is for the in-process ``vllm`` engine, whose ``vllm.LLM``
            refuses data parallelism (vLLM 0.32: "not supported for single-process usage").
    """
    sizes = {"--tensor-parallel-size": tp, "--pipeline-parallel-size": pp, "--data-parallel-size": dp}
    for option, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise EngineConfigError(f"{option} {value!r}: expected a whole number of at least 1")
    if backend is not None and backend not in BACKENDS:
        raise EngineConfigError(
            f"--distributed-executor-backend {backend!r}: expected one of {', '.join(BACKENDS)} "
            "(mp: processes on this node; ray: a Ray cluster started with `ray start`)"
        )
    if dp > 1 and in_process:
        raise EngineConfigError(
            f"--data-parallel-size {dp}: vLLM's in-process engine does not run data parallel in one "
            f"process; serve the model with `vllm serve MODEL --data-parallel-size {dp}` and pass "
            "--api-url, or start several servers and pass them all to --api-url (docs/scaling.md)"
        )
    layout = Parallelism(tp, pp, dp, backend)
    if layout.devices > available_devices:
        where = "the Ray cluster has" if backend == "ray" else "this machine has"
        hint = (
            "add nodes to the cluster (`ray start --address HEAD:6379` on each) or lower the sizes"
            if backend == "ray"
            else "lower the sizes, or spread over several nodes with --distributed-executor-backend ray "
            "(on CPU: one NUMA node per rank, or cores per rank in VLLM_CPU_OMP_THREADS_BIND, e.g. 0-15|16-31)"
        )
        raise EngineConfigError(
            f"--tensor-parallel-size {tp} x --pipeline-parallel-size {pp} x --data-parallel-size {dp} "
            f"needs {layout.devices} devices (GPUs; CPU cores on a machine without one) but {where} "
            f"{available_devices}; {hint}"
        )
    return layout


def count_devices(backend: str | None) -> int:
    """Devices a layout may use: the Ray cluster's GPUs for ``ray``, else this machine's GPUs
    (as ``CUDA_VISIBLE_DEVICES`` limits them, as it does for vLLM), else ``cpu_ranks()``."""
    if backend == "ray":
        try:
            import ray  # type: ignore[import-not-found]  # optional: only with the ray backend
        except ImportError:
            raise EngineConfigError(
                "--distributed-executor-backend ray needs Ray: pip install 'ray[default]', then "
                "`ray start --head` on one node and `ray start --address HEAD:6379` on the others"
            ) from None
        address = os.environ.get("RAY_ADDRESS", "auto")
        try:
            if not ray.is_initialized():
                ray.init(address=address, log_to_driver=False)
        except ConnectionError as exc:
            raise EngineConfigError(
                f"--distributed-executor-backend ray: no Ray cluster at {address} ({exc}); start one "
                "with `ray start --head` (and `ray start --address HEAD:6379` on the other nodes)"
            ) from None
        return int(ray.cluster_resources().get("GPU", 0)) or 1
    try:
        import torch
    except ImportError:
        return cpu_ranks()
    return torch.cuda.device_count() if torch.cuda.is_available() else cpu_ranks()


def cpu_ranks() -> int:
    """Workers vLLM's CPU backend can place on this machine.

    It binds each rank's threads to cores of their own: by default one NUMA node per rank
    ("Not enough allowed NUMA nodes to bind threads of 2 local CPUWorkers" otherwise), or the
    ``|``-separated core lists of ``VLLM_CPU_OMP_THREADS_BIND`` (e.g. ``0-15|16-31``).
    """
    bind = os.environ.get("VLLM_CPU_OMP_THREADS_BIND", "auto")
    if bind not in ("auto", "nobind", ""):
        return len(bind.split("|"))
    return max(1, len(glob.glob("/sys/devices/system/node/node[0-9]*")))
