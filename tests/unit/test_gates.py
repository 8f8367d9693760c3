"""Gates: --min-score parsing and checks (benchmarks and subgroups), --baseline paired tests."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom, binomtest

from evalsuite.comparison import compare_runs_grouped
from evalsuite.gates import check_baseline, check_min_score, parse_thresholds
from evalsuite.metrics import paired_test, summarize
from evalsuite.types import ItemResult, RunRecord, SampleResult


def make_item(
    item_id: str, verdicts: list[bool], *, bench: str = "math500", error: bool = False
) -> ItemResult:
    samples = tuple(
        SampleResult(i, "out", v, float(v), "1" if v else "2", "r", "stop", 5, "boom" if error else None)
        for i, v in enumerate(verdicts)
    )
    return ItemResult(bench, item_id, {}, "p", "1", samples)


def run_of(verdicts: list[list[bool]], *, bench: str = "math500", run_id: str = "r", ids=None) -> RunRecord:
    ids = ids or [f"q{i:03d}" for i in range(len(verdicts))]
    return RunRecord(
        run_id, {}, tuple(make_item(i, v, bench=bench) for i, v in zip(ids, verdicts, strict=True))
    )


# ------------------------------------------------------------------------------------ parse_thresholds


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("math500=0.75,aime24=0.2", {"math500": 0.75, "aime24": 0.2}),
        (" math500 = 1 , ", {"math500": 1.0}),
        ("", {}),
        ("a=0", {"a": 0.0}),
        ("builtin/expr=0.1,math500/level5=0.3", {"builtin/expr": 0.1, "math500/level5": 0.3}),
        ("builtin/task=expr=0.25", {"builtin/task=expr": 0.25}),
    ],
)
def test_parse_thresholds(spec: str, expected: dict) -> None:
    assert parse_thresholds(spec) == expected


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("math500", "math500"),
        ("=0.5", "=0.5"),
        ("math500=high", "not a number"),
        ("math500=1.5", "outside"),
        ("a=0.1,a=0.2", "twice"),
        ("a=nan", "outside"),
        ("builtin/=0.1", "builtin/"),
    ],
)
def test_parse_thresholds_errors_name_the_option(spec: str, match: str) -> None:
    with pytest.raises(ValueError, match="--min-score") as exc:
        parse_thresholds(spec)
    assert match in str(exc.value)


# ------------------------------------------------------------------------------------- check_min_score


def test_min_score_pass_and_fail_messages() -> None:
    items = [make_item(f"q{i}", [i < 6]) for i in range(10)] + [make_item("a1", [True], bench="aime24")]
    summ = summarize(items)
    res = {g.name: g for g in check_min_score(summ, {"math500": 0.75, "aime24": 0.2})}
    assert not res["min-score:math500"].passed
    assert res["min-score:math500"].message.startswith("math500: avg@n 0.600 < min 0.75")
    assert res["min-score:aime24"].passed
    assert res["min-score:aime24"].message == "aime24: avg@n 1.000 >= min 0.2"


def test_min_score_missing_benchmark_or_metric_fails() -> None:
    summ = summarize([make_item("q", [True])])
    res = check_min_score(summ, {"gsm8k": 0.5, "math500": 0.5}, metric="pass@4")
    assert [g.passed for g in res] == [False, False]
    assert "not in this run" in res[0].message and "ran: math500" in res[0].message
    assert "no pass@4" in res[1].message
    with pytest.raises(ValueError, match="Unknown metric"):
        check_min_score(summ, {"math500": 0.5}, metric="best")


# --------------------------------------------------------------------------------------- paired tests


@pytest.mark.parametrize(
    ("losses", "gains", "ties"), [(7, 1, 20), (3, 3, 5), (0, 4, 10), (12, 2, 0), (1, 0, 0), (10, 1, 49)]
)
def test_mcnemar_p_values_match_scipy(losses: int, gains: int, ties: int) -> None:
    base = [1.0] * losses + [0.0] * gains + [1.0] * ties
    run = [0.0] * losses + [1.0] * gains + [1.0] * ties
    exact = paired_test(run, base, mcnemar="exact")
    assert exact.method == "mcnemar-exact"
    assert (exact.losses, exact.gains, exact.n) == (losses, gains, losses + gains + ties)
    d = losses + gains
    ref = binomtest(losses, d, 0.5, alternative="greater").pvalue
    assert exact.p_drop == pytest.approx(ref, rel=1e-12)
    assert exact.p_two_sided == pytest.approx(binomtest(losses, d, 0.5).pvalue, rel=1e-12)
    assert exact.delta == pytest.approx((gains - losses) / exact.n)
    # mid-p (the default): P(X > losses) + P(X = losses) / 2 under Binomial(d, 1/2).
    mid = paired_test(run, base)
    assert mid.method == "mcnemar-midp"
    assert mid.p_drop == pytest.approx(binom.sf(losses, d, 0.5) + binom.pmf(losses, d, 0.5) / 2, rel=1e-12)
    assert mid.p_drop < exact.p_drop and mid.delta == exact.delta and mid.ci_low == exact.ci_low


def test_mcnemar_variant_is_validated() -> None:
    with pytest.raises(ValueError, match="mid-p, exact"):
        paired_test([1.0], [0.0], mcnemar="asymptotic")


def test_permutation_test_is_seeded_and_sensible() -> None:
    rng = np.random.default_rng(0)
    base = rng.random(80)
    run = np.clip(base - 0.1 + rng.normal(0, 0.05, 80), 0, 1)
    a = paired_test(list(run), list(base), seed=7, n_resamples=4000)
    b = paired_test(list(run), list(base), seed=7, n_resamples=4000)
    assert a == b and a.method == "sign-flip-permutation"
    assert a.p_drop < 0.001 and a.ci_high < 0
    assert a.ci_low <= a.delta <= a.ci_high
    same = paired_test(list(base), list(base), seed=7, n_resamples=1000)
    assert same.p_drop == 1.0 and same.delta == 0.0


def test_permutation_p_matches_exact_enumeration() -> None:
    # 10 items: all 2**10 sign flips enumerated give the exact one-sided p.
    d = np.array([-0.5, -0.25, -0.25, 0.25, -0.75, -0.5, 0.0, -0.25, 0.5, -0.5])
    base = np.full(10, 0.75)
    signs = np.array(np.meshgrid(*[[-1, 1]] * 10)).reshape(10, -1).T
    exact = float(((signs * d).mean(axis=1) <= d.mean() + 1e-12).mean())
    t = paired_test(list(base + d), list(base), n_resamples=20_000, seed=3)
    assert t.p_drop == pytest.approx(exact, abs=0.01)


# ------------------------------------------------------------------------------------- check_baseline


def test_significant_large_drop_fails_with_readable_message() -> None:
    base = run_of([[True]] * 80 + [[False]] * 20, run_id="base")
    run = run_of([[True]] * 60 + [[False]] * 40)
    (gate,) = check_baseline(run, base)
    assert not gate.passed
    assert gate.message.startswith("math500: dropped 0.200 (0.800 → 0.600) vs baseline, p=")
    assert "< 0.05, CI -0.2" in gate.message and "max drop 0.02" in gate.message
    assert "20 of 100 items flipped to wrong, 0 to right" in gate.message and "mcnemar-midp" in gate.message
    assert gate.details["test"]["losses"] == 20 and len(gate.details["flipped_down"]) == 20


def test_no_drop_passes() -> None:
    base = run_of([[True]] * 50 + [[False]] * 50)
    (gate,) = check_baseline(base, base)
    assert gate.passed and "within max drop" in gate.message


def test_small_insignificant_drop_passes() -> None:
    base = run_of([[True]] * 10 + [[False]] * 10)
    run = run_of([[False]] * 2 + [[True]] * 9 + [[False]] * 9)  # 2 lost, 1 gained
    (gate,) = check_baseline(run, base)
    assert gate.passed and "not significant" in gate.message
    assert gate.details["test"]["p_drop"] > 0.05


def test_significant_drop_below_max_drop_passes() -> None:
    base = run_of([[True]] * 1000)
    run = run_of([[False]] * 15 + [[True]] * 985)
    (gate,) = check_baseline(run, base, max_drop=0.02)
    assert gate.details["test"]["p_drop"] < 0.05 and gate.passed


def test_multi_sample_uses_permutation_test() -> None:
    base = run_of([[True, True, True, False]] * 40)
    run = run_of([[True, False, False, False]] * 40)
    (gate,) = check_baseline(run, base, seed=1, n_resamples=2000)
    assert not gate.passed and "sign-flip-permutation" in gate.message


def test_missing_items_are_reported_not_dropped_silently() -> None:
    base = run_of([[True]] * 5, ids=["a", "b", "c", "d", "e"])
    run = RunRecord(
        "r",
        {},
        (
            make_item("a", [True]),
            make_item("b", [True]),
            make_item("c", [True], error=True),
            make_item("x", [False]),
            make_item("y", [True]),
        ),
    )
    (cmp,) = compare_runs_grouped(run, base)
    assert cmp.item_ids == ("a", "b")
    assert cmp.only_in_run == ("x", "y") and cmp.only_in_baseline == ("d", "e") and cmp.unscorable == ("c",)
    (gate,) = check_baseline(run, base)
    assert "2 items only in baseline [d, e]" in gate.message
    assert "2 items only in this run [x, y]" in gate.message
    assert "1 items without a score on one side [c]" in gate.message
    assert gate.details["only_in_baseline"] == ["d", "e"]


def test_benchmark_on_one_side_only_and_nothing_shared() -> None:
    base = RunRecord("base", {}, run_of([[True]], ids=["a"]).items + run_of([[True]], bench="gsm8k").items)
    run = RunRecord("r", {}, run_of([[True]], ids=["zz"]).items + run_of([[True]], bench="aime24").items)
    res = {g.name: g for g in check_baseline(run, base)}
    assert not res["baseline:math500"].passed and "no item shared" in res["baseline:math500"].message
    assert res["baseline:aime24"].passed and "not in baseline base" in res["baseline:aime24"].message
    assert res["baseline:gsm8k"].passed and "not in this run" in res["baseline:gsm8k"].message


def test_check_baseline_validates_arguments() -> None:
    r = run_of([[True]])
    with pytest.raises(ValueError, match="alpha"):
        check_baseline(r, r, alpha=0)


# ---------------------------------------------------------------------------- --min-score subgroups


def grouped_item(item_id: str, ok: bool, **groups: str) -> ItemResult:
    return ItemResult(
        "builtin", item_id, groups, "p", "1", (SampleResult(0, "o", ok, float(ok), "1", "r", "stop", 5),)
    )


@pytest.fixture
def grouped_summary():
    items = [grouped_item(f"expr/{i}", i < 1, task="expr", level="level1") for i in range(10)]
    items += [grouped_item(f"add/{i}", i < 8, task="add", level="level2") for i in range(10)]
    return summarize(items)


def test_min_score_on_a_subgroup_by_value_or_key_value(grouped_summary) -> None:
    res = check_min_score(
        grouped_summary, {"builtin/expr": 0.1, "builtin/task=add": 0.9, "builtin/level2": 0.5}
    )
    by = {g.name: g for g in res}
    assert set(by) == {
        "min-score:builtin/task=expr",
        "min-score:builtin/task=add",
        "min-score:builtin/level=level2",
    }
    assert by["min-score:builtin/task=expr"].passed
    assert by["min-score:builtin/task=expr"].message == "builtin/task=expr: avg@n 0.100 >= min 0.1"
    assert not by["min-score:builtin/task=add"].passed
    assert by["min-score:builtin/task=add"].message.startswith(
        "builtin/task=add: avg@n 0.800 < min 0.9 (95% CI"
    )
    assert (
        by["min-score:builtin/level=level2"].passed
        and by["min-score:builtin/level=level2"].details["n"] == 10
    )


def test_min_score_unknown_or_ambiguous_subgroup(grouped_summary) -> None:
    (unknown,) = check_min_score(grouped_summary, {"builtin/level5": 0.3})
    assert not unknown.passed
    assert (
        "no such subgroup in builtin (its groups: level=level1, level=level2, task=add, task=expr)"
        in unknown.message
    )
    (other,) = check_min_score(grouped_summary, {"math500/level5": 0.3})
    assert not other.passed and "not in this run (ran: builtin)" in other.message
    both = summarize([grouped_item("a", True, task="x", alt="x")])
    (ambiguous,) = check_min_score(both, {"builtin/x": 0.5})
    assert not ambiguous.passed
    assert ambiguous.message == (
        "builtin/x: names subgroups under several keys; write one of builtin/alt=x, builtin/task=x in --min-score"
    )


def test_subgroup_collapse_fails_while_the_benchmark_rises() -> None:
    # 60 items of "a" gain 20, 20 items of "b" lose 12 and gain 0: the benchmark rises, "b" collapses.
    base = [grouped_item(f"a{i}", i < 20, part="a") for i in range(60)]
    base += [grouped_item(f"b{i}", i < 14, part="b") for i in range(20)]
    run = [grouped_item(f"a{i}", i < 40, part="a") for i in range(60)]
    run += [grouped_item(f"b{i}", i < 2, part="b") for i in range(20)]
    (gate,) = check_baseline(RunRecord("r", {}, tuple(run)), RunRecord("b", {}, tuple(base)))
    assert not gate.passed
    assert gate.message.startswith("builtin: part=b dropped 0.600 (0.700 → 0.100) vs baseline, p=")
    assert (
        "(holm over 3 tests, raw " in gate.message
        and "12 of 20 items flipped to wrong, 0 to right" in gate.message
    )
    assert "whole benchmark +0.100 (0.425 → 0.525)" in gate.message
    (tiny,) = check_baseline(
        RunRecord("r", {}, tuple(run)), RunRecord("b", {}, tuple(base)), min_group_size=21
    )
    assert tiny.passed and "1 too small to gate" in tiny.message
