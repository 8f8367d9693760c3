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
import uuid
from collections.abc import Iterator, Mapping, Sequence
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
    data, limit = _page_data(
        run, summary, gates, baseline=baseline, comparisons=comparisons, flips=flips, title=title,
        max_output_chars=max_output_chars,
    )
    data["items"] = [_item(it, limit) for it in run.items]
    return data


def _page_data(
    run: RunRecord,
    summary: Summary,
    gates: Sequence[GateResult],
    *,
    baseline: RunRecord | None,
    comparisons: Sequence[GroupComparison],
    flips: Sequence[Flip],
    title: str | None,
    max_output_chars: int,
) -> tuple[dict[str, Any], int]:
    """``report_data`` without the run's items (``"items"`` holds its place): the data, and the cap per output."""
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
        "items": None,
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
    return data, limit


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
    return "".join(
        html_chunks(
            run, summary, gates, baseline=baseline, comparisons=comparisons, flips=flips, title=title,
            max_output_chars=max_output_chars,
        )
    )


def html_chunks(
    run: RunRecord,
    summary: Summary,
    gates: Sequence[GateResult],
    *,
    baseline: RunRecord | None = None,
    comparisons: Sequence[GroupComparison] = (),
    flips: Sequence[Flip] = (),
    title: str | None = None,
    max_output_chars: int = MAX_OUTPUT_CHARS,
) -> Iterator[str]:
    """``render_html``'s page in pieces, each of the run's items encoded on its own: written out as they
    come, the page never exists whole in memory (at 10,000 items it took ~3 KB per item: data, JSON, page)."""
    data, limit = _page_data(
        run, summary, gates, baseline=baseline, comparisons=comparisons, flips=flips, title=title,
        max_output_chars=max_output_chars,
    )
    marker = f"evalsuite-items-{uuid.uuid4().hex}"
    data["items"] = marker
    before_items, after_items = _json_for_script(data).split(_json_for_script(marker), 1)

    def page_data() -> Iterator[str]:
        yield before_items + "["
        for n, it in enumerate(run.items):
            yield (", " if n else "") + _json_for_script(_item(it, limit))
        yield "]" + after_items

    parts = {"TITLE": html.escape(data["title"]), "CSS": _asset("report.css"), "JS": _asset("report.js")}
    template = _asset("report.html")
    end = 0
    # One pass, so that nothing substituted is itself searched for placeholders.
    for m in re.finditer(r"/\*\{\{(CSS|JS)\}\}\*/|\{\{(TITLE|DATA)\}\}", template):
        yield template[end : m.start()]
        name = m.group(1) or m.group(2)
        if name == "DATA":
            yield from page_data()
        else:
            yield parts[name]
        end = m.end()
    yield template[end:]


def write_html(
    path: Path, run: RunRecord, summary: Summary, gates: Sequence[GateResult], **kwargs: Any
) -> Path:
    """Write the page to ``path``, piece by piece (``html_chunks``)."""
    with path.open("w", encoding="utf-8") as out:
        for chunk in html_chunks(run, summary, gates, **kwargs):
            out.write(chunk)
    return path
