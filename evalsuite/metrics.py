"""Estimators and statistics over per-item results: pass@k, avg@n, maj@n, CIs, paired tests.

Pure functions, no I/O. Conventions every report and gate relies on:

* **Infrastructure errors are not wrong answers.** A sample with ``error`` set is dropped before
  any accuracy is computed; an item whose samples all errored leaves every accuracy denominator.
  Errors are counted in ``ErrorStats`` instead, so a flaky server shows up as errors, never as a
  lower score.
* **Per-item first, then the mean.** Every metric is the mean over items of a per-item value
  (``item_value``), so items with more samples do not weigh more, and paired tests against a
  baseline compare the same per-item values.
* **Intervals.** When every per-item value is 0 or 1 (one sample per item, maj@n, any_correct) the
  CI is the Wilson score interval; otherwise (averages over several samples) it is a Student-t
  interval on the per-item values, clipped to [0, 1].
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from statistics import NormalDist
from typing import Any

import numpy as np

from evalsuite.metric_names import CORRECTIONS, check_metric_name
from evalsuite.types import ItemResult, SampleResult


@dataclass(frozen=True)
class Estimate:
    """A mean over items with its uncertainty."""

    value: float
    """Point estimate (mean of per-item values), in [0, 1]."""
    stderr: float
    """Standard error of the mean."""
    ci_low: float
    """Lower bound of the confidence interval."""
    ci_high: float
    """Upper bound of the confidence interval."""
    n: int
    """Number of items the mean is over (items without any valid sample excluded)."""
    method: str = "wilson"
    """How the interval was computed: ``wilson`` (0/1 values) or ``t`` (Student-t on per-item means)."""


@dataclass(frozen=True)
class LengthStats:
    """Output lengths, in generated tokens, over samples without infrastructure error."""

    n: int
    """Samples measured."""
    mean: float
    """Mean tokens per sample."""
    median: float
    """Median tokens per sample."""
    p95: float
    """95th percentile (linear interpolation)."""
    max: int
    """Longest sample."""


@dataclass(frozen=True)
class ErrorStats:
    """Infrastructure errors, counted apart from wrong answers."""

    samples: int
    """Samples with ``error`` set."""
    items_affected: int
    """Items with at least one errored sample."""
    items_excluded: int
    """Items whose samples all errored, hence left out of every accuracy."""
    top: Mapping[str, int] = field(default_factory=dict)
    """Most frequent error messages (first 120 characters) and their counts."""


@dataclass(frozen=True)
class Breakdown:
    """Metrics for one set of items: a whole benchmark or one subgroup of it."""

    n_items: int
    """Items in the set (errored ones included)."""
    n_samples: int
    """Samples in the set (errored ones included)."""
    metrics: Mapping[str, Estimate]
    """Metric name (``avg@n``, ``pass@1``, ``maj@n``, ``any_correct``) -> estimate."""
    lengths: LengthStats
    """Output-length statistics."""
    truncated: int
    """Valid samples cut off before their final answer (``SampleResult.truncated``): counted as
    incorrect in ``metrics``."""
    truncation_rate: float
    """``truncated`` over valid samples (0 when there are none)."""
    errors: ErrorStats
    """Infrastructure errors."""
    length_stopped: int = 0
    """Valid samples that stopped on max_tokens (``finish_reason == "length"``), with or without an answer."""
    truncated_items: int = 0
    """Items whose valid samples were all truncated (``ItemResult.truncated``)."""
    excluding_truncated: Mapping[str, Estimate] = field(default_factory=dict)
    """The metrics with truncated samples left out (an item with nothing else leaves the denominator)."""


@dataclass(frozen=True)
class SubgroupSummary:
    """The breakdown of the items of one benchmark that share one ``groups`` key/value."""

    key: str
    """Group key, e.g. ``level``."""
    value: str
    """Group value, e.g. ``5``."""
    stats: Breakdown
    """Metrics over the items of this subgroup."""


@dataclass(frozen=True)
class BenchmarkSummary:
    """Everything measured on one benchmark."""

    benchmark: str
    """Benchmark name."""
    overall: Breakdown
    """Metrics over all items of the benchmark."""
    subgroups: tuple[SubgroupSummary, ...]
    """One entry per (group key, group value), sorted by key then value."""

    @property
    def metrics(self) -> Mapping[str, Estimate]:
        """Shortcut for ``overall.metrics``."""
        return self.overall.metrics


@dataclass(frozen=True)
class Summary:
    """The result of ``summarize``: one ``BenchmarkSummary`` per benchmark, in first-seen order."""

    benchmarks: Mapping[str, BenchmarkSummary]
    """Benchmark name -> its summary."""
    ks: tuple[int, ...]
    """The k values pass@k was requested for."""
    confidence: float
    """Confidence level of every interval."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN never appears: empty metrics are omitted)."""
        return {
            "ks": list(self.ks),
            "confidence": self.confidence,
            "benchmarks": {name: asdict(b) for name, b in self.benchmarks.items()},
        }


