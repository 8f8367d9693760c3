"""What the local-weights engines (vLLM in-process, transformers) share: the checkpoint directory,
its tokenizer and chat template, the adapter, the fingerprint and the dtype choice."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evalsuite.engines.base import (
    EngineConfig,
    EngineConfigError,
    check_weights,
    fingerprint_dir,
    require_local_model,
)
from evalsuite.types import Message

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
    """A validated ``--model`` directory (and ``--adapter``), loaded lazily."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.path = require_local_model(config)
        self.adapter = _require_adapter(config.adapter) if config.adapter else None

    @functools.cached_property
    def tokenizer(self) -> Any:
        try:
            from transformers import AutoTokenizer
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise EngineConfigError("this engine needs transformers: pip install 'evalsuite[hf]'") from exc
        try:
            return AutoTokenizer.from_pretrained(self.path, trust_remote_code=self.config.trust_remote_code)
        except Exception as exc:
            raise EngineConfigError(f"--model {self.config.model}: cannot load its tokenizer ({exc})") from exc

    @functools.cached_property
    def _fingerprint(self) -> str:
        fp = f"{fingerprint_dir(self.path)}/{self.config.dtype}"
        if self.adapter is not None:
            fp += "+" + fingerprint_dir(self.adapter)
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

    def encode(self, prompt: str) -> list[int]:
        # The rendered prompt already holds every special token the template wants.
        return list(self.tokenizer(prompt, add_special_tokens=False)["input_ids"])

    def torch_dtype_name(self, *, on_gpu: bool) -> str:
        """``auto`` means float32 on CPU (bf16 kernels there are slow and less exact), bf16 on GPU."""
        if self.config.dtype != "auto":
            return self.config.dtype
        return "bfloat16" if on_gpu else "float32"


def _require_adapter(adapter: str) -> Path:
    """The ``--adapter`` directory, checked to hold a readable peft config and its weights."""
    path = Path(adapter).expanduser()
    config = path / "adapter_config.json"
    if not config.is_file():
        raise EngineConfigError(
            f"--adapter {adapter}: not a LoRA adapter directory (no adapter_config.json); "
            "pass a directory saved with peft's save_pretrained()"
        )
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise EngineConfigError(f"--adapter {adapter}: {config} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise EngineConfigError(f"--adapter {adapter}: {config}:{exc.lineno}: invalid JSON ({exc.msg}: column {exc.colno})") from None
    if not isinstance(data, dict) or not data.get("peft_type"):
        raise EngineConfigError(
            f"--adapter {adapter}: {config}:1: not a peft adapter config (no 'peft_type'); "
            "pass a directory saved with peft's save_pretrained()"
        )
    check_weights(path, flag="--adapter", value=adapter, stem="adapter_model")
    return path
