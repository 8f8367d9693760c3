"""Everything a run writes into ``reports/<run_id>/``, and ``read_run`` to read a run back.

``write_reports`` is what the plugin calls at session end; ``read_run`` is what ``--baseline`` and
``evalsuite compare`` call, so both read exactly what was written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from evalsuite.comparison import GroupComparison, compare_runs_grouped, comparison_details
from evalsuite.gates import GateResult
from evalsuite.metrics import Summary
from evalsuite.position_bias import position_biases
from evalsuite.reports.html import render_html, write_html
from evalsuite.reports.junit import item_status, write_junit
from evalsuite.reports.records import (
    model_name,
    read_run,
    redact,
    safe_filename,
    write_details,
    write_json,
    write_meta,
    write_record,
)
from evalsuite.reports.xlsx import write_xlsx
from evalsuite.types import RunRecord

__all__ = ["item_status", "model_name", "read_run", "redact", "render_html", "write_reports"]


def write_reports(
    run_dir: Path,
    run: RunRecord,
    summary: Summary,
    gates: Sequence[GateResult],
    *,
    baseline: RunRecord | None = None,
    metric: str = "avg@n",
    comparisons: Sequence[GroupComparison] | None = None,
) -> dict[str, Path]:
    """Write every report of ``run`` into ``run_dir`` (created if needed).

    Args:
        run_dir: Target directory, usually ``reports/<run_id>``.
        run: The finished run.
        summary: ``metrics.summarize(run.items, ...)``.
        gates: Results of ``gates.check_min_score`` / ``gates.check_baseline`` (may be empty).
        baseline: The ``--baseline`` run, to list flipped items and deltas in the HTML and summary.
        metric: Metric the baseline comparison pairs on (the one the baseline gate used).
        comparisons: ``comparison.compare_runs_grouped(run, baseline, ...)`` as the gate computed
            it (same correction and group size); computed with the defaults when ``None``.

    Returns:
        Report name -> path: ``run``, ``items`` (lossless record), ``details`` (directory), ``meta``,
        ``summary``, ``eval_args``, ``junit``, ``html``, ``xlsx``.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if baseline is None:
        comparisons = []
    elif comparisons is None:
        comparisons = compare_runs_grouped(run, baseline, metric=metric)
    paths: dict[str, Path] = {}
    paths["run"], paths["items"] = write_record(run_dir, run)
    paths["details"] = write_details(run_dir, run.items)
    paths["meta"] = write_meta(run_dir, summary)
    paths["summary"] = write_json(
        run_dir / "summary.json",
        {
            "run_id": run.run_id,
            "model": model_name(run.meta),
            "passed": all(g.passed for g in gates),
            "gates": [dataclasses.asdict(g) for g in gates],
            "summary": summary.to_dict(),
            "position_bias": {b: pb.to_dict() for b, pb in position_biases(run.items).items()},
            "baseline": None
            if baseline is None
            else {
                "run_id": baseline.run_id,
                "model": model_name(baseline.meta),
                "metric": metric,
                "comparisons": [comparison_details(c) for c in comparisons],
            },
            "meta": redact(run.meta),
        },
    )
    paths["eval_args"] = write_json(run_dir / "eval_args.json", redact(run.meta))
    paths["junit"] = write_junit(run_dir / "junit.xml", run, summary)
    paths["html"] = write_html(
        run_dir / "report.html", run, summary, gates, baseline=baseline, comparisons=comparisons
    )
    paths["xlsx"] = write_xlsx(
        run_dir / f"{safe_filename(model_name(run.meta))}_scores.xlsx", run.items, summary
    )
    return paths
