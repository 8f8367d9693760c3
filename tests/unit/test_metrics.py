"""Metrics against hand-computed values: pass@k, avg@n, maj@n, CIs, errors, lengths."""

from __future__ import annotations

import json
import math
from itertools import combinations

import numpy as np
import pytest
from scipy.stats import binomtest

from evalsuite.metrics import (
    estimate_mean,
    item_value,
    majority_answer,
    pass_at_k,
    summarize,
    wilson_interval,
)
from evalsuite.types import ItemResult, SampleResult


def sample(
    i: int,
    correct: bool,
    extracted: str | None = None,
    *,
    tokens: int = 10,
    finish: str = "stop",
    error: str | None = None,
    score: float | None = None,
) -> SampleResult:
    return SampleResult(
        i,
        f"out{i}",
        correct,
        float(correct) if score is None else score,
        extracted,
        "r",
        finish,
        tokens,
        error,
    )


def item(item_id: str, *samples: SampleResult, bench: str = "b", groups: dict | None = None) -> ItemResult:
    return ItemResult(bench, item_id, groups or {}, "prompt", "42", tuple(samples))


def brute_pass_at_k(n: int, c: int, k: int) -> float:
    """Fraction of k-subsets of n samples that contain a correct one (the definition)."""
    subsets = list(combinations(range(n), k))
    return sum(any(i < c for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (1, 0, 1, 0.0),
        (1, 1, 1, 1.0),
        (5, 0, 3, 0.0),  # c = 0
        (5, 5, 5, 1.0),  # c = n, n = k
        (5, 2, 5, 1.0),  # n = k with one correct is certain
        (5, 0, 5, 0.0),
        (4, 2, 2, 5 / 6),  # 1 - C(2,2)/C(4,2)
        (10, 3, 1, 0.3),  # pass@1 is c/n
        (10, 1, 3, 0.3),  # 1 - C(9,3)/C(10,3) = 1 - 84/120
    ],
)
def test_pass_at_k_known_cases(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("n", "c", "k"), [(8, 3, 2), (8, 5, 4), (7, 1, 6), (9, 4, 3)])
def test_pass_at_k_matches_definition(n: int, c: int, k: int) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(brute_pass_at_k(n, c, k), abs=1e-12)


def test_pass_at_k_is_stable_for_large_n() -> None:
    # The naive ratio of binomials overflows here; the product form does not.
    assert pass_at_k(2000, 1, 1000) == pytest.approx(0.5)
    assert pass_at_k(2000, 0, 1000) == 0.0


@pytest.mark.parametrize(("n", "c", "k"), [(3, 1, 4), (3, 4, 1), (3, 1, 0)])
def test_pass_at_k_rejects_bad_arguments(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError, match="1 <= k <= n"):
        pass_at_k(n, c, k)


@pytest.mark.parametrize(
    ("answers", "winner_index"),
    [
        (["1", "2", "2"], 1),  # plain majority
        (["1", "2", "1", "2"], 0),  # tie: the answer seen first wins
        (["2", "1", "1", "2"], 0),
        ([None, "3", None], 1),  # no answer does not vote
        ([" 5", "5 ", "6"], 0),  # whitespace does not split votes
        ([None, None], None),  # nobody voted
    ],
)
def test_majority_answer(answers: list[str | None], winner_index: int | None) -> None:
    samples = [sample(i, False, a) for i, a in enumerate(answers)]
    voted = majority_answer(samples)
    assert (voted.index if voted else None) == winner_index


def test_maj_uses_voted_answers_correctness() -> None:
    it = item("x", sample(0, True, "7"), sample(1, False, "8"), sample(2, False, "8"))
    assert item_value(it, "maj@n") == 0.0
    assert item_value(it, "avg@n") == pytest.approx(1 / 3)
    assert item_value(it, "any_correct") == 1.0
    tie = item("y", sample(0, True, "7"), sample(1, False, "8"))
    assert item_value(tie, "maj@n") == 1.0


def test_errors_are_excluded_from_denominators_and_counted() -> None:
    items = [
        item("a", sample(0, True, "1"), sample(1, False, "2", error="HTTP 500")),
        item("b", sample(0, False, "3", error="timeout"), sample(1, False, "", error="timeout")),
        item("c", sample(0, False, "2"), sample(1, False, "2")),
    ]
    summ = summarize(items, ks=(1, 2)).benchmarks["b"]
    # a: valid samples [True] -> 1.0; b excluded; c: 0.0
    assert summ.metrics["avg@n"].value == pytest.approx(0.5)
    assert summ.metrics["avg@n"].n == 2
    # pass@2 needs two valid samples: only c has them
    assert summ.metrics["pass@2"].n == 1 and summ.metrics["pass@2"].value == 0.0
    errs = summ.overall.errors
    assert (errs.samples, errs.items_affected, errs.items_excluded) == (3, 2, 1)
    assert errs.top == {"timeout": 2, "HTTP 500": 1}
    assert summ.overall.n_items == 3 and summ.overall.n_samples == 6


def test_metric_absent_when_no_item_can_count() -> None:
    summ = summarize([item("a", sample(0, True, "1"))], ks=(1, 4)).benchmarks["b"]
    assert "pass@4" not in summ.metrics
    assert set(summ.metrics) == {"avg@n", "pass@1", "maj@n", "any_correct"}


