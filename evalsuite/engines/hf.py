"""transformers engine: batched ``generate`` with left padding, for machines without vLLM.

CPU runs in float32, GPU in bf16/fp16. Requests are sorted by prompt length so a batch wastes
little padding, and each finished batch is handed back at once (so the cache fills as we go).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from evalsuite.engines.base import EngineConfig, EngineConfigError, EngineError, register_engine
from evalsuite.engines.local import CheckpointEngine, LocalCheckpoint, on_gpu
from evalsuite.types import Completion, FinishReason, Request


class HFEngine(CheckpointEngine):
    name = "hf"

    def __init__(self, config: EngineConfig) -> None:
        self.checkpoint = LocalCheckpoint(config)
        self.config = config
        self.batch_size = int(config.options.get("batch_size", 16))

    @functools.cached_property
    def _model(self) -> Any:
        """The base model, loaded once, with every adapter attached through peft."""
        import torch
        from transformers import AutoModelForCausalLM

        gpu = on_gpu()
        dtype = getattr(torch, self.checkpoint.torch_dtype_name(on_gpu=gpu))
        try:
            model: Any = AutoModelForCausalLM.from_pretrained(
                self.checkpoint.weights_path(), dtype=dtype, trust_remote_code=self.config.trust_remote_code
            )
        except Exception as exc:
            raise EngineError(f"--model {self.config.model}: transformers cannot load it ({exc})") from exc
        adapters = self.checkpoint.adapters
        if adapters:
            model = _attach_adapters(model, adapters)
        return model.to("cuda" if gpu else "cpu").eval()  # type: ignore[arg-type]

    def computes_on_cpu(self) -> bool:
        return not on_gpu()

    def load(self) -> None:
        _ = self._model, self.checkpoint.tokenizer

    def generate(self, requests: Sequence[Request], on_completion: Callable[[Completion], None]) -> None:

        model, tok = self._model, self.checkpoint.tokenizer
        eos_ids = _eos_ids(model, tok)
        pad_id = tok.pad_token_id if tok.pad_token_id is not None else eos_ids[0]
        # Batches are homogeneous in adapter (peft switches adapters per forward pass, not per row).
        groups: dict[str | None, list[tuple[Request, list[int]]]] = {}
        for req in requests:
            groups.setdefault(self.checkpoint.lora_name(req), []).append(
                (req, self.checkpoint.encode(req.prompt))
            )
        start = 0
        for name, encoded in groups.items():
            encoded.sort(key=lambda pair: len(pair[1]))
            with _active_adapter(model, name):
                for offset in range(0, len(encoded), self.batch_size):
                    batch = encoded[offset : offset + self.batch_size]
                    self._generate_batch(model, tok, batch, start, eos_ids, pad_id, on_completion)
                    start += len(batch)

    def _generate_batch(
        self,
        model: Any,
        tok: Any,
        batch: list[tuple[Request, list[int]]],
        start: int,
        eos_ids: list[int],
        pad_id: int,
        on_completion: Callable[[Completion], None],
    ) -> None:
        import torch

        sampling = batch[0][0].sampling
        width = max(len(ids) for _, ids in batch)
        context = self.context_length()
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
            return
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
                repetition_penalty=sampling.repetition_penalty if sampling.repetition_penalty != 1.0 else None,
                eos_token_id=eos_ids,
                pad_token_id=pad_id,
            )
        latency = time.perf_counter() - t0
        for (req, ids), row in zip(batch, out[:, width:].tolist(), strict=True):
            on_completion(_completion(req, ids, row, eos_ids, tok, latency))

    def close(self) -> None:
        self.__dict__.pop("_model", None)


def peft_name(name: str) -> str:
    """peft's name for our adapter ``name``: peft makes it a module attribute and a ``ModuleDict`` key,
    so ``half`` would collide with ``torch.nn.Module.half`` and ``v1.2`` is refused (no dots)."""
    safe = re.sub(r"\W", "_", name)
    return f"evalsuite_{safe}_{hashlib.sha256(name.encode()).hexdigest()[:6]}"


def _attach_adapters(model: Any, adapters: Mapping[str, Any]) -> Any:
    """Wrap ``model`` in peft with the first adapter, then load the others beside it (weights shared)."""
    try:
        from peft import PeftModel
    except ImportError as exc:
        raise EngineConfigError("--adapter needs peft: pip install 'evalsuite[hf]'") from exc
    for i, (name, path) in enumerate(adapters.items()):
        label = f"--adapter {name}={path}"
        try:
            if i == 0:
                model = PeftModel.from_pretrained(model, str(path), adapter_name=peft_name(name))
            else:
                model.load_adapter(str(path), adapter_name=peft_name(name))
        except Exception as exc:
            raise EngineConfigError(f"{label}: cannot apply it ({exc})") from exc
    return model


@contextlib.contextmanager
def _active_adapter(model: Any, name: str | None) -> Iterator[None]:
    """``name`` answers inside the block; ``None`` turns every adapter off (the base model answers)."""
    if name is not None:
        model.set_adapter(peft_name(name))
        yield
    elif hasattr(model, "disable_adapter"):
        with model.disable_adapter():
            yield
    else:
        yield


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
