"""The output layout of InternBootcamp's ``run_eval.py``, for ``--protocol internbootcamp`` runs.

``<run dir>/internbootcamp/{model}_{test_dir}_{YYYYmmdd_HHMMSS}/`` holds what its tools read:
``details/<bootcamp>.jsonl`` (one row per item: id, prompt, output_len, score, extracted_output,
ground_truth, output), ``meta.jsonl`` (one row per bootcamp: avg_score, avg_len), ``eval_args.json``
and ``progress.log`` (one finished bar per dataset, as its progress file ends). Written from the
run record, so it is the same data as the suite's own reports, in their shape.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evalsuite.redaction import redact
from evalsuite.types import ItemResult, RunRecord

BAR = 50
"""Width of a progress bar, as run_eval.py draws it."""


def layout_dir(run_dir: Path, model: str, test_dir: str, when: float | None = None) -> Path:
    """``run_dir/internbootcamp/{model}_{basename(test_dir)}_{YYYYmmdd_HHMMSS}``."""
    stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime(when))
    return run_dir / "internbootcamp" / f"{model}_{Path(test_dir.rstrip('/')).name}_{stamp}"


def detail_row(item: ItemResult) -> dict[str, Any]:
    """One ``details/<bootcamp>.jsonl`` row: the first sample, as run_eval.py evaluates one."""
    sample = item.samples[0]
    index = item.item_id.rsplit("/", 1)[-1]
    return {
        "id": int(index) if index.isdigit() else index,
        "prompt": item.prompt,
        "output_len": sample.output_tokens,
        "score": sample.score,
        "extracted_output": sample.extracted,
        "ground_truth": item.gold,
        "output": sample.output,
    }


def write_internbootcamp(run_dir: Path, run: RunRecord, *, model: str, test_dir: str,
                         options: Mapping[str, Any], when: float | None = None) -> Path:
    """Write the layout for the run's ``bootcamp`` items; returns its directory."""
    out = layout_dir(run_dir, model, test_dir, when)
    (out / "details").mkdir(parents=True, exist_ok=True)
    by_bootcamp: dict[str, list[ItemResult]] = {}
    for item in run.items:
        if item.benchmark == "bootcamp" and item.samples:
            by_bootcamp.setdefault(item.groups.get("bootcamp", "unknown"), []).append(item)
    progress = [f"Main Progress: {_bar(len(by_bootcamp), len(by_bootcamp))}"]
    with (out / "meta.jsonl").open("w", encoding="utf-8") as meta:
        for name, items in by_bootcamp.items():
            rows = [detail_row(i) for i in items]
            with (out / "details" / f"{name}.jsonl").open("w", encoding="utf-8") as f:
                f.writelines(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows)
            meta.write(json.dumps({
                "bootcamp": name,
                "avg_score": sum(float(r["score"] or 0) for r in rows) / len(rows),
                "avg_len": sum(r["output_len"] for r in rows) / len(rows),
            }) + "\n")
            progress.append(f"{name}: {_bar(len(rows), len(rows))}")
    (out / "eval_args.json").write_text(json.dumps(redact(dict(options)), indent=4, default=str), encoding="utf-8")
    (out / "progress.log").write_text("\n".join(progress) + "\n", encoding="utf-8")
    return out


def _bar(current: int, total: int) -> str:
    filled = BAR * current // max(total, 1)
    return f"{current}/{total} [{'█' * filled}{'-' * (BAR - filled)}] {current / max(total, 1):.1%} Completed✔️"
