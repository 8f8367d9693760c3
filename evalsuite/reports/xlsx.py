"""``<model>_scores.xlsx``: the spreadsheet people paste into their own tables.

Sheets: ``summary`` (every metric per benchmark and subgroup, with CIs) and ``per-item`` (one row per
item: status, scores, the first output). ``xlsx_writer`` writes the SpreadsheetML; this module decides
the rows and their look.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from evalsuite.metrics import Breakdown, Summary, majority_answer, valid_samples
from evalsuite.reports.junit import item_status
from evalsuite.reports.xlsx_writer import SheetTooLarge, XlsxWriter
from evalsuite.types import ItemResult

_SUMMARY_HEADER = (
    "benchmark",
    "subset",
    "metric",
    "value",
    "stderr",
    "ci_low",
    "ci_high",
    "n_items",
    "ci_method",
    "mean_output_tokens",
    "truncation_rate",
    "error_samples",
)
_SUMMARY_WIDTHS = (14, 24, 12, 9, 9, 9, 9, 9, 10, 12, 12, 10)
_ITEM_HEADER = (
    "benchmark",
    "item_id",
    "status",
    "groups",
    "samples",
    "correct_samples",
    "avg_score",
    "majority_extracted",
    "gold",
    "mean_output_tokens",
    "truncated",
    "error_samples",
    "first_output",
)
_ITEM_WIDTHS = (12, 30, 9, 28, 8, 9, 9, 18, 18, 10, 9, 9, 80)
_STATUS_COL = 2
_HEADER_FONT, _HEADER_FILL = "FFFFFF", "1F3A5F"  # bold white on navy
_STATUS_FILL = {"correct": "E3F4E8", "wrong": "FBE4E4", "error": "FFF1D6"}  # truncated: no fill
_FLOAT_FORMAT = "0.000"


def _sheet(
    book: XlsxWriter,
    title: str,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    widths: Sequence[int],
    status_col: int | None = None,
) -> None:
    """One sheet: bold white-on-navy frozen header, auto-filter, floats as ``0.000``, status cells filled."""
    sheet = book.add_sheet(
        title,
        widths=widths,
        freeze_header=True,
        autofilter=True,
        float_style=book.style(number_format=_FLOAT_FORMAT),
    )
    head = book.style(bold=True, color=_HEADER_FONT, fill=_HEADER_FILL)
    sheet.append(header, [head] * len(header))
    if status_col is None:
        for row in rows:
            sheet.append(row)
        return
    plain = [0] * len(header)
    by_status: dict[str, list[int]] = {}
    for status, color in _STATUS_FILL.items():
        by_status[status] = list(plain)
        by_status[status][status_col] = book.style(fill=color)
    for row in rows:
        sheet.append(row, by_status.get(row[status_col], plain))


def _summary_rows(summary: Summary) -> list[list[Any]]:
    rows = []

    def add(bench: str, subset: str, b: Breakdown) -> None:
        for name, est in b.metrics.items():
            rows.append(
                [
                    bench,
                    subset,
                    name,
                    est.value,
                    est.stderr,
                    est.ci_low,
                    est.ci_high,
                    est.n,
                    est.method,
                    b.lengths.mean,
                    b.truncation_rate,
                    b.errors.samples,
                ]
            )

    for bench, bs in summary.benchmarks.items():
        add(bench, "ALL", bs.overall)
        for g in bs.subgroups:
            add(bench, f"{g.key}={g.value}", g.stats)
    return rows


def _item_row(it: ItemResult) -> list[Any]:
    valid = valid_samples(it)
    voted = majority_answer(valid)
    tokens = [s.output_tokens for s in valid]
    first = valid[0] if valid else (it.samples[0] if it.samples else None)
    return [
        it.benchmark,
        it.item_id,
        item_status(it),
        "; ".join(f"{k}={v}" for k, v in it.groups.items()),
        len(it.samples),
        sum(s.correct for s in valid),
        sum(s.score for s in valid) / len(valid) if valid else None,
        None if voted is None else voted.extracted,
        it.gold,
        sum(tokens) / len(tokens) if tokens else None,
        sum(s.finish_reason == "length" for s in valid),
        sum(bool(s.error) for s in it.samples),
        None if first is None else (first.error or first.output),
    ]


def write_xlsx(path: Path, items: Sequence[ItemResult], summary: Summary) -> Path:
    """Write the workbook to ``path``, streaming the per-item rows (memory flat in the item count)."""
    try:
        return _write(path, items, summary, zip64=False)
    except SheetTooLarge:  # over 2 GiB of XML in one sheet: again, with ZIP64 headers
        return _write(path, items, summary, zip64=True)


def _write(path: Path, items: Sequence[ItemResult], summary: Summary, *, zip64: bool) -> Path:
    with XlsxWriter(path, zip64=zip64) as book:
        _sheet(book, "summary", _SUMMARY_HEADER, _summary_rows(summary), _SUMMARY_WIDTHS)
        _sheet(
            book,
            "per-item",
            _ITEM_HEADER,
            (_item_row(it) for it in items),
            _ITEM_WIDTHS,
            status_col=_STATUS_COL,
        )
    return path
