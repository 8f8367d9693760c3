"""verify_math: table-driven equivalence and extraction cases, gold formats, the item verifier."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from evalsuite.types import Item, Message
from evalsuite.verify import Verdict, verifiers, verify_math
from evalsuite.verify.answer import extract_answer, gold_answer, last_boxed
from evalsuite.verify.math import normalize

CASES = Path(__file__).parent / "cases"


def load(name: str) -> list[dict]:
    return json.loads((CASES / name).read_text())["cases"]


EQUIVALENCE = load("math_numbers.json") + load("math_structures.json") + load("math_more.json")
EXTRACTION = load("math_extraction.json")


def test_case_tables_are_large_and_balanced() -> None:
    assert len(EQUIVALENCE) >= 300
    negatives = sum(not c["correct"] for c in EQUIVALENCE)
    assert negatives >= 0.3 * len(EQUIVALENCE)
    categories = {c["category"] for c in EQUIVALENCE}
    assert len(categories) >= 12


@pytest.fixture(scope="module")
def equivalence_verdicts() -> dict[int, Verdict]:
    """All equivalence cases verified up front from two threads (two worker processes): half the time."""

    def run(k: int) -> Verdict:
        case = EQUIVALENCE[k]
        return verify_math(f"The answer is $\\boxed{{{case['pred']}}}$.", case["gold"])

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(enumerate(pool.map(run, range(len(EQUIVALENCE)))))


@pytest.mark.parametrize(
    "k", range(len(EQUIVALENCE)), ids=[f"{c['category']}:{c['gold']}|{c['pred']}" for c in EQUIVALENCE]
)
def test_equivalence(k: int, equivalence_verdicts: dict[int, Verdict]) -> None:
    case, verdict = EQUIVALENCE[k], equivalence_verdicts[k]
    assert verdict.error is None
    assert verdict.correct is case["correct"], verdict
    assert verdict.reason == ("equivalent" if case["correct"] else "not equivalent")


@pytest.mark.parametrize("case", EXTRACTION, ids=[f"{c['category']}-{k}" for k, c in enumerate(EXTRACTION)])
def test_extraction(case: dict) -> None:
    verdict = verify_math(case["output"], case["gold"], truncated=case["truncated"])
    assert verdict.correct is case["correct"], verdict
    if case["reason"] is not None:
        assert verdict.reason == case["reason"]
    if case["extracted"] is not None:
        assert verdict.extracted == case["extracted"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"\boxed{\frac{1}{2}}", r"\frac{1}{2}"),
        (r"\boxed{a} then \boxed{\{1,\{2\}\}}", r"\{1,\{2\}\}"),
        (r"\fbox{x} and \boxed{y}", "y"),
        (r"\boxed{y} and \fbox{x}", "x"),
        (r"\boxed 5", "5"),
        (r"\boxedx{3}", None),
        ("no box", None),
    ],
)
def test_last_boxed(text: str, expected: str | None) -> None:
    assert last_boxed(text) == expected


@pytest.mark.parametrize(
    ("gold", "expected"),
    [("#### 1,234", "1,234"), ("Work.\n#### 18", "18"), (r"so $\boxed{3}$", "3"), ("025", "025"), (25, "25")],
)
def test_gold_answer(gold: object, expected: str) -> None:
    assert gold_answer(gold) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (r"\dfrac{1}{2}", r"\frac{1}{2}"),
        (r"\left( 1, 2 \right)", "( 1, 2 )"),
        (r"90^\circ", "90"),
        (r"50\%", "50"),
        ("1,234,567", "1234567"),
        ("3.2e5", r"3.2\times 10^{5}"),
        ("025", "25"),
        (r"10\text{ cm}^2", "10"),
        ("25 dollars", "25"),
        (r"\text{Evelyn}", "Evelyn"),
        ("(1,234)", "(1,234)"),  # a tuple, not a thousands separator
        ("3x", "3x"),  # a variable is not a unit
        (r"0.\overline{142857}", r"\frac{1}{7}"),
        (r"3.1\overline{6}", r"\frac{19}{6}"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_thinking_answer_is_used_only_when_nothing_follows() -> None:
    assert extract_answer(r"<think>\boxed{1}</think>Final Answer: 2") == "2"
    assert extract_answer(r"<think>\boxed{1}</think>") == "1"
    assert extract_answer(r"<think>\boxed{1}", truncated=True) is None


@pytest.mark.parametrize(
    ("gold", "output", "correct"),
    [
        ("025", r"\boxed{25}", True),
        ("25", "Final Answer: 025", True),
        ("#### 1,234", "so the total is 1234", True),
        ("#### 1,234", "so the total is 1243", False),
    ],
)
def test_item_verifier(gold: str, output: str, correct: bool) -> None:
    item = Item("bench", "0", (Message("user", "q"),), gold, verifier="math")
    verdict = verifiers.get("math")(output, item)
    assert verdict.correct is correct


def test_worker_crash_is_an_error_not_a_wrong_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    from evalsuite.verify import math as math_module
    from evalsuite.verify.timeout import VerifierCrash

    class DeadPool:
        def call(self, *args: object, **kwargs: object) -> object:
            raise VerifierCrash("verification worker died (exit status -9)")

    monkeypatch.setattr(math_module, "pool_for", lambda preload: DeadPool())
    verdict = verify_math(r"\boxed{x+1}", "1+x")
    assert (verdict.correct, verdict.reason) == (False, "verifier error")
    assert verdict.error == "verification worker died (exit status -9)"
