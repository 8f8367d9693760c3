"""The names of the metrics gates and reports read, checked without importing numpy (options use it)."""

from __future__ import annotations

METRIC_HELP = 'Use "avg@n", "maj@n", "any_correct" or "pass@K" with an integer K >= 1, e.g. "pass@1".'


def check_metric_name(metric: str) -> str:
    """Return ``metric`` when it names a known metric, else raise a ``ValueError`` saying what is valid."""
    if metric in ("avg@n", "maj@n", "any_correct"):
        return metric
    if metric.startswith("pass@"):
        k = metric[5:]
        if k.isdigit() and int(k) >= 1:
            return metric
    raise ValueError(f"Unknown metric {metric!r}. {METRIC_HELP}")


CORRECTIONS = ("holm", "bonferroni", "none")
"""Multiple-comparison corrections ``metrics.adjust_pvalues`` knows (``--correction``)."""
