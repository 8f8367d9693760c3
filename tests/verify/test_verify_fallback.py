"""Math extraction's fallback order and the strict-format switch, from tests/verify/cases/math_fallback.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalsuite.types import Item, Message
from evalsuite.verify import verifiers, verify_math

CASES = json.loads((Path(__file__).parent / "cases" / "math_fallback.json").read_text())["cases"]


def test_every_rule_has_cases_both_ways() -> None:
    rules = {c["rule"] for c in CASES}
    assert {"unclosed-think", "empty-box", "answer-phrase", "last-value"} <= rules
    for rule in rules - {"unclosed-think", "truncated-no-think"}:
        assert {c["correct"] for c in CASES if c["rule"] == rule} == {True, False}, rule


@pytest.mark.parametrize("case", CASES, ids=[f"{c['rule']}-{k}" for k, c in enumerate(CASES)])
def test_fallback_case(case: dict) -> None:
    verdict = verify_math(
        case["output"], case["gold"], truncated=case["truncated"], strict_format=case["strict_format"]
    )
    assert verdict.correct is case["correct"], verdict
    assert verdict.error is None
    if case["reason"] is not None:
        assert verdict.reason == case["reason"], verdict
    if case["extracted"] is not None:
        assert verdict.extracted == case["extracted"], verdict
    assert verdict.truncated is (case["reason"] == "truncated")


@pytest.mark.parametrize("strict", [False, True])
def test_item_verifier_reads_strict_format_from_meta(strict: bool) -> None:
    item = Item("b", "0", (Message("user", "q"),), "12", meta={"strict_format": strict})
    verdict = verifiers.get("math")("the answer is 4 \\times 3 = 12 cookies", item)
    assert verdict.correct is not strict, verdict


@pytest.mark.parametrize("name", ["math", "choice", "exact", "text", "puzzle", "code"])
def test_every_registered_verifier_judges_an_unclosed_think_truncated(name: str) -> None:
    item = Item("b", "0", (Message("user", "q"),), "A", verifier=name, meta={"bootcamp": "boxed"})
    verdict = verifiers.get(name)("<think>The answer is A. \\boxed{A}\n```python\nprint(1)\n```", item)
    assert (verdict.correct, verdict.reason, verdict.truncated) == (False, "truncated", True)


def test_length_stop_without_an_answer_is_truncated_for_any_verifier() -> None:
    item = Item("b", "0", (Message("user", "q"),), "A", verifier="choice")
    assert verifiers.get("choice")("Let us weigh option", item, truncated=True).truncated
    assert not verifiers.get("choice")("Let us weigh option", item).truncated
    assert verifiers.get("choice")("Answer: A", item, truncated=True).correct
