"""Paired comparisons per benchmark and subgroup, one correction per run, and the merge gate on them.

The base-vs-adapter records here are built from the shipped adapter's measured per-cell pass rates
(``fixtures/adapters/tiny-r1-lora/rates.json``, greedy, 20 items per task x level cell), with the
same item structure as the built-in benchmark; ``tests/engines/test_gate_subgroups.py`` checks the
same decision on the real engine's runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalsuite.benchmarks.builtin import ITEMS_PER_CELL, LEVELS, TASKS
from evalsuite.comparison import compare_runs_grouped, correct_family, worst_first
from evalsuite.gates import check_baseline
from evalsuite.metrics import adjust_pvalues
from evalsuite.types import ItemResult, RunRecord, SampleResult

RATES = Path(__file__).resolve().parents[2] / "fixtures" / "adapters" / "tiny-r1-lora" / "rates.json"


# ---------------------------------------------------------------------------------- adjust_pvalues


def test_holm_and_bonferroni_by_hand() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.06.
    assert adjust_pvalues(p, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert adjust_pvalues(p, "bonferroni") == pytest.approx([0.04, 0.16, 0.12, 0.02])
    assert adjust_pvalues(p, "none") == p
    assert adjust_pvalues([0.9, 0.8], "bonferroni") == [1.0, 1.0]
    assert adjust_pvalues([], "holm") == []
    with pytest.raises(ValueError, match="holm, bonferroni, none"):
        adjust_pvalues(p, "fdr")


@pytest.mark.parametrize("seed", range(5))
def test_holm_never_rejects_less_than_bonferroni(seed: int) -> None:
    import random

    rng = random.Random(seed)
    p = [rng.random() ** 3 for _ in range(12)]
    holm, bonf = adjust_pvalues(p, "holm"), adjust_pvalues(p, "bonferroni")
    assert all(h <= b + 1e-15 for h, b in zip(holm, bonf, strict=True))
    assert all(h >= x for h, x in zip(holm, p, strict=True))


# ------------------------------------------------------------------------- built-in-shaped records


def _sample(correct: bool) -> SampleResult:
    return SampleResult(0, "out", correct, float(correct), "1" if correct else "2", "r", "stop", 5)


def builtin_record(run_id: str, correct: dict[tuple[str, int], set[int]]) -> RunRecord:
    items = tuple(
        ItemResult(
            "builtin",
            f"{task}/level{level}/{i:04d}",
            {"task": task, "level": f"level{level}"},
            "p",
            "1",
            (_sample(i in correct[task, level]),),
        )
        for task in TASKS
        for level in LEVELS
        for i in range(ITEMS_PER_CELL)
    )
    return RunRecord(run_id, {}, items)


def counts(side: str) -> dict[tuple[str, int], int]:
    rates = json.loads(RATES.read_text())[side]
    return {(t, lv): round(rates[f"{t}/level{lv}"] * ITEMS_PER_CELL) for t in TASKS for lv in LEVELS}


def paired_sets(base: dict, tuned: dict) -> tuple[dict, dict]:
    """Correct-item sets with each cell's measured counts and one item of churn each way where possible.

    A cell going from ``cb`` to ``ca`` right answers loses ``max(cb - ca, 0) + x`` and gains
    ``max(ca - cb, 0) + x`` items, ``x`` = 1 when the cell has room for it: that is how a real
    fine-tune moves items (the shipped adapter's ``expr/level1`` is 10 right -> 1 right, 10 lost
    and 1 gained).
    """
    b_sets, t_sets = {}, {}
    for cell, cb in base.items():
        ca = tuned[cell]
        x = 1 if min(cb, ca) >= 1 and max(cb, ca) < ITEMS_PER_CELL else 0
        lost, gained = max(cb - ca, 0) + x, max(ca - cb, 0) + x
        right = set(range(cb))
        wrong = [i for i in range(ITEMS_PER_CELL) if i not in right]
        b_sets[cell] = right
        t_sets[cell] = (right - set(range(lost))) | set(wrong[:gained])
        assert len(t_sets[cell]) == ca
    return b_sets, t_sets


@pytest.fixture(scope="module")
def shipped() -> tuple[RunRecord, RunRecord]:
    """(base, adapter) with the shipped adapter's measured per-cell rates."""
    b, t = paired_sets(counts("base"), counts("adapter"))
    return builtin_record("base", b), builtin_record("lora", t)


@pytest.fixture(scope="module")
def good() -> tuple[RunRecord, RunRecord]:
    """(base, a good adapter): add level 3 from 1 to 10 right, every other cell unchanged up to churn."""
    base = counts("base")
    tuned = {**base, ("add", 3): 10}
    b, t = paired_sets(base, tuned)
    return builtin_record("base", b), builtin_record("good", t)