# ---------------------------------------------------------------------------------------- estimators


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of Chen et al. (2021): ``1 - C(n-c, k) / C(n, k)``, in its stable product form.

    Args:
        n: Samples drawn for the item.
        c: Correct samples among them.
        k: Budget; must satisfy ``1 <= k <= n``.
    """
    if not 1 <= k <= n or not 0 <= c <= n:
        raise ValueError(f"pass@k needs 1 <= k <= n and 0 <= c <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def majority_answer(samples: Sequence[SampleResult]) -> SampleResult | None:
    """The first sample carrying the most frequent extracted answer (ties: the answer seen first).

    Samples with no extracted answer do not vote; ``None`` when nobody voted.
    """
    votes: Counter[str] = Counter()
    first: dict[str, SampleResult] = {}
    for s in samples:
        if s.extracted is None or not s.extracted.strip():
            continue
        key = s.extracted.strip()
        votes[key] += 1
        first.setdefault(key, s)
    if not votes:
        return None
    top = max(votes.values())
    # dict preserves insertion order, so this picks the earliest answer among the tied ones.
    winner = next(k for k in first if votes[k] == top)
    return first[winner]


def valid_samples(item: ItemResult) -> tuple[SampleResult, ...]:
    """Samples without infrastructure error (the only ones accuracy is computed on)."""
    return tuple(s for s in item.samples if not s.error)


def item_value(item: ItemResult, metric: str) -> float | None:
    """The per-item value that ``metric`` averages; ``None`` when the item cannot count.

    ``None`` means: every sample errored, or (for pass@k) fewer than k valid samples.
    """
    check_metric_name(metric)
    valid = valid_samples(item)
    if not valid:
        return None
    if metric == "avg@n":
        return sum(s.score for s in valid) / len(valid)
    if metric == "any_correct":
        return float(any(s.correct for s in valid))
    if metric == "maj@n":
        voted = majority_answer(valid)
        return float(voted is not None and voted.correct)
    k = int(metric[5:])
    if k > len(valid):
        return None
    return pass_at_k(len(valid), sum(s.correct for s in valid), k)


# ------------------------------------------------------------------------------------------ intervals


def wilson_interval(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (good at p near 0 or 1 and small n)."""
    if n <= 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def estimate_mean(values: Sequence[float], confidence: float = 0.95) -> Estimate | None:
    """Mean of per-item values with stderr and CI (Wilson for 0/1 values, Student-t otherwise).

    Returns ``None`` for an empty sequence, so that callers omit the metric instead of writing NaN.
    """
    n = len(values)
    if n == 0:
        return None
    arr = np.asarray(values, dtype=float)
    mean = float(arr.mean())
    if np.all((arr == 0.0) | (arr == 1.0)):
        low, high = wilson_interval(float(arr.sum()), n, confidence)
        return Estimate(mean, math.sqrt(mean * (1 - mean) / n), low, high, n, "wilson")
    if n == 1:
        # One non-binary value says nothing about its spread: report the whole score range and the
        # largest standard deviation a [0, 1] variable can have (JSON has no infinity).
        return Estimate(mean, 0.5, 0.0, 1.0, 1, "t")
    se = float(arr.std(ddof=1)) / math.sqrt(n)
    from scipy.special import stdtrit  # Student-t quantile; scipy only where a t interval is needed

    half = float(stdtrit(n - 1, 0.5 + confidence / 2)) * se
    return Estimate(mean, se, max(0.0, mean - half), min(1.0, mean + half), n, "t")


