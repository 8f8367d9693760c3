"""Gates that decide a run's exit status: ``--min-score`` thresholds and ``--baseline`` regressions.

A gate never fails because the model got some items wrong; it fails when a benchmark's score is
below what the user asked for, or when it dropped against a baseline by more than ``max_drop``
*and* the drop is statistically significant on the items both runs share.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evalsuite.metrics import PairedTest, Summary, check_metric_name, item_value, paired_test
from evalsuite.types import ItemResult, RunRecord

_THRESHOLD_HELP = (
    'Expected --min-score like "math500=0.75,aime24=0.2" (benchmark=score in [0, 1], comma-separated)'
)
_MAX_IDS = 20  # ids listed in a gate message before "..."; details keep them all


@dataclass(frozen=True)
class GateResult:
    """The verdict of one gate on one benchmark."""

    name: str
    """Gate and benchmark, e.g. ``min-score:math500`` or ``baseline:math500``."""
    passed: bool
    """Whether the gate lets the run pass."""
    message: str
    """One line a CI log reader understands."""
    details: Mapping[str, Any] = field(default_factory=dict)
    """Numbers behind the message (JSON-ready)."""


@dataclass(frozen=True)
class BenchmarkComparison:
    """One benchmark of a run paired item by item with the same benchmark of a baseline."""

    benchmark: str
    """Benchmark name."""
    metric: str
    """Metric whose per-item values are compared."""
    item_ids: tuple[str, ...]
    """Paired item ids (present and scorable on both sides), in the run's order."""
    run_values: tuple[float, ...]
    """Per-item values of the run, aligned with ``item_ids``."""
    base_values: tuple[float, ...]
    """Per-item values of the baseline, aligned with ``item_ids``."""
    only_in_run: tuple[str, ...]
    """Item ids the baseline lacks."""
    only_in_baseline: tuple[str, ...]
    """Item ids the run lacks."""
    unscorable: tuple[str, ...]
    """Ids present on both sides but without a value on one (all samples errored, or n < k)."""
    test: PairedTest | None
    """The paired test, ``None`` when the benchmark is missing from one side."""

    @property
    def flipped_down(self) -> tuple[str, ...]:
        """Items correct in the baseline and wrong in the run (per-item value >= 0.5 counts as correct)."""
        return tuple(
            i
            for i, r, b in zip(self.item_ids, self.run_values, self.base_values, strict=True)
            if b >= 0.5 > r
        )

    @property
    def flipped_up(self) -> tuple[str, ...]:
        """Items wrong in the baseline and correct in the run."""
        return tuple(
            i
            for i, r, b in zip(self.item_ids, self.run_values, self.base_values, strict=True)
            if r >= 0.5 > b
        )


def parse_thresholds(spec: str) -> dict[str, float]:
    """Parse ``"math500=0.75,aime24=0.2"`` into ``{"math500": 0.75, "aime24": 0.2}``.

    Raises:
        ValueError: naming ``--min-score`` and the expected syntax, on any malformed entry.
    """
    out: dict[str, float] = {}
    for raw in spec.split(","):
        part = raw.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name:
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


def check_min_score(
    summary: Summary, thresholds: Mapping[str, float], metric: str = "avg@n"
) -> list[GateResult]:
    """One gate per threshold: the benchmark's ``metric`` must be at least its threshold.

    A benchmark named in ``thresholds`` but absent from the run, or without that metric (e.g.
    ``pass@4`` with one sample), fails: the user asked for a guarantee the run cannot give.
    """
    check_metric_name(metric)
    results = []
    for bench, minimum in thresholds.items():
        name = f"min-score:{bench}"
        summ = summary.benchmarks.get(bench)
        if summ is None:
            known = ", ".join(summary.benchmarks) or "none"
            results.append(
                GateResult(
                    name,
                    False,
                    f"{bench}: not in this run (ran: {known}); remove it from --min-score or select it",
                    {"min": minimum},
                )
            )
            continue
        est = summ.metrics.get(metric)
        if est is None:
            results.append(
                GateResult(
                    name,
                    False,
                    f"{bench}: no {metric} (not enough valid samples per "
                    f"item, or all errored); cannot check min {minimum:g}",
                    {"min": minimum},
                )
            )
            continue
        ok = est.value >= minimum
        op = ">=" if ok else "<"
        msg = f"{bench}: {metric} {est.value:.3f} {op} min {minimum:g}"
        if not ok:
            msg += f" (95% CI {est.ci_low:.3f}-{est.ci_high:.3f}, n={est.n})"
        results.append(
            GateResult(
                name,
                ok,
                msg,
                {
                    "metric": metric,
                    "value": est.value,
                    "min": minimum,
                    "ci_low": est.ci_low,
                    "ci_high": est.ci_high,
                    "n": est.n,
                },
            )
        )
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


def _by_id(items: Sequence[ItemResult], benchmark: str) -> dict[str, ItemResult]:
    return {it.item_id: it for it in items if it.benchmark == benchmark}