def test_lengths_and_truncation() -> None:
    items = [
        item(
            "a",
            *[
                sample(i, False, "1", tokens=t, finish="length" if t == 100 else "stop")
                for i, t in enumerate([10, 20, 30, 100])
            ],
        ),
        item("b", sample(0, True, "1", tokens=999, error="boom")),
    ]
    ov = summarize(items).benchmarks["b"].overall
    assert (ov.lengths.n, ov.lengths.mean, ov.lengths.median, ov.lengths.max) == (4, 40.0, 25.0, 100)
    assert ov.lengths.p95 == pytest.approx(np.percentile([10, 20, 30, 100], 95))
    # It stopped on the limit but had stated an answer: not truncated (tests/unit/test_metrics_truncation.py).
    assert (ov.length_stopped, ov.truncated, ov.truncation_rate) == (1, 0, 0.0)


def test_subgroups_are_broken_down_and_sorted_naturally() -> None:
    items = [
        item(str(i), sample(0, i % 2 == 0, "1"), groups={"level": str(lv), "subject": s})
        for i, (lv, s) in enumerate([(10, "algebra"), (2, "algebra"), (2, "geometry"), (10, "geometry")])
    ]
    summ = summarize(items).benchmarks["b"]
    keys = [(g.key, g.value) for g in summ.subgroups]
    assert keys == [("level", "2"), ("level", "10"), ("subject", "algebra"), ("subject", "geometry")]
    by = {(g.key, g.value): g.stats.metrics["avg@n"].value for g in summ.subgroups}
    assert by[("level", "2")] == 0.5 and by[("subject", "algebra")] == 0.5
    assert by[("level", "10")] == 0.5


def test_benchmarks_are_separate_and_in_first_seen_order() -> None:
    items = [item("1", sample(0, True, "1"), bench="z"), item("1", sample(0, False, "1"), bench="a")]
    summ = summarize(items)
    assert list(summ.benchmarks) == ["z", "a"]
    assert summ.benchmarks["z"].metrics["avg@n"].value == 1.0


@pytest.mark.parametrize(("k", "n"), [(0, 10), (5, 10), (81, 100), (3, 7), (20, 20)])
def test_wilson_interval_matches_scipy(k: int, n: int) -> None:
    ref = binomtest(k, n).proportion_ci(0.95, method="wilson")
    assert wilson_interval(k, n, 0.95) == pytest.approx((ref.low, ref.high), abs=1e-9)


def test_binary_values_use_wilson_and_others_t() -> None:
    assert estimate_mean([1, 0, 1, 1]).method == "wilson"
    est = estimate_mean([0.25, 0.5, 0.75, 1.0])
    assert est.method == "t"
    # t(3) 97.5% quantile = 3.182446305; sd = 0.3227486; se = 0.1613743
    assert est.stderr == pytest.approx(0.16137431, abs=1e-7)
    assert est.ci_low == pytest.approx(0.625 - 3.182446305 * 0.16137431, abs=1e-6)
    assert estimate_mean([]) is None
    assert estimate_mean([0.5]).ci_low == 0.0 and estimate_mean([0.5]).ci_high == 1.0


@pytest.mark.parametrize("p", [0.1, 0.5, 0.85])
def test_confidence_intervals_cover(p: float) -> None:
    """Across simulated runs the 95% intervals contain the true rate about 95% of the time."""
    rng = np.random.default_rng(1234)
    hits_single = hits_multi = 0
    trials = 400
    for _ in range(trials):
        single = (rng.random(60) < p).astype(float)
        est = estimate_mean(list(single))
        hits_single += est.ci_low <= p <= est.ci_high
        multi = (rng.random((60, 4)) < p).mean(axis=1)
        est = estimate_mean(list(multi))
        hits_multi += est.ci_low <= p <= est.ci_high
    assert 0.91 <= hits_single / trials <= 0.99
    assert 0.91 <= hits_multi / trials <= 0.99


def test_to_dict_is_json_without_nan() -> None:
    items = [item("a", sample(0, True, "1"), sample(1, False, "2"), groups={"level": "1"})]
    text = json.dumps(summarize(items, ks=(1, 2)).to_dict(), allow_nan=False)
    d = json.loads(text)
    assert d["benchmarks"]["b"]["overall"]["metrics"]["pass@2"]["value"] == 1.0
    assert d["benchmarks"]["b"]["subgroups"][0]["key"] == "level"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ks": (0,)}, "k >= 1"),
        ({"confidence": 1.5}, "confidence"),
    ],
)
def test_summarize_validates_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        summarize([], **kwargs)


def test_unknown_metric_is_named() -> None:
    with pytest.raises(ValueError, match="pass@K"):
        item_value(item("a", sample(0, True)), "pass@x")


def test_avg_uses_graded_scores() -> None:
    it = item("a", sample(0, False, "x", score=0.4), sample(1, True, "y", score=0.8))
    assert item_value(it, "avg@n") == pytest.approx(0.6)
    assert not math.isnan(summarize([it]).benchmarks["b"].metrics["avg@n"].stderr)