def test_family_is_benchmarks_and_one_key_subgroups(shipped) -> None:
    base, lora = shipped
    cmp = compare_runs_grouped(lora, base)
    names = [c.name for c in cmp]
    assert names[0] == "builtin" and "builtin/task=expr" in names and "builtin/level=level2" in names
    assert len(cmp) == 1 + len(TASKS) + len(LEVELS)
    assert all(c.gated and c.family_size == 9 and c.correction == "holm" for c in cmp)
    expr = next(c for c in cmp if c.name == "builtin/task=expr")
    assert (expr.test.losses, expr.test.gains, expr.test.n) == (10, 1, 60)
    assert expr.test.base_mean == pytest.approx(10 / 60) and expr.test.run_mean == pytest.approx(1 / 60)
    assert expr.p_adjusted == pytest.approx(min(1.0, 9 * expr.test.p_drop))  # the smallest p of the family
    overall = cmp[0].test
    assert overall.run_mean > overall.base_mean  # the overall score rises (0.370 -> 0.417)


def test_shipped_adapter_fails_the_default_gate_because_of_expr(shipped) -> None:
    base, lora = shipped
    (gate,) = check_baseline(lora, base)
    assert not gate.passed
    assert gate.message.startswith(
        "builtin: task=expr dropped 0.150 (0.167 → 0.017) vs baseline, p=0.0286 (holm over 9"
    )
    assert "10 of 60 items flipped to wrong, 1 to right" in gate.message
    assert "whole benchmark +0.047 (0.370 → 0.417)" in gate.message
    assert gate.details["dropped"] == ["builtin/task=expr"]
    assert gate.details["groups"][0]["name"] == "builtin/task=expr" and gate.details["groups"][0]["dropped"]


def test_why_mid_p_exact_mcnemar_cannot_catch_expr_after_holm(shipped) -> None:
    """10 lost / 1 gained of 60: exact p 0.00586 * 9 tests = 0.053 >= 0.05; mid-p 0.00317 * 9 = 0.029."""
    base, lora = shipped
    (exact,) = check_baseline(lora, base, mcnemar="exact")
    assert exact.passed and "worst task=expr -0.150 p=0.0527" in exact.message
    # Without the level subgroups (6 tests) even the exact test catches it: the family size decides.
    b2 = RunRecord(
        "b", {}, tuple(ItemResult(**{**vars(i), "groups": {"task": i.groups["task"]}}) for i in base.items)
    )
    l2 = RunRecord(
        "l", {}, tuple(ItemResult(**{**vars(i), "groups": {"task": i.groups["task"]}}) for i in lora.items)
    )
    (exact6,) = check_baseline(l2, b2, mcnemar="exact")
    assert not exact6.passed and "holm over 6 tests" in exact6.message


def test_good_adapter_passes_with_every_correction(good) -> None:
    base, tuned = good
    for correction in ("holm", "bonferroni", "none"):
        (gate,) = check_baseline(tuned, base, correction=correction)
        assert gate.passed, gate.message
        assert gate.message.startswith("builtin: avg@n +0.0")
        assert "no subgroup dropped significantly (8 tested)" in gate.message


def test_bonferroni_and_none_decide_on_the_same_family(shipped) -> None:
    base, lora = shipped
    cmp = {c.name: c for c in compare_runs_grouped(lora, base, correction="none")}
    # Uncorrected, level1 (0.70 -> 0.58) also counts as a drop; corrected it does not.
    assert cmp["builtin/level=level1"].p_adjusted < 0.05
    (gate,) = check_baseline(lora, base, correction="none")
    assert set(gate.details["dropped"]) >= {"builtin/task=expr", "builtin/level=level1"}
    (holm,) = check_baseline(lora, base, correction="holm")
    assert holm.details["dropped"] == ["builtin/task=expr"]


def test_small_groups_are_reported_not_gated(shipped) -> None:
    base, lora = shipped
    cmp = compare_runs_grouped(lora, base, min_group_size=61)  # tasks have 60 items, levels 100
    by = {c.name: c for c in cmp}
    assert not by["builtin/task=expr"].gated and by["builtin/task=expr"].test is not None
    assert by["builtin/level=level1"].gated and by["builtin"].gated
    assert all(c.family_size == 4 for c in cmp)
    (gate,) = check_baseline(lora, base, min_group_size=61)
    assert gate.passed and "(3 tested, 5 too small to gate)" in gate.message
    with pytest.raises(ValueError, match="min_group_size"):
        compare_runs_grouped(lora, base, min_group_size=0)


def test_worst_first_orders_failures_then_family_then_the_rest(shipped) -> None:
    base, lora = shipped
    cmp = correct_family(compare_runs_grouped(lora, base, min_group_size=61), min_group_size=61)
    order = [c.name for c in worst_first(cmp)]
    gated = [n for n in order if next(c for c in cmp if c.name == n).gated]
    assert order[: len(gated)] == gated  # the family before the ungated small groups
    assert order[len(gated)] == "builtin/task=expr"  # the smallest raw p among the rest


def test_groups_false_compares_benchmarks_only(shipped) -> None:
    base, lora = shipped
    (only,) = compare_runs_grouped(lora, base, groups=False)
    assert only.key is None and only.family_size == 1
    (gate,) = check_baseline(lora, base, groups=False)
    assert gate.passed  # what the gate said before subgroups: the harmful adapter slipped through
