"""A run paired item by item with a baseline: per benchmark, per subgroup, one correction per run.

Every item carries its groups (``task``/``level`` for builtin, ``subject``/``level`` for math500,
``--group-by`` fields of a custom JSONL...). ``compare_runs_grouped`` compares each benchmark and
each (group key, value) of it on the items both runs share, with the same paired test as a whole
benchmark (exact McNemar for 0/1 values, a seeded permutation test otherwise), then corrects the
one-sided "dropped" p-values of all those tests together, so that looking at many subgroups does
not by itself make a regression appear.

The tested family is every benchmark plus every subgroup with at least ``min_group_size`` paired
items. Smaller subgroups are still compared and reported (raw p only) but stay out of the family:
they cannot reach significance after correction anyway and would only dilute the others' power.
Combinations of two keys (``task=expr`` *and* ``level=level2``) are not compared: their cells are
small, they multiply the family (builtin: 9 tests → 24, math500: 13 → 48), and a collapse in a
cell that matters already moves its row and column margins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from evalsuite.metrics import PairedTest, adjust_pvalues, check_metric_name, item_value, paired_test
from evalsuite.types import ItemResult, RunRecord

DEFAULT_MIN_GROUP_SIZE = 20
"""Paired items a subgroup needs to enter the gate's tested family."""


@dataclass(frozen=True)
class GroupComparison:
    """One benchmark, or one subgroup of it, of a run paired item by item with a baseline."""

    benchmark: str
    """Benchmark name."""
    key: str | None
    """Group key (``task``, ``level``, ``subject``...); ``None`` for the whole benchmark."""
    value: str | None
    """Group value (``expr``, ``level5``...); ``None`` for the whole benchmark."""
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
    """The paired test, ``None`` when the benchmark or group is missing from one side."""
    p_adjusted: float | None = None
    """One-sided p of a drop after the run's correction; ``None`` when outside the tested family."""
    correction: str = "none"
    """Correction ``p_adjusted`` comes from: ``holm``, ``bonferroni`` or ``none``."""
    family_size: int = 0
    """Tests in the family ``p_adjusted`` was corrected over."""

    @property
    def name(self) -> str:
        """``builtin`` for a benchmark, ``builtin/task=expr`` for a subgroup."""
        return self.benchmark if self.key is None else f"{self.benchmark}/{self.key}={self.value}"

    @property
    def label(self) -> str:
        """``task=expr`` for a subgroup, ``(all)`` for the whole benchmark."""
        return "(all)" if self.key is None else f"{self.key}={self.value}"

    @property
    def gated(self) -> bool:
        """Whether this comparison is in the tested family (a gate may fail on it)."""
        return self.p_adjusted is not None

    @property
    def flipped_down(self) -> tuple[str, ...]:
        """Items correct in the baseline and wrong in the run (per-item value >= 0.5 counts as correct)."""
        pairs = zip(self.item_ids, self.run_values, self.base_values, strict=True)
        return tuple(i for i, r, b in pairs if b >= 0.5 > r)

    @property
    def flipped_up(self) -> tuple[str, ...]:
        """Items wrong in the baseline and correct in the run."""
        pairs = zip(self.item_ids, self.run_values, self.base_values, strict=True)
        return tuple(i for i, r, b in pairs if r >= 0.5 > b)

    def dropped(self, *, max_drop: float, alpha: float) -> bool:
        """In the family, dropped by more than ``max_drop``, with corrected p below ``alpha``."""
        t = self.test
        return (
            t is not None and self.p_adjusted is not None and -t.delta > max_drop and self.p_adjusted < alpha
        )


def _pair(
    benchmark: str,
    key: str | None,
    value: str | None,
    mine: Mapping[str, ItemResult],
    theirs: Mapping[str, ItemResult],
    *,
    metric: str,
    confidence: float,
    n_resamples: int,
    seed: int,
    mcnemar: str,
) -> GroupComparison:
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
    test = (
        paired_test(rv, bv, confidence=confidence, n_resamples=n_resamples, seed=seed, mcnemar=mcnemar)
        if present
        else None
    )
    return GroupComparison(
        benchmark,
        key,
        value,
        metric,
        tuple(ids),
        tuple(rv),
        tuple(bv),
        only_in_run=tuple(i for i in mine if i not in theirs),
        only_in_baseline=tuple(i for i in theirs if i not in mine),
        unscorable=tuple(unscorable),
        test=test,
    )


def _natural(text: str) -> tuple[int, str]:
    """Sort ``level10`` after ``level9``."""
    digits = "".join(ch for ch in text if ch.isdigit())
    return (int(digits) if digits else -1, text)


def group_values(items: Iterable[ItemResult]) -> dict[str, list[str]]:
    """Group key -> its values among ``items``, keys in first-seen order, values in natural order."""
    seen: dict[str, set[str]] = {}
    for it in items:
        for k, v in it.groups.items():
            seen.setdefault(str(k), set()).add(str(v))
    return {k: sorted(vs, key=_natural) for k, vs in seen.items()}