def compare_benchmark(
    run: RunRecord,
    baseline: RunRecord,
    benchmark: str,
    *,
    metric: str = "avg@n",
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> BenchmarkComparison:
    """Pair the items of ``benchmark`` by id and run the paired test on their ``metric`` values."""
    check_metric_name(metric)
    mine, theirs = _by_id(run.items, benchmark), _by_id(baseline.items, benchmark)
    ids, rv, bv, unscorable = [], [], [], []
    for item_id, it in mine.items():
        if item_id not in theirs:
            continue
        r, b = item_value(it, metric), item_value(theirs[item_id], metric)
        if r is None or b is None:
            unscorable.append(item_id)
        else:
            ids.append(item_id)
            rv.append(r)
            bv.append(b)
    present = bool(mine) and bool(theirs)
    test = paired_test(rv, bv, confidence=confidence, n_resamples=n_resamples, seed=seed) if present else None
    return BenchmarkComparison(
        benchmark,
        metric,
        tuple(ids),
        tuple(rv),
        tuple(bv),
        only_in_run=tuple(i for i in mine if i not in theirs),
        only_in_baseline=tuple(i for i in theirs if i not in mine),
        unscorable=tuple(unscorable),
        test=test,
    )


def compare_runs(
    run: RunRecord,
    baseline: RunRecord,
    *,
    metric: str = "avg@n",
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> list[BenchmarkComparison]:
    """``compare_benchmark`` for every benchmark of either run (the run's order, then baseline-only ones)."""
    names = list(dict.fromkeys([it.benchmark for it in run.items] + [it.benchmark for it in baseline.items]))
    return [
        compare_benchmark(
            run, baseline, b, metric=metric, confidence=confidence, n_resamples=n_resamples, seed=seed
        )
        for b in names
    ]


def _ids(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:_MAX_IDS])
    return shown + (f", ... (+{len(ids) - _MAX_IDS})" if len(ids) > _MAX_IDS else "")


def _missing_note(cmp: BenchmarkComparison) -> str:
    notes = []
    if cmp.only_in_baseline:
        notes.append(f"{len(cmp.only_in_baseline)} items only in baseline [{_ids(cmp.only_in_baseline)}]")
    if cmp.only_in_run:
        notes.append(f"{len(cmp.only_in_run)} items only in this run [{_ids(cmp.only_in_run)}]")
    if cmp.unscorable:
        notes.append(f"{len(cmp.unscorable)} items without a score on one side [{_ids(cmp.unscorable)}]")
    return ("; not compared: " + "; ".join(notes)) if notes else ""


def comparison_details(cmp: BenchmarkComparison) -> dict[str, Any]:
    """JSON-ready numbers and id lists of a comparison (what gate details and reports store)."""
    t = cmp.test
    return {
        "metric": cmp.metric,
        "paired_items": len(cmp.item_ids),
        "test": None if t is None else {k: getattr(t, k) for k in t.__dataclass_fields__},
        "only_in_run": list(cmp.only_in_run),
        "only_in_baseline": list(cmp.only_in_baseline),
        "unscorable": list(cmp.unscorable),
        "flipped_down": list(cmp.flipped_down),
        "flipped_up": list(cmp.flipped_up),
    }


def check_baseline(
    run: RunRecord,
    baseline: RunRecord,
    *,
    max_drop: float = 0.02,
    alpha: float = 0.05,
    metric: str = "avg@n",
    n_resamples: int = 10_000,
    seed: int = 0,
) -> list[GateResult]:
    """One gate per benchmark of the run: fail on a drop larger than ``max_drop`` with one-sided p < ``alpha``.

    Items are paired by id. With 0/1 per-item values (one sample per item, ``maj@n``,
    ``any_correct``) the test is exact McNemar; otherwise a seeded sign-flip permutation test.
    Items present on one side only, or unscorable on one side, are listed in the message and details.
    A benchmark the baseline lacks passes with a note; one that shares no scorable item fails,
    because a baseline that cannot be compared must not pass silently.
    """
    if max_drop < 0 or not 0 < alpha < 1:
        raise ValueError(f"--baseline needs max_drop >= 0 and 0 < alpha < 1, got {max_drop}, {alpha}")
    results = []
    for cmp in compare_runs(run, baseline, metric=metric, n_resamples=n_resamples, seed=seed):
        name, details = f"baseline:{cmp.benchmark}", comparison_details(cmp)
        details.update(max_drop=max_drop, alpha=alpha, baseline_run_id=baseline.run_id)
        t = cmp.test
        if t is None:
            where = "this run" if cmp.only_in_baseline else f"baseline {baseline.run_id}"
            results.append(GateResult(name, True, f"{cmp.benchmark}: not in {where}; not compared", details))
            continue
        if t.n == 0:
            results.append(
                GateResult(
                    name,
                    False,
                    f"{cmp.benchmark}: no item shared with baseline "
                    f"{baseline.run_id} has a {metric} on both sides; check that both runs "
                    f"used the same items{_missing_note(cmp)}",
                    details,
                )
            )
            continue
        drop = -t.delta
        failed = drop > max_drop and t.p_drop < alpha
        change = f"({t.base_mean:.3f} → {t.run_mean:.3f}) vs baseline, p={t.p_drop:.3g}"
        if failed:
            msg = f"{cmp.benchmark}: dropped {drop:.3f} {change} < {alpha:g}, max drop {max_drop:g}"
        elif drop > max_drop:
            msg = f"{cmp.benchmark}: dropped {drop:.3f} {change} ≥ {alpha:g}, not significant"
        else:
            msg = f"{cmp.benchmark}: {metric} {t.delta:+.3f} {change}, within max drop {max_drop:g}"
        msg += f" [{t.losses} worse, {t.gains} better of {t.n}, {t.method}]" + _missing_note(cmp)
        results.append(GateResult(name, not failed, msg, details))
    return results
