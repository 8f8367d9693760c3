"""LoRA adapters on a local base model: naming, identity, and the compatibility check.

Everything here reads JSON files and safetensors headers only (no torch, no weights loaded), so a
foreign or broken adapter is one clear usage error before any engine starts, in milliseconds.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalsuite.engines.base import EngineConfigError, fingerprint_dir

PEFT_PREFIX = "base_model.model."
"""What peft puts before a module path in a saved adapter's tensor names."""
LORA_PART = re.compile(
    r"\.(lora_A|lora_B|lora_embedding_A|lora_embedding_B|lora_magnitude_vector)(\.[^.]+)?\.weight$"
)
"""The LoRA part of a saved tensor name (``...q_proj.lora_A.weight``); an adapter name may sit between."""


class AdapterMismatch(EngineConfigError):
    """An adapter that does not fit the base model (another base, missing modules, wrong shapes)."""


@dataclass(frozen=True)
class AdapterSpec:
    """One ``--adapter`` value, resolved."""

    name: str
    """Name of the adapter's run and of its reports (``tuned`` in ``--adapter tuned=PATH``)."""
    path: Path
    """Directory holding ``adapter_config.json`` and the adapter weights."""


def parse_adapter_specs(values: Iterable[str]) -> tuple[AdapterSpec, ...]:
    """``NAME=PATH`` values (a bare ``PATH`` is named after its directory) → specs; names must be unique."""
    specs: list[AdapterSpec] = []
    for value in values:
        name, sep, path = value.partition("=")
        if not sep:
            name, path = "", value
        path = path.strip()
        if not path:
            raise EngineConfigError(
                f"--adapter {value!r}: expected NAME=PATH or PATH (a LoRA adapter directory)"
            )
        resolved = Path(path).expanduser()
        name = name.strip() or resolved.resolve().name
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name) or name == "base":
            raise EngineConfigError(
                f"--adapter {value!r}: the name {name!r} must be letters, digits, '_', '-' or '.' "
                "and not 'base' (it names the adapter's report directory); write --adapter NAME=PATH"
            )
        if any(s.name == name for s in specs):
            raise EngineConfigError(
                f"--adapter {value!r}: the name {name!r} is given twice; name each adapter: --adapter NAME=PATH"
            )
        specs.append(AdapterSpec(name, resolved))
    return tuple(specs)


