"""Ported InternBootcamp checkers on correct, wrong and malformed outputs, identities in their published format."""

from __future__ import annotations

import pytest

from evalsuite.verify import verify_puzzle

# Identities as InternBootcamp's examples/data/Intenbootcamp_eval/*.jsonl ship them (abridged to
# the fields the checkers read, plus one neighbour to show the rest is ignored).
ARITHMETIC = {
    "A": "((((((5 !& -8) ][ -7) && -8) ~][ -2) ~ 8) ~! 1)",
    "A_val": 1,
    "B_val": 0,
    "C_val": 10,
    "answer": -9,
}
DYCK = {"input_sequence": "<<>>({})", "error_step": 79, "error_type": "_corrupt_stack_state"}
DYCK_NO_ERROR = {"input_sequence": "<<>>({})", "error_step": None}

CASES = [
    # (bootcamp, identity, output, correct, reason)
    (
        "BbehMultistepArithmetic",
        ARITHMETIC,
        "<think>A=1, B=0, C=10</think>A + B - C = -9\n[answer]-9[/answer]",
        True,
        "solved",
    ),
    ("BbehMultistepArithmetic", ARITHMETIC, "[answer]\n−9\n[/answer]", True, "solved"),
    ("BbehMultistepArithmetic", ARITHMETIC, "[answer]9[/answer]", False, "score 0"),
    ("BbehMultistepArithmetic", ARITHMETIC, "[answer]-9 or 9[/answer]", False, "score 0"),
    ("BbehMultistepArithmetic", ARITHMETIC, "The answer is -9.", False, "no answer found"),
    ("BbehMultistepArithmetic", ARITHMETIC, "<think>[answer]-9[/answer] hmm", False, "truncated"),
    ("BbehDyckLanguages", DYCK, "第一个错误在 Thought 79。\n[answer]\n79\n[/answer]", True, "solved"),
    ("BbehDyckLanguages", DYCK, "[answer]Thought 79[/answer]", True, "solved"),
    ("BbehDyckLanguages", DYCK, "[answer]78[/answer]", False, "score 0"),
    ("BbehDyckLanguages", DYCK, "[answer]No[/answer]", False, "score 0"),
    ("BbehDyckLanguages", DYCK, "[answer][/answer]", False, "no answer found"),
    ("BbehDyckLanguages", DYCK_NO_ERROR, '[answer]"No"[/answer]', True, "solved"),
    ("BbehDyckLanguages", DYCK_NO_ERROR, "[answer]12[/answer]", False, "score 0"),
]


@pytest.mark.parametrize(("bootcamp", "identity", "output", "correct", "reason"), CASES)
def test_ported_checker(bootcamp, identity, output, correct, reason):
    verdict = verify_puzzle(output, bootcamp, identity)
    assert (verdict.correct, verdict.reason) == (correct, reason), verdict
    assert verdict.error is None
