"""``--merge-adapter``: the base with a LoRA adapter merged into its weights, saved once and reused.

Serving the merged weights is what a team ships after fine-tuning; evaluating them (rather than the
base plus a run-time LoRA) checks the artefact itself. The merged checkpoint is written under the
cache directory, keyed by the fingerprints of the base and the adapter, so a second run reuses it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from evalsuite.engines.adapters import check_adapter
from evalsuite.engines.base import EngineConfigError, EngineError, fingerprint_dir

log = logging.getLogger(__name__)

MARKER = "evalsuite_merged.json"
"""Written last into a merged checkpoint: its presence means the directory is complete."""
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".index.json")
"""Base files that the merged weights replace (everything else, tokenizer included, is copied)."""


def merged_dir(base: Path, adapter: Path, root: Path) -> Path:
    """Where the merge of ``adapter`` into ``base`` lives: ``<root>/<base fp>-<adapter fp>``."""
    return root / f"{fingerprint_dir(base)}-{fingerprint_dir(adapter)}"


def merged_checkpoint(base: Path, adapter: Path, root: Path, *, log_fn=log.info) -> Path:
    """The merged checkpoint of ``base`` + ``adapter`` (``merge_and_unload``), built on first use.

    Merges in float32 and saves in the base's dtype. Built in a temporary directory and renamed into
    place, so a run killed half-way leaves nothing that a later run would take for complete.
    """
    out = merged_dir(base, adapter, root)
    if (out / MARKER).is_file():
        return out
    check_adapter(base, adapter)
    t0 = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model = _merge(base, adapter)
        model.save_pretrained(tmp, safe_serialization=True)
        for f in base.iterdir():
            if f.is_file() and not f.name.endswith(WEIGHT_SUFFIXES) and not (tmp / f.name).exists():
                shutil.copy2(f, tmp / f.name)
        (tmp / MARKER).write_text(json.dumps(_provenance(base, adapter), indent=1))
        try:
            tmp.rename(out)
        except OSError:  # another process finished the same merge first: keep theirs
            if not (out / MARKER).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log_fn(f"merged {adapter} into {base} in {time.perf_counter() - t0:.1f}s: {out}")
    return out


def _merge(base: Path, adapter: Path) -> Any:
    try:
        import torch
        from peft import PeftModel
        from transformers import AutoModelForCausalLM
    except ImportError as exc:
        raise EngineConfigError(
            "--merge-adapter needs transformers and peft: pip install 'evalsuite[hf]'"
        ) from exc
    config = json.loads((base / "config.json").read_text())
    dtype = getattr(torch, str(config.get("dtype") or config.get("torch_dtype") or "float32"), torch.float32)
    try:
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
        merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    except Exception as exc:
        raise EngineError(f"--merge-adapter: merging {adapter} into {base} failed ({exc})") from exc
    return merged.to(dtype)


def _provenance(base: Path, adapter: Path) -> dict[str, Any]:
    import peft

    return {
        "base": str(base.resolve()),
        "base_fingerprint": fingerprint_dir(base),
        "adapter": str(adapter.resolve()),
        "adapter_fingerprint": fingerprint_dir(adapter),
        "peft": peft.__version__,
    }