def require_adapter_dir(path: Path, *, name: str | None = None) -> Path:
    """``path``, checked to hold a readable peft config and its weights (``name``: the adapter's, for messages)."""
    from evalsuite.engines.base import check_weights

    value = f"{name}={path}" if name and name != path.resolve().name else str(path)  # as the user wrote it
    label = f"--adapter {value}"
    config = path / "adapter_config.json"
    if not config.is_file():
        raise EngineConfigError(
            f"{label}: not a LoRA adapter directory (no adapter_config.json); "
            "pass a directory saved with peft's save_pretrained()"
        )
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise EngineConfigError(
            f"{label}: {config} is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except json.JSONDecodeError as exc:
        raise EngineConfigError(
            f"{label}: {config}:{exc.lineno}: invalid JSON ({exc.msg}: column {exc.colno})"
        ) from None
    if not isinstance(data, dict) or not data.get("peft_type"):
        raise EngineConfigError(
            f"{label}: {config}:1: not a peft adapter config (no 'peft_type'); "
            "pass a directory saved with peft's save_pretrained()"
        )
    check_weights(path, flag="--adapter", value=value, stem="adapter_model")
    return path


def adapter_identity(name: str, path: Path) -> str:
    """What a request answered by this adapter puts in its cache key: its name and its weights' fingerprint."""
    return f"{name}:{fingerprint_dir(path)}"


def adapter_config(path: Path) -> dict[str, Any]:
    """The adapter's ``adapter_config.json``."""
    try:
        return dict(json.loads((path / "adapter_config.json").read_text()))
    except (OSError, ValueError) as exc:
        raise AdapterMismatch(f"--adapter {path}: cannot read adapter_config.json ({exc})") from exc


def lora_rank(path: Path) -> int:
    """The largest LoRA rank of an adapter (``r``, or a larger one in ``rank_pattern``)."""
    cfg = adapter_config(path)
    return max([int(cfg.get("r") or 8), *(int(v) for v in (cfg.get("rank_pattern") or {}).values())])


def safetensors_header(path: Path) -> dict[str, Any]:
    """Tensor name → ``{"dtype", "shape", "data_offsets"}`` from a safetensors file's JSON header."""
    with path.open("rb") as fh:
        raw = fh.read(8)
        if len(raw) != 8:
            raise ValueError(f"{path}: not a safetensors file (shorter than its header length)")
        (length,) = struct.unpack("<Q", raw)
        if length > 100 << 20:
            raise ValueError(f"{path}: not a safetensors file (header length {length})")
        header = json.loads(fh.read(length))
    header.pop("__metadata__", None)
    return header


def base_tensor_shapes(base: Path) -> dict[str, tuple[int, ...]] | None:
    """Tensor name → shape for a base checkpoint stored as safetensors (single or sharded); ``None`` otherwise."""
    files = sorted(base.glob("*.safetensors"))
    if not files:
        return None
    shapes: dict[str, tuple[int, ...]] = {}
    for f in files:
        shapes.update({k: tuple(v["shape"]) for k, v in safetensors_header(f).items()})
    return shapes


def check_adapter(base: Path, adapter: Path, *, name: str | None = None) -> None:
    """Raise one :class:`AdapterMismatch` listing everything about ``adapter`` that does not fit ``base``.

    Checks ``base_model_name_or_path`` against the base, ``target_modules`` against the base's module
    names, and every LoRA matrix's shape against the base weight it adapts (from the safetensors
    headers; from ``config.json``'s sizes when the base has no safetensors). Reads no weights.
    """
    require_adapter_dir(adapter)
    cfg = adapter_config(adapter)
    base_cfg = json.loads((base / "config.json").read_text())
    label = f"--adapter {name + '=' if name else ''}{adapter}"
    problems: list[str] = []
    if str(cfg.get("peft_type", "LORA")).upper() != "LORA":
        problems.append(f"peft_type is {cfg.get('peft_type')!r}; only LoRA adapters are supported")
    problems += _base_name_problems(cfg.get("base_model_name_or_path"), base, base_cfg)
    shapes = base_tensor_shapes(base)
    if shapes is not None:
        problems += _target_problems(cfg.get("target_modules"), _module_names(shapes, base_cfg))
    weights = adapter / "adapter_model.safetensors"
    if weights.is_file():
        try:
            lora = {k: tuple(v["shape"]) for k, v in safetensors_header(weights).items()}
        except (OSError, ValueError) as exc:
            problems.append(f"adapter_model.safetensors is unreadable ({exc})")
        else:
            problems += (
                _shape_problems(lora, shapes)
                if shapes is not None
                else _config_shape_problems(lora, base_cfg)
            )
    if problems:
        shown = problems[:8] + ([f"... and {len(problems) - 8} more"] if len(problems) > 8 else [])
        raise AdapterMismatch(
            f"{label} does not fit the base model {base}:\n  - "
            + "\n  - ".join(shown)
            + "\nPass the base model this adapter was trained on (--model), or an adapter trained on this base."
        )


def check_adapters(base: Path, adapters: Mapping[str, str | Path]) -> None:
    """:func:`check_adapter` for each named adapter (the first mismatch raises)."""
    for name, path in adapters.items():
        check_adapter(base, Path(path), name=name)


def _base_name_problems(ref: Any, base: Path, base_cfg: Mapping[str, Any]) -> list[str]:
    if not ref:
        return []
    ref = str(ref)
    local = Path(ref).expanduser()
    if (local / "config.json").is_file():
        if local.resolve() == base.resolve() or _same_architecture(
            json.loads((local / "config.json").read_text()), base_cfg
        ):
            return []
        return [
            f"base_model_name_or_path is {ref!r}, a checkpoint whose config.json differs from {base}'s "
            "(architecture or sizes)"
        ]
    wanted = _short_name(ref)
    have = {_short_name(str(base.resolve()))}
    if base_cfg.get("_name_or_path"):
        have.add(_short_name(str(base_cfg["_name_or_path"])))
    if wanted in have:
        return []
    return [
        f"base_model_name_or_path is {ref!r} but the base model is {base} "
        f"(if that is a copy of {ref}, set base_model_name_or_path in {'adapter_config.json'} to its path)"
    ]


def _short_name(ref: str) -> str:
    return ref.rstrip("/").rsplit("/", 1)[-1].lower()


SIZE_KEYS = ("model_type", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
             "num_key_value_heads", "vocab_size", "head_dim")  # fmt: skip


def _same_architecture(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return all(a.get(k) == b.get(k) for k in SIZE_KEYS)


def _module_names(shapes: Mapping[str, tuple[int, ...]], base_cfg: Mapping[str, Any]) -> set[str]:
    """Module paths holding a matrix (``model.layers.0.self_attn.q_proj``: what LoRA adapts), tied heads included."""
    modules = {k.rsplit(".", 1)[0] for k, shape in shapes.items() if "." in k and len(shape) == 2}
    if base_cfg.get("tie_word_embeddings", True):
        modules.add("lm_head")  # tied: no tensor of its own in the file, but a module peft can target
    return modules


def _target_problems(targets: Any, modules: set[str]) -> list[str]:
    if not targets:
        return []
    if isinstance(targets, str):  # peft: a regex matched against whole module names
        if any(re.fullmatch(targets, m) for m in modules):
            return []
        return [f"target_modules regex {targets!r} matches no module of the base model"]
    # peft: a name matches a module whose path is that name or ends with "." + name; peft itself
    # only fails when no target matches, so one missing name in a longer list is not an error here.
    found = [t for t in targets if any(m == t or m.endswith("." + t) for m in modules)]
    if found:
        return []
    return [
        f"target_modules {sorted(targets)} match no module of the base model "
        f"(it has e.g. {', '.join(sorted({m.rsplit('.', 1)[-1] for m in modules})[:12])})"
    ]


def _base_key(adapter_key: str, shapes: Mapping[str, tuple[int, ...]]) -> str | None:
    module = adapter_key.removeprefix(PEFT_PREFIX)
    for candidate in (module, module.removeprefix("model.")):
        if candidate in shapes:
            return candidate
    if module == "lm_head.weight" and "model.embed_tokens.weight" in shapes:
        return "model.embed_tokens.weight"  # a tied head is the embedding matrix
    return None


def _shape_problems(lora: Mapping[str, tuple[int, ...]], shapes: Mapping[str, tuple[int, ...]]) -> list[str]:
    problems = []
    for key, shape in sorted(lora.items()):
        part = LORA_PART.search(key)
        module = key[: part.start()] if part else key.removesuffix(".weight")
        base_key = _base_key(module + ".weight", shapes)
        if base_key is None:
            problems.append(f"{key}: the base model has no weight {module.removeprefix(PEFT_PREFIX)}.weight")
            continue
        want = shapes[base_key]
        kind = part.group(1) if part else "full"
        ok = _fits(kind, shape, want)
        if not ok:
            problems.append(
                f"{key}: shape {list(shape)} does not fit the base weight {base_key} {list(want)}"
            )
    return problems


def _fits(kind: str, shape: Sequence[int], base: Sequence[int]) -> bool:
    """Whether a LoRA matrix of ``kind`` fits a base weight of shape ``base`` (Linear: [out, in]; Embedding: [vocab, dim])."""
    if len(base) != 2:
        return kind == "full" and tuple(shape) == tuple(base)
    if kind == "lora_A":
        return len(shape) == 2 and shape[1] == base[1]
    if kind == "lora_B":
        return len(shape) == 2 and shape[0] == base[0]
    if kind == "lora_embedding_A":
        return len(shape) == 2 and shape[1] == base[0]
    if kind == "lora_embedding_B":
        return len(shape) == 2 and shape[0] == base[1]
    if kind == "lora_magnitude_vector":
        return list(shape) == [base[0]]
    return tuple(shape) == tuple(base)


def _config_shape_problems(lora: Mapping[str, tuple[int, ...]], base_cfg: Mapping[str, Any]) -> list[str]:
    """Without a safetensors base: every LoRA dimension that is not the rank must be one of the config's sizes."""
    heads = base_cfg.get("num_attention_heads") or 1
    hidden = base_cfg.get("hidden_size")
    head_dim = base_cfg.get("head_dim") or (hidden // heads if hidden else None)
    kv = base_cfg.get("num_key_value_heads") or heads
    candidates = (hidden, base_cfg.get("intermediate_size"), base_cfg.get("vocab_size"),
                  heads * head_dim if head_dim else None, kv * head_dim if head_dim else None)  # fmt: skip
    sizes = {int(s) for s in candidates if s}
    problems = []
    for key, shape in sorted(lora.items()):
        part = LORA_PART.search(key)
        if not part or len(shape) != 2:
            continue
        dim = shape[1] if part.group(1) in ("lora_A", "lora_embedding_A") else shape[0]
        if dim not in sizes:
            problems.append(f"{key}: dimension {dim} is none of the base config's sizes {sorted(sizes)}")
    return problems
