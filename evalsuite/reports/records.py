"""The JSON side of a run directory: the lossless record, per-sample details, meta, summary, eval args.

``run.json`` + ``items.jsonl`` hold the full ``RunRecord`` (what ``read_run`` reads back for
``--baseline`` and ``evalsuite compare``); ``details/<benchmark>.jsonl`` is the flat per-sample view
people grep and load into pandas (one line per sample, EvalScope-style field names).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalsuite.metrics import Breakdown, Summary
from evalsuite.redaction import redact
from evalsuite.types import ItemResult, RunRecord, item_result_from_dict

FORMAT_VERSION = 1
def model_name(meta: Mapping[str, Any]) -> str:
    """The model's display name: ``meta["model_name"]``, else the basename of ``meta["model"]``."""
    name = meta.get("model_name") or str(meta.get("model") or "model").rstrip("/\\")
    return re.split(r"[/\\]", str(name))[-1] or "model"


def safe_filename(name: str) -> str:
    """``name`` with everything but letters, digits, ``.``, ``-`` and ``_`` replaced by ``_``."""
    return re.sub(r"[^\w.-]", "_", name).strip(".") or "_"


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def write_record(run_dir: Path, run: RunRecord) -> tuple[Path, Path]:
    """Write the lossless ``run.json`` (id, redacted meta) and ``items.jsonl`` (one ItemResult per line)."""
    run_json, items_jsonl = run_dir / "run.json", run_dir / "items.jsonl"
    run_json.write_text(
        json.dumps(
            {"format_version": FORMAT_VERSION, "run_id": run.run_id, "meta": redact(run.meta)},
            indent=2,
            ensure_ascii=False,
            default=str,
        ),
        encoding="utf-8",
    )
    with items_jsonl.open("w", encoding="utf-8") as f:
        for it in run.items:
            f.write(_dump(dataclasses.asdict(it)) + "\n")
    return run_json, items_jsonl


def read_run(run_dir: Path | str) -> RunRecord:
    """Read back the ``RunRecord`` that ``write_reports`` wrote into ``run_dir``.

    Used by ``--baseline`` and ``evalsuite compare``. JSON turns tuples inside ``gold``/``meta`` into
    lists; everything else round-trips exactly.

    Raises:
        FileNotFoundError: when ``run_dir`` holds no ``run.json``/``items.jsonl``, saying what to pass.
    """
    run_dir = Path(run_dir)
    run_json, items_jsonl = run_dir / "run.json", run_dir / "items.jsonl"
    if not run_json.is_file() or not items_jsonl.is_file():
        raise FileNotFoundError(
            f"{run_dir} is not an evalsuite run directory (no run.json/items.jsonl); "
            f"pass a directory written by an evalsuite run, e.g. reports/<run_id>"
        )
    head = json.loads(run_json.read_text(encoding="utf-8"))
    if head.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(
            f"{run_json} has format {head['format_version']}, newer than this evalsuite "
            f"reads ({FORMAT_VERSION}); upgrade evalsuite"
        )
    with items_jsonl.open(encoding="utf-8") as f:
        items = tuple(item_result_from_dict(json.loads(line)) for line in f if line.strip())
    return RunRecord(head["run_id"], head.get("meta", {}), items)


def write_details(run_dir: Path, items: Sequence[ItemResult]) -> Path:
    """Write ``details/<benchmark>.jsonl``: one line per sample, EvalScope-style field names."""
    out = run_dir / "details"
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {}
    try:
        for it in items:
            f = files.get(it.benchmark)
            if f is None:
                f = files[it.benchmark] = (out / f"{safe_filename(it.benchmark)}.jsonl").open(
                    "w", encoding="utf-8"
                )
            for s in it.samples:
                f.write(
                    _dump(
                        {
                            "id": it.item_id,
                            "index": s.index,
                            "prompt": it.prompt,
                            "output": s.output,
                            "output_len": s.output_tokens,
                            "ground_truth": it.gold,
                            "score": s.score,
                            "correct": s.correct,
                            "extracted_output": s.extracted,
                            "reason": s.reason,
                            "finish_reason": s.finish_reason,
                            "error": s.error,
                            "groups": dict(it.groups),
                        }
                    )
                    + "\n"
                )
    finally:
        for f in files.values():
            f.close()
    return out


def _meta_row(bench: str, subset: str, key: str | None, value: str | None, b: Breakdown) -> dict[str, Any]:
    avg = b.metrics.get("avg@n")
    return {
        "benchmark": bench,
        "subset": subset,
        "group_key": key,
        "group_value": value,
        "n_items": b.n_items,
        "n_samples": b.n_samples,
        "score": None if avg is None else avg.value,
        "ci_low": None if avg is None else avg.ci_low,
        "ci_high": None if avg is None else avg.ci_high,
        "avg_output_tokens": b.lengths.mean,
        "truncation_rate": b.truncation_rate,
        "error_samples": b.errors.samples,
    }


def write_meta(run_dir: Path, summary: Summary) -> Path:
    """Write ``meta.jsonl``: per benchmark (subset ``ALL``) and per subgroup, average score and length."""
    path = run_dir / "meta.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for name, bs in summary.benchmarks.items():
            f.write(_dump(_meta_row(name, "ALL", None, None, bs.overall)) + "\n")
            for g in bs.subgroups:
                f.write(_dump(_meta_row(name, f"{g.key}={g.value}", g.key, g.value, g.stats)) + "\n")
    return path


def write_json(path: Path, obj: Any) -> Path:
    """Write ``obj`` as indented UTF-8 JSON (non-JSON values via ``str``)."""
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return path
