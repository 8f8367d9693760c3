"""transformers engine: batched ``generate`` with left padding, for machines without vLLM.

CPU runs in float32, GPU in bf16/fp16. Requests are sorted by prompt length so a batch wastes
little padding, and each finished batch is handed back at once (so the cache fills as we go).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

from evalsuite.engines.base import EngineConfig, EngineConfigError, EngineError, register_engine
from evalsuite.engines.local import LocalCheckpoint, on_gpu
from evalsuite.types import Completion, FinishReason, Message, Request


class HFEngine:
    name = "hf"

    def __init__(self, config: EngineConfig) -> None:
        self.checkpoint = LocalCheckpoint(config)
        self.config = config
        self.batch_size = int(config.options.get("batch_size", 16))

    def fingerprint(self) -> str:
        return self.checkpoint.fingerprint()

    def render(self, messages: Sequence[Message]) -> str:
        return self.checkpoint.render(messages)

    def context_length(self) -> int | None:
        return self.checkpoint.context_length()

    def count_tokens(self, prompt: str) -> int:
        return self.checkpoint.count_tokens(prompt)

    @functools.cached_property
    def _model(self) -> Any:
        import torch
        from transformers import AutoModelForCausalLM

        gpu = on_gpu()
        dtype = getattr(torch, self.checkpoint.torch_dtype_name(on_gpu=gpu))
        try:
            model: Any = AutoModelForCausalLM.from_pretrained(
                self.checkpoint.path, dtype=dtype, trust_remote_code=self.config.trust_remote_code
            )
        except Exception as exc:
            raise EngineError(f"--model {self.config.model}: transformers cannot load it ({exc})") from exc
        if self.checkpoint.adapter is not None:
            try:
                from peft import PeftModel
            except ImportError as exc:
                raise EngineConfigError("--adapter needs peft: pip install 'evalsuite[hf]'") from exc
            try:
                model = PeftModel.from_pretrained(model, str(self.checkpoint.adapter))
            except Exception as exc:
                raise EngineConfigError(f"--adapter {self.config.adapter}: cannot apply it ({exc})") from exc
        return model.to("cuda" if gpu else "cpu").eval()  # type: ignore[arg-type]

    def computes_on_cpu(self) -> bool:
        return not on_gpu()

    def load(self) -> None:
        _ = self._model, self.checkpoint.tokenizer

    def generate(self, requests: Sequence[Request], on_completion: Callable[[Completion], None]) -> None:
        import torch

        model, tok = self._model, self.checkpoint.tokenizer
        eos_ids = _eos_ids(model, tok)
        pad_id = tok.pad_token_id if tok.pad_token_id is not None else eos_ids[0]
        encoded = [(req, self.checkpoint.encode(req.prompt)) for req in requests]
        encoded.sort(key=lambda pair: len(pair[1]))
        context = self.context_length()
        for start in range(0, len(encoded), self.batch_size):
            batch = encoded[start : start + self.batch_size]
            sampling = batch[0][0].sampling
            width = max(len(ids) for _, ids in batch)
            # Rows share one generate call: the smallest allowance of the batch (requests planned
            # up to the context differ by their prompts), and never past --max-model-len.
            max_new = min(r.sampling.max_tokens or context for r, _ in batch) if context else sampling.max_tokens
            if context:
                max_new = min(max_new, context - width)
            if max_new is None or max_new < 1:
                for req, _ in batch:
                    on_completion(Completion(req.key, "", "error", error=(
                        f"prompt of {width} tokens leaves no room in the context of {context} tokens; "
                        "raise --max-model-len or shorten the prompt")))
                continue
            input_ids = torch.tensor([[pad_id] * (width - len(ids)) + ids for _, ids in batch])
            mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for _, ids in batch])
            # One seed per batch: transformers cannot seed rows separately.
            torch.manual_seed(sampling.seed + batch[0][0].sample_index * 1_000_003 + start)
            t0 = time.perf_counter()
            with torch.inference_mode():
                out = model.generate(
                    input_ids=input_ids.to(model.device),
                    attention_mask=mask.to(model.device),
                    max_new_tokens=max_new,
                    do_sample=sampling.temperature > 0,
                    temperature=sampling.temperature if sampling.temperature > 0 else None,
                    top_p=sampling.top_p if sampling.temperature > 0 else None,
                    top_k=None,
                    eos_token_id=eos_ids,
                    pad_token_id=pad_id,
                )
            latency = time.perf_counter() - t0
            for (req, ids), row in zip(batch, out[:, width:].tolist(), strict=True):
                on_completion(_completion(req, ids, row, eos_ids, tok, latency))

    def close(self) -> None:
        self.__dict__.pop("_model", None)


def _eos_ids(model: Any, tok: Any) -> list[int]:
    ids = getattr(model.generation_config, "eos_token_id", None) or tok.eos_token_id
    return list(ids) if isinstance(ids, list | tuple) else [ids]


def _completion(
    req: Request, prompt_ids: list[int], row: list[int], eos_ids: list[int], tok: Any, latency: float
) -> Completion:
    generated: list[int] = []
    finish: FinishReason = "length"
    for token in row:
        if token in eos_ids:
            finish = "stop"
            break
        generated.append(token)
    text = tok.decode(generated, skip_special_tokens=False)
    for stop in req.sampling.stop:
        if stop in text:
            text, finish = text[: text.index(stop)], "stop"
    return Completion(
        key=req.key,
        text=text,
        finish_reason=finish,
        prompt_tokens=len(prompt_ids),
        output_tokens=len(generated),
        latency_s=latency,
    )


@register_engine("hf")
def create_hf_engine(config: EngineConfig) -> HFEngine:
    return HFEngine(config)
