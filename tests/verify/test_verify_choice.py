"""verify_choice: the answer forms models write, last answer wins, refusals and multiple letters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalsuite.types import Item, Message
from evalsuite.verify import verifiers, verify_choice

CASES = json.loads((Path(__file__).parent / "cases" / "choice.json").read_text())["cases"]
REAL = json.loads((Path(__file__).parent / "cases" / "choice_real.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[f"{k}-{c['output'][:30]}" for k, c in enumerate(CASES)])
def test_choice_cases(case: dict) -> None:
    verdict = verify_choice(
        case["output"], case["gold"], choices=case["choices"], truncated=case["truncated"]
    )
    assert (verdict.correct, verdict.reason, verdict.extracted) == (
        case["correct"],
        case["reason"],
        case["extracted"],
    )


@pytest.mark.parametrize("bad", ["K", "AB", "", "1"])
def test_gold_must_be_one_letter(bad: str) -> None:
    with pytest.raises(ValueError, match="one letter A-J"):
        verify_choice("Answer: A", bad)


def test_gold_letter_forms() -> None:
    assert verify_choice("Answer: B", "(b)").correct


def test_item_verifier_uses_meta_choices() -> None:
    item = Item(
        "gpqa", "0", (Message("user", "q"),), "C", verifier="choice", meta={"choices": ["1", "2", "3", "4"]}
    )
    verifier = verifiers.get("choice")
    assert verifier("The answer is 3", item).correct
    assert verifier("Answer: (C)", item).correct
    assert not verifier("Answer: (D)", item).correct
    assert verifier("<think>long", item, truncated=True).reason == "truncated"


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=c["known_miss"]))
        if "known_miss" in c
        else c
        for c in REAL["cases"]
    ],
    ids=[f"{REAL['sources'][c['source']]['model']}-{c['question_id']}" for c in REAL["cases"]],
)
def test_real_model_answers(case: dict) -> None:
    """A real response is judged by the letter it settled on; one that settled on none is wrong for every gold."""
    letters = "ABCDEFGHIJ"[: len(case["choices"])]
    chosen = case["chosen"]
    for gold in letters:
        verdict = verify_choice(case["output"], gold, choices=case["choices"])
        assert verdict.correct == (gold == chosen), (gold, verdict)
        if chosen is not None:
            assert verdict.extracted == chosen
