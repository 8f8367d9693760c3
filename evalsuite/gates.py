"""Gates that decide a run's exit status: ``--min-score`` thresholds and ``--baseline`` regressions.

A gate never fails because the model got some items wrong; it fails when a benchmark's (or a
subgroup's) score is below what the user asked for, or when a benchmark or one of its subgroups
dropped against a baseline by more than ``max_drop`` *and* the drop is significant on the items
both runs share after one multiple-comparison correction over all the run's tests
(``evalsuite.comparison``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evalsuite.comparison import (
    DEFAULT_MIN_GROUP_SIZE,
    GroupComparison,
    compare_runs_grouped,
    comparison_details,
    worst_first,
)
from evalsuite.metrics import Estimate, Summary, check_metric_name
from evalsuite.types import RunRecord

_THRESHOLD_HELP = (
    'Expected --min-score like "math500=0.75,builtin/expr=0.1,math500/level=level5=0.3" '
    "(benchmark or benchmark/group=score in [0, 1], comma-separated)"
)
_MAX_IDS = 20  # ids listed in a gate message before "..."; details keep them all
_MAX_ALSO = 3  # further failing subgroups named in a gate message


@dataclass(frozen=True)
class GateResult:
    """The verdict of one gate on one benchmark (or one subgroup, for ``--min-score``)."""

    name: str
    """Gate and target, e.g. ``min-score:math500``, ``min-score:builtin/task=expr``, ``baseline:math500``."""
    passed: bool
    """Whether the gate lets the run pass."""
    message: str
    """One line a CI log reader understands (for a baseline gate: the worst subgroup first)."""
    details: Mapping[str, Any] = field(default_factory=dict)
    """Numbers behind the message (JSON-ready)."""


# ---------------------------------------------------------------------------------------- --min-score


def parse_thresholds(spec: str) -> dict[str, float]:
    """Parse ``"math500=0.75,builtin/expr=0.1,builtin/task=add=0.5"`` into ``{target: score}``.

    A target is a benchmark, or ``benchmark/value`` / ``benchmark/key=value`` for one subgroup;
    the score is after the last ``=``.

    Raises:
        ValueError: naming ``--min-score`` and the expected syntax, on any malformed entry.
    """
    out: dict[str, float] = {}
    for raw in spec.split(","):
        part = raw.strip()
        if not part:
            continue
        name, sep, value = part.rpartition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or name.endswith("/") or name.startswith("/"):
            raise ValueError(f"{_THRESHOLD_HELP}; got {part!r} in {spec!r}")
        try:
            score = float(value)
        except ValueError:
            raise ValueError(f"{_THRESHOLD_HELP}; {value!r} for {name!r} is not a number") from None
        if not 0.0 <= score <= 1.0 or math.isnan(score):
            raise ValueError(f"{_THRESHOLD_HELP}; {name}={value} is outside [0, 1]")
        if name in out:
            raise ValueError(f"{_THRESHOLD_HELP}; {name!r} is given twice")
        out[name] = score
    return out


def _subgroup_estimate(summary: Summary, target: str, metric: str) -> tuple[str, Estimate | None, str | None]:
    """(canonical name, estimate or None, failure text or None) of a ``benchmark/group`` target.

    A bare value that names subgroups under two keys fails, saying which ``key=value`` to write.
    """
    bench, _, group = target.partition("/")
    summ = summary.benchmarks.get(bench)
    if summ is None:
        known = ", ".join(summary.benchmarks) or "none"
        return target, None, f"not in this run (ran: {known}); remove it from --min-score or select it"
    if "=" in group:
        key, _, value = group.partition("=")
        hits = [s for s in summ.subgroups if s.key == key.strip() and s.value == value.strip()]
    else:
        hits = [s for s in summ.subgroups if s.value == group]
    if len(hits) > 1:
        options = ", ".join(f"{bench}/{s.key}={s.value}" for s in hits)
        return target, None, f"names subgroups under several keys; write one of {options} in --min-score"
    if not hits:
        known = ", ".join(f"{s.key}={s.value}" for s in summ.subgroups) or "none"
        return target, None, f"no such subgroup in {bench} (its groups: {known})"
    sub = hits[0]
    name = f"{bench}/{sub.key}={sub.value}"
    est = sub.stats.metrics.get(metric)
    why = None if est is not None else f"no {metric} (not enough valid samples per item, or all errored)"
    return name, est, why


def check_min_score(
    summary: Summary, thresholds: Mapping[str, float], metric: str = "avg@n"
) -> list[GateResult]:
    """One gate per threshold: the benchmark's or subgroup's ``metric`` must be at least its threshold.

    A target absent from the run, or without that metric (e.g. ``pass@4`` with one sample), fails:
    the user asked for a guarantee the run cannot give. Subgroup targets ignore ``min_group_size``:
    the user named them.
    """
    check_metric_name(metric)
    results = []
    for target, minimum in thresholds.items():
        if "/" in target:
            name, est, why = _subgroup_estimate(summary, target, metric)
        else:
            name, summ = target, summary.benchmarks.get(target)
            est = None if summ is None else summ.metrics.get(metric)
            if summ is None:
                known = ", ".join(summary.benchmarks) or "none"
                why = f"not in this run (ran: {known}); remove it from --min-score or select it"
            else:
                why = (
                    None
                    if est is not None
                    else f"no {metric} (not enough valid samples per item, or all errored)"
                )
        if est is None:
            tail = (
                ""
                if why and ("not in this run" in why or "several keys" in why)
                else f"; cannot check min {minimum:g}"
            )
            results.append(GateResult(f"min-score:{name}", False, f"{name}: {why}{tail}", {"min": minimum}))
            continue
        ok = est.value >= minimum
        msg = f"{name}: {metric} {est.value:.3f} {'>=' if ok else '<'} min {minimum:g}"
        if not ok:
            msg += f" (95% CI {est.ci_low:.3f}-{est.ci_high:.3f}, n={est.n})"
        details = {
            "metric": metric,
            "value": est.value,
            "min": minimum,
            "ci_low": est.ci_low,
            "ci_high": est.ci_high,
            "n": est.n,
        }
        results.append(GateResult(f"min-score:{name}", ok, msg, details))
    return results


def check_max_truncation(summary: Summary, max_rate: float) -> list[GateResult]:
    """One gate per benchmark: its share of truncated samples must not exceed ``max_rate``.

    A truncated sample was cut off before its final answer; many of them mean the token limit,
    not the model, decided the score (raise ``--max-tokens``).
    """
    results = []
    for bench, summ in summary.benchmarks.items():
        o = summ.overall
        ok = o.truncation_rate <= max_rate
        msg = (
            f"{bench}: truncated {o.truncated} samples ({o.truncation_rate:.1%}) "
            f"{'<=' if ok else '>'} max {max_rate:.1%}"
        )
        if not ok:
            msg += "; raise --max-tokens or --max-truncation"
        details = {"truncated": o.truncated, "rate": o.truncation_rate, "max": max_rate}
        results.append(GateResult(f"max-truncation:{bench}", ok, msg, details))
    return results


# ----------------------------------------------------------------------------------------- --baseline


def _ids(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:_MAX_IDS])
    return shown + (f", ... (+{len(ids) - _MAX_IDS})" if len(ids) > _MAX_IDS else "")


def _missing_note(cmp: GroupComparison) -> str:
    notes = []
    if cmp.only_in_baseline:
        notes.append(f"{len(cmp.only_in_baseline)} items only in baseline [{_ids(cmp.only_in_baseline)}]")
    if cmp.only_in_run:
        notes.append(f"{len(cmp.only_in_run)} items only in this run [{_ids(cmp.only_in_run)}]")
    if cmp.unscorable:
        notes.append(f"{len(cmp.unscorable)} items without a score on one side [{_ids(cmp.unscorable)}]")
    return ("; not compared: " + "; ".join(notes)) if notes else ""


def p_text(c: GroupComparison) -> str:
    """``p=0.0041 (holm over 9 tests, raw 0.00049)``, or the raw p where nothing was corrected."""
    t = c.test
    if t is None:
        return "p=–"
    if c.p_adjusted is None:
        return f"p={t.p_drop:.3g} (raw; not gated)"
    if c.correction == "none" or c.family_size <= 1:
        return f"p={c.p_adjusted:.3g}"
    return f"p={c.p_adjusted:.3g} ({c.correction} over {c.family_size} tests, raw {t.p_drop:.3g})"


def _failed_message(
    bench: GroupComparison, failing: Sequence[GroupComparison], alpha: float, max_drop: float
) -> str:
    worst, t = failing[0], failing[0].test
    assert t is not None
    where = "" if worst.key is None else f"{worst.label} "
    msg = (
        f"{bench.benchmark}: {where}dropped {-t.delta:.3f} ({t.base_mean:.3f} → {t.run_mean:.3f}) vs baseline, "
        f"{p_text(worst)} < {alpha:g}, CI {t.ci_low:+.3f}..{t.ci_high:+.3f}, max drop {max_drop:g}; "
        f"{len(worst.flipped_down)} of {t.n} items flipped to wrong, {len(worst.flipped_up)} to right"
    )
    if worst.flipped_down:
        msg += f" [{_ids(worst.flipped_down)}]"
    also = [
        f"{'whole benchmark' if c.key is None else c.label} {c.test.delta:+.3f} p={c.p_adjusted:.3g}"  # type: ignore[union-attr]
        for c in failing[1 : 1 + _MAX_ALSO]
    ]
    if also:
        more = len(failing) - 1 - len(also)
        msg += "; also dropped: " + ", ".join(also) + (f" (+{more})" if more > 0 else "")
    if bench not in failing and bench.test is not None:
        b = bench.test
        msg += f"; whole benchmark {b.delta:+.3f} ({b.base_mean:.3f} → {b.run_mean:.3f})"
    return msg


def _passed_message(
    bench: GroupComparison, subgroups: Sequence[GroupComparison], alpha: float, max_drop: float, metric: str
) -> str:
    t = bench.test
    assert t is not None
    change = f"({t.base_mean:.3f} → {t.run_mean:.3f}) vs baseline, {p_text(bench)}"
    if -t.delta > max_drop:
        msg = f"{bench.benchmark}: dropped {-t.delta:.3f} {change} ≥ {alpha:g}, not significant"
    else:
        msg = f"{bench.benchmark}: {metric} {t.delta:+.3f} {change}, within max drop {max_drop:g}"
    if subgroups:
        gated = sum(c.gated for c in subgroups)
        small = len(subgroups) - gated
        msg += (
            f"; no subgroup dropped significantly ({gated} tested"
            + (f", {small} too small to gate" if small else "")
            + ")"
        )
        worst = next((c for c in subgroups if c.test is not None and c.test.delta < 0), None)
        if worst is not None:
            msg += f", worst {worst.label} {worst.test.delta:+.3f} {p_text(worst)}"  # type: ignore[union-attr]
    return msg


def check_baseline(
    run: RunRecord,
    baseline: RunRecord,
    *,
    max_drop: float = 0.02,
    alpha: float = 0.05,
    metric: str = "avg@n",
    n_resamples: int = 10_000,
    seed: int = 0,
    correction: str = "holm",
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    groups: bool = True,
    mcnemar: str = "mid-p",
    comparisons: Sequence[GroupComparison] | None = None,
) -> list[GateResult]:
    """One gate per benchmark: fail when it, or one of its subgroups, dropped significantly.

    "Dropped significantly" means: a drop larger than ``max_drop`` with a corrected one-sided p
    below ``alpha`` (``evalsuite.comparison.compare_runs_grouped``: mid-p McNemar for 0/1 values,
    a seeded sign-flip permutation test otherwise, ``correction`` across every benchmark and every
    subgroup with ``min_group_size`` paired items or more). The message names the worst failing
    subgroup first (drop, CI, corrected p, flipped items). Items present on one side only, or
    unscorable on one side, are listed. A benchmark the baseline lacks passes with a note; one
    that shares no scorable item fails, because a baseline that cannot be compared must not pass
    silently.

    Args:
        comparisons: ``compare_runs_grouped(run, baseline, ...)`` already computed with the same
            options (reports reuse them); computed here when ``None``.
    """
    if max_drop < 0 or not 0 < alpha < 1:
        raise ValueError(f"--baseline needs max_drop >= 0 and 0 < alpha < 1, got {max_drop}, {alpha}")
    if comparisons is None:
        comparisons = compare_runs_grouped(
            run,
            baseline,
            metric=metric,
            n_resamples=n_resamples,
            seed=seed,
            correction=correction,
            min_group_size=min_group_size,
            groups=groups,
            mcnemar=mcnemar,
        )
    results = []
    for bench in (c for c in comparisons if c.key is None):
        subgroups = worst_first(
            [c for c in comparisons if c.benchmark == bench.benchmark and c.key is not None],
            max_drop=max_drop,
            alpha=alpha,
        )
        name, details = f"baseline:{bench.benchmark}", comparison_details(bench)
        details.update(
            max_drop=max_drop,
            alpha=alpha,
            baseline_run_id=baseline.run_id,
            min_group_size=min_group_size,
            groups=[
                {**comparison_details(c), "dropped": c.dropped(max_drop=max_drop, alpha=alpha)}
                for c in subgroups
            ],
        )
        t = bench.test
        if t is None:
            where = "this run" if bench.only_in_baseline else f"baseline {baseline.run_id}"
            results.append(
                GateResult(name, True, f"{bench.benchmark}: not in {where}; not compared", details)
            )
            continue
        if t.n == 0:
            msg = (
                f"{bench.benchmark}: no item shared with baseline {baseline.run_id} has a {bench.metric} on "
                f"both sides; check that both runs used the same items{_missing_note(bench)}"
            )
            results.append(GateResult(name, False, msg, details))
            continue
        failing = worst_first(
            [c for c in (bench, *subgroups) if c.dropped(max_drop=max_drop, alpha=alpha)],
            max_drop=max_drop,
            alpha=alpha,
        )
        if failing:
            msg = _failed_message(bench, failing, alpha, max_drop)
        else:
            msg = _passed_message(bench, subgroups, alpha, max_drop, bench.metric)
        msg += f" [{t.losses} worse, {t.gains} better of {t.n}, {t.method}]" + _missing_note(bench)
        details["dropped"] = [c.name for c in failing]
        results.append(GateResult(name, not failing, msg, details))
    return results
