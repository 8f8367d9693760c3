"""The position-bias table on synthetic results: picks vs gold positions, the chi-square test, consistency."""

from __future__ import annotations

import pytest

from evalsuite.position_bias import bias_lines, is_choice_benchmark, position_bias, position_biases
from evalsuite.types import ItemResult, SampleResult

LETTERS = "ABCD"


def rotated(question: int, rotation: int, answer_option: int | None, *, error: bool = False) -> ItemResult:
    """Question ``question`` asked with its options rotated by ``rotation``; the model names option
    ``answer_option`` (0 = correct), or nothing."""
    perm = [(i + rotation) % 4 for i in range(4)]  # perm[letter index] = original option index
    gold = LETTERS[perm.index(0)]
    letter = LETTERS[perm.index(answer_option)] if answer_option is not None else None
    sample = SampleResult(
        0, "", letter == gold, float(letter == gold), letter, "", "stop", 5, error="boom" if error else None
    )
    return ItemResult(
        "mc",
        f"q{question}/rot{rotation}",
        {},
        "",
        gold,
        (sample,),
        meta={"record_id": f"q{question}", "permutation": perm, "choices": ["w"] * 4},
    )


def test_a_model_that_always_names_the_right_option_is_unbiased_and_consistent():
    items = [rotated(q, r, 0) for q in range(6) for r in range(4)]
    b = position_bias("mc", items)
    assert [r.picked for r in b.letters] == [6, 6, 6, 6] and [r.gold for r in b.letters] == [6, 6, 6, 6]
    assert b.chi_square == pytest.approx(0.0) and b.p_value == pytest.approx(1.0) and b.dof == 3
    assert (b.rotated_questions, b.consistent_questions, b.consistency) == (6, 6, 1.0)
    assert all(r.accuracy == 1.0 for r in b.letters)


def test_a_model_that_always_says_a_prefers_a_letter_and_is_never_consistent():
    # The option under A in rotation r is perm[0] = r: always letter A, a different option each time.
    items = [rotated(q, r, r) for q in range(6) for r in range(4)]
    b = position_bias("mc", items)
    assert [r.picked for r in b.letters] == [24, 0, 0, 0]
    assert [r.picked_rate for r in b.letters] == [1.0, 0.0, 0.0, 0.0]
    assert b.chi_square == pytest.approx(72.0)  # (24-6)^2/6 + 3 * 6
    assert b.p_value < 1e-12
    assert b.consistent_questions == 0 and b.consistency == 0.0
    # Right only where the gold is A (rotation 0): accuracy 1 there, 0 elsewhere.
    assert [r.accuracy for r in b.letters] == [1.0, 0.0, 0.0, 0.0]
    (line,) = bias_lines({"mc": b})
    assert line.startswith("mc position bias (picked/gold/accuracy): A 100%/25%/100%  B 0%/25%/0%")
    assert line.endswith("same option in every order: 0/6 questions")


def test_unanswered_and_errored_samples():
    items = [rotated(0, r, 0) for r in range(3)] + [rotated(0, 3, None), rotated(1, 0, 0, error=True)]
    b = position_bias("mc", items)
    assert b.samples == 4 and b.answered == 3  # the errored sample is not counted at all
    assert b.consistent_questions == 0  # one rotation gave no answer: not the same option everywhere
    assert b.to_dict()["consistency"] == 0.0


def test_only_letter_gold_benchmarks_get_a_table():
    mc = [rotated(0, 0, 0)]
    math = [ItemResult("math", "x", {}, "", "42", (SampleResult(0, "", True, 1.0, "42", "", "stop", 1),))]
    assert is_choice_benchmark(mc) and not is_choice_benchmark(math)
    assert list(position_biases(mc + math)) == ["mc"]
    assert position_bias("mc", mc).rotated_questions == 0 and position_bias("mc", mc).consistency is None