# --------------------------------------------------------------------------------------- aggregation


def length_stats(samples: Sequence[SampleResult]) -> LengthStats:
    """Token-length statistics of the given samples (zeros when empty)."""
    tokens = [s.output_tokens for s in samples]
    if not tokens:
        return LengthStats(0, 0.0, 0.0, 0.0, 0)
    return LengthStats(
        len(tokens),
        float(statistics.fmean(tokens)),
        float(statistics.median(tokens)),
        float(np.percentile(tokens, 95)),
        max(tokens),
    )


def error_stats(items: Sequence[ItemResult]) -> ErrorStats:
    """Count infrastructure errors over ``items``."""
    errored = [s for it in items for s in it.samples if s.error]
    top = Counter(str(s.error)[:120] for s in errored).most_common(5)
    return ErrorStats(
        samples=len(errored),
        items_affected=sum(1 for it in items if any(s.error for s in it.samples)),
        items_excluded=sum(1 for it in items if it.samples and all(s.error for s in it.samples)),
        top=dict(top),
    )


def metric_names(ks: Sequence[int]) -> tuple[str, ...]:
    """The metrics ``summarize`` reports, in display order."""
    return ("avg@n", *(f"pass@{k}" for k in ks), "maj@n", "any_correct")


def _metrics(items: Sequence[ItemResult], ks: Sequence[int], confidence: float) -> dict[str, Estimate]:
    metrics: dict[str, Estimate] = {}
    for name in metric_names(ks):
        values = [v for it in items if (v := item_value(it, name)) is not None]
        est = estimate_mean(values, confidence)
        if est is not None:
            metrics[name] = est
    return metrics


def breakdown(
    items: Sequence[ItemResult], *, ks: Sequence[int] = (1,), confidence: float = 0.95
) -> Breakdown:
    """Metrics, lengths, truncation and errors over one set of items.

    A pass@k metric is absent when no item has k valid samples; it is computed over the items that do.
    """
    metrics = _metrics(items, ks, confidence)
    valid = [s for it in items for s in valid_samples(it)]
    truncated = sum(1 for s in valid if s.truncated)
    return Breakdown(
        n_items=len(items),
        n_samples=sum(len(it.samples) for it in items),
        metrics=metrics,
        lengths=length_stats(valid),
        truncated=truncated,
        truncation_rate=truncated / len(valid) if valid else 0.0,
        errors=error_stats(items),
        length_stopped=sum(1 for s in valid if s.finish_reason == "length"),
        truncated_items=sum(1 for it in items if it.truncated),
        excluding_truncated=_metrics(without_truncated(items), ks, confidence) if truncated else metrics,
    )


def without_truncated(items: Sequence[ItemResult]) -> list[ItemResult]:
    """The items with their truncated samples removed (items left with no sample dropped)."""
    kept = [replace(it, samples=tuple(s for s in it.samples if not s.truncated)) for it in items]
    return [it for it in kept if it.samples]


