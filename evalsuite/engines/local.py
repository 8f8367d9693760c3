"""What the local-weights engines (vLLM in-process, transformers) share: the checkpoint directory,
its tokenizer and chat template, the adapter, the fingerprint and the dtype choice."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evalsuite.engines.adapters import adapter_identity, check_adapter, lora_rank, require_adapter_dir
from evalsuite.engines.base import (
    EngineConfig,
    EngineConfigError,
    fingerprint_dir,
    require_local_model,
)
from evalsuite.types import Message, Request

log = logging.getLogger(__name__)


CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "max_sequence_length")
"""config.json keys that hold a model's context length, in the order they are read."""


def config_context_length(path: Path, max_model_len: int | None = None) -> int | None:
    """A checkpoint's context length from its ``config.json`` (or its ``text_config``), capped by
    ``max_model_len``; None when the file or the key is missing."""
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        return max_model_len
    own = None
    for section in (config, config.get("text_config") or {}):
        own = next((int(section[k]) for k in CONTEXT_KEYS if isinstance(section.get(k), int)), None)
        if own is not None:
            break
    if own is None or (max_model_len and max_model_len < own):
        return max_model_len or own
    return own


def on_gpu() -> bool:
    """Whether torch sees a CUDA device (the local engines compute there, else on this machine's CPUs)."""
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:  # pragma: no cover
        return False


class LocalCheckpoint:
    """A validated ``--model`` directory and its adapters, loaded lazily.

    Every adapter is checked against the base here, at construction (before any weights load), so
    a foreign adapter is a usage error naming what does not match. With ``merge_dir`` the one
    adapter is merged into the base weights on first load (``weights_path``) instead.
    """

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.path = require_local_model(config)
        adapters = {
            name: require_adapter_dir(Path(p).expanduser(), name=name) for name, p in config.adapters.items()
        }
        for name, adapter in adapters.items():
            check_adapter(self.path, adapter, name=name)
        self.merged_adapter: Path | None = None
        if config.merge_dir is not None:
            if len(adapters) != 1:
                raise EngineConfigError(
                    f"--merge-adapter merges exactly one --adapter into the base weights; got {len(adapters)}"
                )
            (self.merged_adapter,) = adapters.values()
            adapters = {}
        self.adapters = adapters

    def weights_path(self) -> Path:
        """The directory whose weights answer: the base, or the base with the adapter merged (built once)."""
        if self.merged_adapter is None:
            return self.path
        from evalsuite.engines.merge import merged_checkpoint

        return merged_checkpoint(self.path, self.merged_adapter, Path(str(self.config.merge_dir)))

    def lora_name(self, request: Request) -> str | None:
        """The adapter that answers ``request`` (a key of ``adapters``); ``None``: the base (or merged) weights."""
        if request.adapter is not None:
            self.adapter_identity(request.adapter)  # an unknown name fails here, clearly
        return request.adapter

    @functools.cached_property
    def _adapter_identities(self) -> dict[str, str]:
        return {name: adapter_identity(name, path) for name, path in self.adapters.items()}

    def adapter_identity(self, name: str) -> str:
        """Name and weights' fingerprint of the adapter ``name``."""
        if name not in self.adapters:
            known = ", ".join(self.adapters) or "none"
            raise EngineConfigError(f"adapter {name!r} was not given to the engine (known: {known})")
        return self._adapter_identities[name]

    def max_lora_rank(self) -> int:
        """The largest rank over all adapters (0 without adapters)."""
        return max((lora_rank(p) for p in self.adapters.values()), default=0)

    @functools.cached_property
    def tokenizer(self) -> Any:
        try:
            from transformers import AutoTokenizer
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise EngineConfigError("this engine needs transformers: pip install 'evalsuite[hf]'") from exc
        try:
            return AutoTokenizer.from_pretrained(self.path, trust_remote_code=self.config.trust_remote_code)
        except Exception as exc:
            raise EngineConfigError(
                f"--model {self.config.model}: cannot load its tokenizer ({exc})"
            ) from exc

    @functools.cached_property
    def _fingerprint(self) -> str:
        fp = f"{fingerprint_dir(self.path)}/{self.config.dtype}"
        if self.merged_adapter is not None:  # known before merging: both inputs decide the merge
            fp += "+merged:" + fingerprint_dir(self.merged_adapter)
        return fp

    def fingerprint(self) -> str:
        return self._fingerprint

    def render(self, messages: Sequence[Message]) -> str:
        """The chat template applied with a generation prompt; plain text for models without one."""
        tok = self.tokenizer
        chat = [{"role": m.role, "content": m.content} for m in messages]
        if getattr(tok, "chat_template", None):
            return tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        log.warning("%s has no chat template; prompts are the messages' plain text", self.path)
        return "\n\n".join(m.content for m in messages) + "\n"

    def context_length(self) -> int | None:
        """config.json's context length, capped by ``--max-model-len``."""
        return config_context_length(self.path, self.config.max_model_len)

    def count_tokens(self, prompt: str) -> int:
        return len(self.encode(prompt))

    def truncate_text(self, text: str, max_tokens: int) -> str:
        """The first ``max_tokens`` tokens of ``text``, as text."""
        return str(self.tokenizer.decode(self.encode(text)[:max_tokens]))

    def encode(self, prompt: str) -> list[int]:
        # The rendered prompt already holds every special token the template wants.
        return list(self.tokenizer(prompt, add_special_tokens=False)["input_ids"])

    def torch_dtype_name(self, *, on_gpu: bool) -> str:
        """``auto`` means float32 on CPU (bf16 kernels there are slow and less exact), bf16 on GPU."""
        if self.config.dtype != "auto":
            return self.config.dtype
        return "bfloat16" if on_gpu else "float32"


class CheckpointEngine:
    """What both local engines answer from their checkpoint: identity, template, tokenizer, context."""

    checkpoint: LocalCheckpoint

    def fingerprint(self) -> str:
        return self.checkpoint.fingerprint()

    def adapter_identity(self, name: str) -> str:
        return self.checkpoint.adapter_identity(name)

    def render(self, messages: Sequence[Message]) -> str:
        return self.checkpoint.render(messages)

    def context_length(self) -> int | None:
        return self.checkpoint.context_length()

    def count_tokens(self, prompt: str) -> int:
        return self.checkpoint.count_tokens(prompt)

    def truncate_text(self, text: str, max_tokens: int) -> str:
        return self.checkpoint.truncate_text(text, max_tokens)
