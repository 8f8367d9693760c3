"""The Engine protocol: what the generation leader needs from vLLM, an HTTP server or transformers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from evalsuite.registry import Registry
from evalsuite.types import Completion, Message, Request


class EngineError(RuntimeError):
    """The engine failed as a whole (died, unreachable after retries): an infrastructure error."""


class EngineConfigError(EngineError):
    """A bad engine option; the message names the option and how to fix it."""


API_MODES = ("chat", "completion")
"""OpenAI-compatible endpoints: ``/v1/chat/completions`` (the server templates) or ``/v1/completions``."""


@dataclass(frozen=True)
class EngineConfig:
    """Everything needed to start an engine; plain values (xdist ships them to workers)."""

    model: str | None = None
    """Local HF-format checkpoint directory or hub id (``--model``)."""
    adapters: Mapping[str, str] = field(default_factory=dict)
    """LoRA adapter directories loaded beside the base, by name (``--adapter NAME=PATH``); a request's
    ``adapter`` picks one, ``None`` the base model. One engine load serves them all."""
    merge_dir: str | None = None
    """``--merge-adapter``: the one adapter is merged into the base weights (saved once in a directory
    under this one named by both fingerprints) and the merged checkpoint answers every request."""
    api_url: str | None = None
    """Base URL of an OpenAI-compatible server (``--api-url``)."""
    api_key: str | None = field(default=None, repr=False)
    """API key; never part of a fingerprint, cache key or report."""
    model_name: str | None = None
    """Model name sent to the server (``--model-name``)."""
    api_mode: str = "chat"
    """``chat`` (/v1/chat/completions) or ``completion`` (/v1/completions)."""
    max_concurrency: int = 64
    """Requests in flight at once for HTTP engines."""
    dtype: str = "auto"
    """``auto``, ``float32``, ``bfloat16`` or ``float16``."""
    seed: int = 0
    """Engine seed."""
    max_model_len: int | None = None
    """Context length cap (prompt + output)."""
    trust_remote_code: bool = False
    """Let vLLM/transformers run the checkpoint's own modelling code (``--trust-remote-code``)."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Engine-specific extras (``gpu_memory_utilization``, ``tensor_parallel_size``...)."""


class Engine(Protocol):
    """A text generator that takes a whole plan at once and streams completions back."""

    name: str

    def fingerprint(self) -> str:
        """Identity of the weights (and adapter) that answer; part of every cache key."""
        ...

    def adapter_identity(self, name: str) -> str:
        """Identity of the adapter ``name`` (its name and weights' fingerprint); part of the cache key of
        every request it answers. Raises ``EngineConfigError`` for a name the engine was not given."""
        ...

    def render(self, messages: Sequence[Message]) -> str:
        """The prompt exactly as the model sees it (chat template applied)."""
        ...

    def context_length(self) -> int | None:
        """Tokens of prompt plus output the model accepts; None when this engine cannot tell."""
        ...

    def count_tokens(self, prompt: str) -> int | None:
        """Tokens of a rendered prompt; None when the server counts (it then fits the output itself)."""
        ...

    def computes_on_cpu(self) -> bool:
        """Whether generation computes on this machine's CPUs (no accelerator, no remote server),
        so that verifying alongside it would slow it down."""
        ...

    def load(self) -> None:
        """Get ready to generate (import, load weights, connect); idempotent.

        The leader calls it before ``generate`` and reports its time as start-up, apart from
        generation, so throughput figures measure generation alone.
        """
        ...

    def generate(self, requests: Sequence[Request], on_completion: Callable[[Completion], None]) -> None:
        """Run all requests at full concurrency; call ``on_completion`` as each finishes.

        Per-request failures become ``Completion(finish_reason="error")``; a failure of the
        engine as a whole raises ``EngineError``.
        """
        ...

    def close(self) -> None:
        """Release the engine's resources."""
        ...

    # Optional: an engine that sees tokens before a request finishes declares ``on_progress = None``;
    # the generation leader sets it to a callable the engine calls on every token step, so a long
    # generation is not taken for a stall (``--stall-timeout``).


EngineFactory = Callable[[EngineConfig], Engine]