def summarize(items: Sequence[ItemResult], *, ks: Sequence[int] = (1,), confidence: float = 0.95) -> Summary:
    """Aggregate per-item results into per-benchmark and per-subgroup metrics.

    Args:
        items: Item results of one run, any number of benchmarks mixed.
        ks: The k values to report pass@k for (only items with at least k valid samples count).
        confidence: Confidence level of every interval, in (0, 1).

    Returns:
        A ``Summary`` with one ``BenchmarkSummary`` per benchmark, in first-seen order.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}; e.g. 0.95")
    bad_ks = [k for k in ks if int(k) != k or k < 1]
    if bad_ks:
        raise ValueError(f"pass@k needs integer k >= 1, got {bad_ks}; e.g. ks=(1, 4)")
    ks = tuple(sorted(set(int(k) for k in ks)))
    by_bench: dict[str, list[ItemResult]] = {}
    for it in items:
        by_bench.setdefault(it.benchmark, []).append(it)
    out: dict[str, BenchmarkSummary] = {}
    for name, bench_items in by_bench.items():
        groups: dict[tuple[str, str], list[ItemResult]] = {}
        for it in bench_items:
            for key, value in it.groups.items():
                groups.setdefault((str(key), str(value)), []).append(it)
        subgroups = tuple(
            SubgroupSummary(key, value, breakdown(members, ks=ks, confidence=confidence))
            for (key, value), members in sorted(groups.items(), key=lambda kv: _natural(kv[0]))
        )
        out[name] = BenchmarkSummary(name, breakdown(bench_items, ks=ks, confidence=confidence), subgroups)
    return Summary(out, ks, confidence)


def _natural(key: tuple[str, str]) -> tuple[str, int, str]:
    """Sort "level 10" after "level 9": numeric values by number, others alphabetically."""
    k, v = key
    return (k, int(v), "") if v.isdigit() else (k, 1 << 62, v)


# -------------------------------------------------------------------------------------- paired tests


MCNEMAR_VARIANTS = ("mid-p", "exact")
"""McNemar p-value variants ``paired_test`` computes for 0/1 values."""


def _binomial_half_pmf(n: int) -> Callable[[int], float]:
    """P(X = k) for X ~ Binomial(n, 1/2), in log space (exact to float precision for any n)."""
    log_norm = math.lgamma(n + 1) - n * math.log(2)
    return lambda k: math.exp(log_norm - math.lgamma(k + 1) - math.lgamma(n - k + 1))


def _mcnemar_p(losses: int, discordant: int, *, mid: bool) -> tuple[float, float]:
    """(one-sided p of a drop, two-sided p) of ``losses`` among ``discordant`` pairs, Binomial(d, 1/2)."""
    if discordant == 0:
        return 1.0, 1.0
    pmf = _binomial_half_pmf(discordant)
    at = pmf(losses) * (0.5 if mid else 1.0)
    upper = math.fsum(pmf(k) for k in range(losses + 1, discordant + 1)) + at  # P(X > losses) + (half) P(X = losses)
    lower = math.fsum(pmf(k) for k in range(losses)) + at
    return min(1.0, upper), min(1.0, 2 * min(upper, lower))


@dataclass(frozen=True)
class PairedTest:
    """A paired comparison of per-item values of a run against a baseline, on the same items."""

    n: int
    """Paired items."""
    base_mean: float
    """Mean per-item value of the baseline on the paired items."""
    run_mean: float
    """Mean per-item value of the run on the paired items."""
    delta: float
    """``run_mean - base_mean`` (negative is a drop)."""
    ci_low: float
    """Lower bound of the CI on ``delta``."""
    ci_high: float
    """Upper bound of the CI on ``delta``."""
    p_drop: float
    """One-sided p-value against "the run is not worse" (small means a real drop)."""
    p_two_sided: float
    """Two-sided p-value against "no difference"."""
    gains: int
    """Items where the run scores higher."""
    losses: int
    """Items where the run scores lower."""
    method: str
    """``mcnemar-midp`` or ``mcnemar-exact`` (0/1 values), or ``sign-flip-permutation`` (seeded; CI by bootstrap)."""


def paired_test(
    run: Sequence[float],
    base: Sequence[float],
    *,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
    mcnemar: str = "mid-p",
) -> PairedTest:
    """Compare paired per-item values (``run[i]`` and ``base[i]`` belong to the same item).

    With 0/1 values on both sides this is McNemar's test: under "no difference" the discordant
    pairs split as Binomial(b + c, 1/2). ``mcnemar="mid-p"`` (default) counts half the probability
    of the observed split, ``"exact"`` all of it. The exact conditional test is needlessly
    conservative (its real size is well below alpha, more so once a multiple-comparison correction
    multiplies its p); the mid-p test keeps the size close to alpha and is the variant Fagerland,
    Lydersen & Laake (BMC Med. Res. Methodol. 13:91, 2013) recommend. The CI on the delta is the
    Wald interval of a paired difference. Otherwise the p-values come from a seeded sign-flip
    permutation test on the per-item differences and the CI from a seeded paired bootstrap.
    """
    if mcnemar not in MCNEMAR_VARIANTS:
        raise ValueError(f"mcnemar must be one of {', '.join(MCNEMAR_VARIANTS)}, got {mcnemar!r}")
    r = np.asarray(run, dtype=float)
    b = np.asarray(base, dtype=float)
    if r.shape != b.shape:
        raise ValueError(f"paired_test needs as many run values as baseline values ({r.size} != {b.size})")
    n = int(r.size)
    if n == 0:
        return PairedTest(0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0, 0, "none")
    d = r - b
    delta = float(d.mean())
    gains, losses = int((d > 0).sum()), int((d < 0).sum())
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    binary = bool(np.all(np.isin(r, (0.0, 1.0))) and np.all(np.isin(b, (0.0, 1.0))))
    if binary:
        disc = gains + losses
        p_drop, p_two = _mcnemar_p(losses, disc, mid=mcnemar == "mid-p")
        half = z * math.sqrt(max(disc / n - delta * delta, 0.0) / n)
        low, high, method = delta - half, delta + half, f"mcnemar-{'midp' if mcnemar == 'mid-p' else 'exact'}"
    else:
        rng = np.random.default_rng(seed)
        le = ge_abs = 0
        boot: list[np.ndarray] = []
        chunk = max(1, 2_000_000 // n)  # bound memory to ~16 MB per block
        for start in range(0, n_resamples, chunk):
            m = min(chunk, n_resamples - start)
            signs = rng.choice((-1.0, 1.0), size=(m, n))
            flipped = (signs * d).mean(axis=1)
            le += int((flipped <= delta + 1e-12).sum())
            ge_abs += int((np.abs(flipped) >= abs(delta) - 1e-12).sum())
            boot.append(d[rng.integers(0, n, size=(m, n))].mean(axis=1))
        p_drop = (1 + le) / (1 + n_resamples)
        p_two = (1 + ge_abs) / (1 + n_resamples)
        alpha = 1 - confidence
        low, high = (float(x) for x in np.quantile(np.concatenate(boot), (alpha / 2, 1 - alpha / 2)))
        method = "sign-flip-permutation"
        if gains == losses == 0:
            p_drop = p_two = 1.0
    return PairedTest(
        n,
        float(b.mean()),
        float(r.mean()),
        delta,
        max(-1.0, float(low)),  # a difference of [0, 1] values lies in [-1, 1]
        min(1.0, float(high)),
        min(1.0, p_drop),
        min(1.0, p_two),
        gains,
        losses,
        method,
    )


# ------------------------------------------------------------------------ multiple comparisons


def adjust_pvalues(p_values: Sequence[float], method: str = "holm") -> list[float]:
    """P-values adjusted for testing all of them at once, in input order (family-wise error rate).

    ``holm`` is the Holm–Bonferroni step-down procedure (never less powerful than ``bonferroni``,
    same guarantee, no independence assumption); ``bonferroni`` multiplies by the number of tests;
    ``none`` returns them unchanged. Rejecting every adjusted p below alpha keeps the chance of
    any false alarm in the family at most alpha.
    """
    if method not in CORRECTIONS:
        raise ValueError(f"Unknown correction {method!r}; use one of {', '.join(CORRECTIONS)} (default holm)")
    m = len(p_values)
    if method == "none" or m == 0:
        return [float(p) for p in p_values]
    if method == "bonferroni":
        return [min(1.0, float(p) * m) for p in p_values]
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        # Step-down: the rank-th smallest p is multiplied by the tests still standing, and an
        # adjusted p never falls below the one before it (monotone, as statsmodels' multipletests).
        running = max(running, min(1.0, (m - rank) * float(p_values[i])))
        adjusted[i] = running
    return adjusted