def compare_runs_grouped(
    run: RunRecord,
    baseline: RunRecord,
    *,
    metric: str = "avg@n",
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
    correction: str = "holm",
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    groups: bool = True,
    mcnemar: str = "mid-p",
) -> list[GroupComparison]:
    """Compare every benchmark of either run, and each of its subgroups, with one correction for all.

    Args:
        run: The candidate (fine-tune, new checkpoint).
        baseline: The reference (base model, previous checkpoint).
        metric: Per-item metric to pair on: ``avg@n``, ``maj@n``, ``any_correct`` or ``pass@K``.
        confidence: Confidence level of the CIs on each delta.
        n_resamples: Permutations and bootstrap resamples when per-item values are not all 0/1.
        seed: Seed of the permutation test and bootstrap.
        correction: ``holm`` (default), ``bonferroni`` or ``none``, applied to the one-sided p of a
            drop over the whole family (benchmarks plus subgroups of ``min_group_size`` or more).
        min_group_size: Paired items a subgroup needs to be in the family (compared either way).
        groups: ``False`` compares whole benchmarks only.
        mcnemar: ``mid-p`` (default) or ``exact`` McNemar p for 0/1 values (``metrics.paired_test``).

    Returns:
        Per benchmark (the run's order, then baseline-only ones): the benchmark, then its subgroups
        by key (first-seen order) and value (natural order). ``p_adjusted`` is set on the family.
    """
    check_metric_name(metric)
    if min_group_size < 1:
        raise ValueError(f"min_group_size must be >= 1 (paired items), got {min_group_size}; e.g. 20")
    adjust_pvalues([], correction)  # validates the name before any work
    names = list(dict.fromkeys([it.benchmark for it in run.items] + [it.benchmark for it in baseline.items]))
    opts: dict[str, Any] = {
        "metric": metric,
        "confidence": confidence,
        "n_resamples": n_resamples,
        "seed": seed,
        "mcnemar": mcnemar,
    }
    out: list[GroupComparison] = []
    for bench in names:
        mine = {it.item_id: it for it in run.items if it.benchmark == bench}
        theirs = {it.item_id: it for it in baseline.items if it.benchmark == bench}
        out.append(_pair(bench, None, None, mine, theirs, **opts))
        if not groups:
            continue
        for key, values in group_values([*mine.values(), *theirs.values()]).items():
            for value in values:

                def member(it: ItemResult, key: str = key, value: str = value) -> bool:
                    return str(it.groups.get(key)) == value if key in it.groups else False

                sub_mine = {i: it for i, it in mine.items() if member(it)}
                sub_theirs = {i: it for i, it in theirs.items() if member(it)}
                out.append(_pair(bench, key, value, sub_mine, sub_theirs, **opts))
    return correct_family(out, correction=correction, min_group_size=min_group_size)


def in_family(c: GroupComparison, min_group_size: int) -> bool:
    """Benchmarks with paired items always count; subgroups from ``min_group_size`` paired items."""
    if c.test is None or c.test.n == 0:
        return False
    return c.key is None or c.test.n >= min_group_size


def correct_family(
    comparisons: Sequence[GroupComparison],
    *,
    correction: str = "holm",
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
) -> list[GroupComparison]:
    """Set ``p_adjusted`` on the comparisons in the family (see ``in_family``), ``None`` on the others."""
    family = [i for i, c in enumerate(comparisons) if in_family(c, min_group_size)]
    raw = [comparisons[i].test.p_drop for i in family]  # type: ignore[union-attr]
    adjusted = dict(zip(family, adjust_pvalues(raw, correction), strict=True))
    return [
        replace(c, p_adjusted=adjusted.get(i), correction=correction, family_size=len(family))
        for i, c in enumerate(comparisons)
    ]


def benchmarks_only(comparisons: Sequence[GroupComparison]) -> list[GroupComparison]:
    """The whole-benchmark comparisons of a grouped list."""
    return [c for c in comparisons if c.key is None]


def worst_first(
    comparisons: Sequence[GroupComparison], *, max_drop: float = 0.02, alpha: float = 0.05
) -> list[GroupComparison]:
    """Failing ones first, then the family by corrected p, then the rest by raw p; ties by larger drop."""

    def severity(c: GroupComparison) -> tuple[int, int, float, float]:
        t = c.test
        if t is None:
            return (1, 2, 2.0, 0.0)
        failed = c.dropped(max_drop=max_drop, alpha=alpha)
        p = c.p_adjusted if c.p_adjusted is not None else t.p_drop
        return (0 if failed else 1, 0 if c.gated else 1, p, t.delta)

    return sorted(comparisons, key=severity)


def comparison_details(cmp: GroupComparison) -> dict[str, Any]:
    """JSON-ready numbers and id lists of a comparison (what gate details and reports store)."""
    t = cmp.test
    return {
        "name": cmp.name,
        "benchmark": cmp.benchmark,
        "key": cmp.key,
        "value": cmp.value,
        "metric": cmp.metric,
        "paired_items": len(cmp.item_ids),
        "test": None if t is None else {k: getattr(t, k) for k in t.__dataclass_fields__},
        "p_adjusted": cmp.p_adjusted,
        "correction": cmp.correction,
        "family_size": cmp.family_size,
        "only_in_run": list(cmp.only_in_run),
        "only_in_baseline": list(cmp.only_in_baseline),
        "unscorable": list(cmp.unscorable),
        "flipped_down": list(cmp.flipped_down),
        "flipped_up": list(cmp.flipped_up),
    }