engines: Registry[EngineFactory] = Registry(
    "engine",
    ["evalsuite.engines.fake", "evalsuite.engines.hf", "evalsuite.engines.vllm", "evalsuite.engines.openai"],
)
register_engine = engines.register


def require_local_model(config: EngineConfig) -> Path:
    """The ``--model`` directory, checked to be an HF-format checkpoint."""
    if not config.model:
        raise EngineConfigError(
            "--model is required for this engine (a local HF-format checkpoint directory)"
        )
    path = Path(config.model).expanduser()
    if not path.exists():
        raise EngineConfigError(f"--model {config.model}: no such directory")
    if not (path / "config.json").is_file():
        raise EngineConfigError(
            f"--model {config.model}: not an HF-format checkpoint (no config.json); "
            "pass a directory saved with save_pretrained()"
        )
    check_weights(path, flag="--model", value=config.model)
    return path


def fingerprint_dir(path: Path) -> str:
    """Content hash of a checkpoint directory: config/tokenizer files fully, weights by size and header.

    Hashing whole multi-GB weight files would cost minutes; size plus the first and last MiB of
    each weight file changes whenever the weights do in practice (safetensors headers hold offsets).
    """
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file() and ".cache" not in p.parts):
        rel = f.relative_to(path).as_posix()
        h.update(rel.encode())
        size = f.stat().st_size
        h.update(str(size).encode())
        with f.open("rb") as fh:
            if size <= 4 << 20:
                h.update(fh.read())
            else:
                h.update(fh.read(1 << 20))
                fh.seek(-(1 << 20), 2)
                h.update(fh.read())
    return h.hexdigest()[:16]


def messages_json(messages: Sequence[Message]) -> str:
    """Canonical JSON of chat messages (the "rendered prompt" for servers that template themselves)."""
    return json.dumps([{"role": m.role, "content": m.content} for m in messages], ensure_ascii=False)


WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.pth", "*.gguf")
"""File names that hold weights in a checkpoint or adapter directory."""


def check_weights(path: Path, *, flag: str, value: str, stem: str = "") -> None:
    """The directory holds weight files whose safetensors headers read; an ``EngineConfigError`` otherwise.

    Checked before any engine starts: a checkpoint copied without its weights, or cut short by a
    full disk, would otherwise fail minutes later inside the engine with a message about tensors.
    """
    patterns = [stem + pattern for pattern in WEIGHT_PATTERNS]
    files = sorted(f for pattern in patterns for f in path.glob(pattern) if f.is_file())
    index = path / f"{stem or 'model'}.safetensors.index.json"
    if not files:
        raise EngineConfigError(
            f"{flag} {value}: no weights in {path} (no {', '.join(patterns)} file); "
            "copy the whole directory saved with save_pretrained(), weights included"
        )
    if index.is_file():
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        except (ValueError, KeyError, TypeError) as exc:
            raise EngineConfigError(f"{flag} {value}: {index} is not a valid safetensors index ({exc})") from None
        missing = sorted(s for s in shards if not (path / s).is_file())
        if missing:
            raise EngineConfigError(f"{flag} {value}: weight shards listed in {index.name} are missing: {', '.join(missing)}")
    for f in files:
        if f.suffix == ".safetensors":
            problem = _safetensors_problem(f)
            if problem:
                raise EngineConfigError(f"{flag} {value}: {f} is not a readable safetensors file ({problem}); copy it again")


def _safetensors_problem(path: Path) -> str | None:
    """Why the file's header does not read (truncated, not safetensors); None when it does."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            return f"{size} bytes, shorter than a header"
        length = int.from_bytes(head, "little")
        if length > size - 8:
            return f"header of {length} bytes in a file of {size}: truncated"
        try:
            header = json.loads(fh.read(length))
        except ValueError:
            return "the header is not JSON"
    if not isinstance(header, dict):
        return "the header is not a JSON object"
    end = max((int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__" and isinstance(t, dict) and "data_offsets" in t), default=0)
    if 8 + length + end > size:
        return f"tensors end at byte {8 + length + end} but the file has {size}: truncated"
    return None
