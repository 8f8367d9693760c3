"""``report.html``: one self-contained page (inline CSS, JS and data; no network) for a run.

The page is ``report.html`` + ``report.css`` + ``report.js`` (package data next to this module)
with the run embedded as JSON in a ``<script type="application/json">``. The JSON is escaped so
that no output can close that element (``<``, ``>``, ``&`` become ``\\u003c``...), and the script
renders every string with ``textContent``: model outputs full of HTML, ``</script>`` and LaTeX
show as text.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from evalsuite import __version__
from evalsuite.comparison import GroupComparison, benchmarks_only, comparison_details, worst_first
from evalsuite.gates import GateResult
from evalsuite.metrics import Summary, majority_answer, valid_samples
from evalsuite.position_bias import position_biases
from evalsuite.redaction import redact
from evalsuite.reports.flips import Flip
from evalsuite.reports.junit import item_status
from evalsuite.reports.records import model_name
from evalsuite.types import ItemResult, RunRecord

MAX_OUTPUT_CHARS = 100_000
"""Characters of each output embedded in the page; the rest is in ``details/*.jsonl``."""
MAX_TOTAL_CHARS = 50_000_000
"""Budget for all embedded outputs together, so the page stays loadable (the cap per output shrinks
to fit, but never below ``MIN_OUTPUT_CHARS``)."""
MIN_OUTPUT_CHARS = 1_000

_CHIP_KEYS = (
    "model",
    "model_fingerprint",
    "adapter",
    "engine",
    "samples",
    "seed",
    "temperature",
    "max_tokens",
    "git_commit",
    "started_at",
)


def _asset(name: str) -> str:
    text = resources.files("evalsuite.reports").joinpath(name).read_text(encoding="utf-8")
    # An inlined asset must not end its own <script>/<style> element early.
    if name != "report.html" and re.search(r"(?i)</(script|style)|<!--", text):
        raise RuntimeError(f"evalsuite/reports/{name} contains a closing tag or '<!--'; it cannot be inlined")
    return text


def _json_for_script(obj: Any) -> str:
    """JSON that is safe inside ``<script>``: nothing in it can end the element or open a comment."""
    text = json.dumps(obj, ensure_ascii=False, default=str, allow_nan=False)
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _cut(text: str, limit: int) -> tuple[str, int]:
    """Keep the head and the tail (where reasoning models put the answer); return the chars left out."""
    if len(text) <= limit:
        return text, 0
    head = limit * 2 // 5
    return text[:head] + "\n[…]\n" + text[len(text) - (limit - head) :], len(text) - limit


def _item(it: ItemResult, limit: int) -> dict[str, Any]:
    valid = valid_samples(it)
    samples = []
    for s in it.samples:
        out, cut = _cut(s.output, limit)
        samples.append(
            {
                "i": s.index,
                "out": out,
                "cut": cut,
                "ok": s.correct,
                "sc": s.score,
                "ex": s.extracted,
                "reason": s.reason,
                "fin": s.finish_reason,
                "tok": s.output_tokens,
                "err": s.error,
            }
        )
    return {
        "b": it.benchmark,
        "id": it.item_id,
        "g": {str(k): str(v) for k, v in it.groups.items()},
        "prompt": _cut(it.prompt, limit)[0],
        "gold": it.gold if isinstance(it.gold, str) else json.dumps(it.gold, default=str),
        "maj": getattr(majority_answer(valid), "extracted", None),
        "st": item_status(it),
        "v": sum(s.score for s in valid) / len(valid) if valid else None,
        "s": samples,
    }


def _chips(meta: Mapping[str, Any]) -> dict[str, str]:
    flat: dict[str, Any] = {}
    for k, v in meta.items():
        if isinstance(v, Mapping):
            flat.update({kk: vv for kk, vv in v.items() if kk not in flat})
        else:
            flat.setdefault(k, v)
    return {k: str(flat[k]) for k in _CHIP_KEYS if flat.get(k) not in (None, "")}


def report_data(
    run: RunRecord,
    summary: Summary,
    gates: Sequence[GateResult],
    *,
    baseline: RunRecord | None = None,
    comparisons: Sequence[GroupComparison] = (),
    flips: Sequence[Flip] = (),
    title: str | None = None,
    max_output_chars: int = MAX_OUTPUT_CHARS,
) -> dict[str, Any]:
    """The JSON the page renders (exposed for tests and for tools that want the same view)."""
    meta = redact(run.meta)
    n_samples = sum(len(it.samples) for r in (run, baseline) if r is not None for it in r.items)
    limit = min(max_output_chars, max(MIN_OUTPUT_CHARS, MAX_TOTAL_CHARS // max(n_samples, 1)))
    data: dict[str, Any] = {
        "title": title or f"evalsuite report — {model_name(run.meta)}",
        "version": __version__,
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "run": {"run_id": run.run_id, "model": model_name(run.meta), "meta": meta, "chips": _chips(meta)},
        "summary": summary.to_dict(),
        "position_bias": {b: pb.to_dict() for b, pb in position_biases(run.items).items()},
        "gates": [{"name": g.name, "passed": g.passed, "message": g.message} for g in gates],
        "items": [_item(it, limit) for it in run.items],
        "baseline": None,
    }
    if baseline is not None:
        gate = next(
            (g.details for g in gates if g.name.startswith("baseline:") and "max_drop" in g.details), {}
        )
        max_drop, alpha = float(gate.get("max_drop", 0.02)), float(gate.get("alpha", 0.05))
        ordered = []
        for bench in benchmarks_only(comparisons):
            subs = [c for c in comparisons if c.benchmark == bench.benchmark and c.key is not None]
            ordered += [bench, *worst_first(subs, max_drop=max_drop, alpha=alpha)]
        data["baseline"] = {
            "run_id": baseline.run_id,
            "model": model_name(baseline.meta),
            "metric": comparisons[0].metric if comparisons else "avg@n",
            "items": {it.nodeid: _item(it, limit) for it in baseline.items},
            "comparisons": [
                {**comparison_details(c), "dropped": c.dropped(max_drop=max_drop, alpha=alpha)}
                for c in ordered
            ],
            "similarity": {f.nodeid: f.similarity for f in flips if f.similarity is not None},
            # Per-item values of the compared metric on both sides, for each flipped item.
            "flip_values": {
                f"{c.benchmark}/{i}": [b, r]
                for c in benchmarks_only(comparisons)
                for i, r, b in zip(c.item_ids, c.run_values, c.base_values, strict=True)
                if (b >= 0.5) != (r >= 0.5)
            },
        }
    return data


def render_html(
    run: RunRecord,
    summary: Summary,
    gates: Sequence[GateResult],
    *,
    baseline: RunRecord | None = None,
    comparisons: Sequence[GroupComparison] = (),
    flips: Sequence[Flip] = (),
    title: str | None = None,
    max_output_chars: int = MAX_OUTPUT_CHARS,
) -> str:
    """The whole page as a string.

    With ``baseline``, pass ``comparisons`` from ``comparison.compare_runs_grouped`` (the page lists
    them per benchmark, worst subgroup first) and optionally ``flips`` from ``reports.flips`` with a
    similarity of the two outputs of each flipped item.
    """
    data = report_data(
        run,
        summary,
        gates,
        baseline=baseline,
        comparisons=comparisons,
        flips=flips,
        title=title,
        max_output_chars=max_output_chars,
    )
    parts = {
        "TITLE": html.escape(data["title"]),
        "CSS": _asset("report.css"),
        "JS": _asset("report.js"),
        "DATA": _json_for_script(data),
    }
    # One pass, so that nothing substituted is itself searched for placeholders.
    return re.sub(
        r"/\*\{\{(CSS|JS)\}\}\*/|\{\{(TITLE|DATA)\}\}",
        lambda m: parts[m.group(1) or m.group(2)],
        _asset("report.html"),
    )


def write_html(
    path: Path, run: RunRecord, summary: Summary, gates: Sequence[GateResult], **kwargs: Any
) -> Path:
    """Write ``render_html(...)`` to ``path``."""
    path.write_text(render_html(run, summary, gates, **kwargs), encoding="utf-8")
    return path
