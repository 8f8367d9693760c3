"""Ported InternBootcamp checkers on correct, wrong and malformed outputs, identities in their published format."""

from __future__ import annotations

import pytest

from evalsuite.verify import verify_puzzle

# Identities as InternBootcamp's examples/data/InternBootcamp_eval/*.jsonl ship them (abridged to
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
SORT_ERRORS = {
    "first_error_step": 2,
    "sorted_words": ["pencilers", "unrelated", "smote", "disminister"],
    "words": ["pencilers", "disminister", "unrelated", "smote"],
    "subtask": "error_detection",
    "mode": "reverse",
    "sort_order": "custom_sorting",
}
SORT_WORDS = {
    "first_error_step": "No",
    "sorted_words": ["clerically", "iglulirmiut", "nonattacking", "outcharms", "pantochromism"],
    "words": ["pantochromism", "outcharms", "iglulirmiut", "clerically", "nonattacking"],
    "subtask": "pure_sort",
    "mode": "normal",
    "sort_order": "normal_order",
    "custom_order": None,
}
BOOLEAN = {
    "expressions": [
        "The capital of Nepal is Bhaktapur.",
        "not not (((8 * 8 > 8) and (True)) or (True)) and (not ((False) or (True)))",
        "((2 * -2 > 4) or (5 * -5 > 25)) and (True)",
        "not not not not not (not ((4 * 4 > 4) and (The capital of Denmark is Copenhagen.)))",
        "1 * -1 > 1",
    ],
    "answer": 3,
}
COUNTING = {
    "items": [
        "I have 369 Subaru Forester (initially I had 73, got 30 more, ...).",
        "My cousin has 218 lychees.",
    ],
    "categories": ["mobiles", "musical instruments"],
    "operation": "difference",
    "correct_answer": 1684,
    "_sums": [11528, 9844],
}
SHUFFLE = {
    "people": ["Alice", "Bob", "Charlie"],
    "context_type": "book exchange",
    "initial_assignments": {"Alice": "Moby Dick", "Bob": "War and Peace", "Charlie": "The Hobbit"},
    "swaps": [["Bob", "Charlie"], ["Alice", "Bob"], ["Alice", "Charlie"]],
    "question_person": "Bob",
    "correct_answer": "Moby Dick",
}
CIPHER = {
    "id": 6,
    "source_filename": "icl_with_rule_encode_Kor_rule16_RedefenceFigureCipher_en.jsonl",
    "cipher_name": "Kor_rule16_RedefenceFigureCipher",
    "input": "PYRITIC",
    "extra_args": {},
    "output": "...\n最终密文: P*Y*RC*II*T#*\n",
    "ground_truth": "P*Y*RC*II*T#*",
}
CIPHER_CODES = {
    "id": 79,
    "source_filename": "icl_with_rule_encode_ASCII_cn.jsonl",
    "cipher_name": "ASCII",
    "input": "nervii",
    "extra_args": {},
    "ground_truth": [110, 101, 114, 118, 105, 105],
}

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
    ("BbehWordSorting", SORT_ERRORS, "Thought 2 is wrong.\n[answer]2[/answer]", True, "solved"),
    ("BbehWordSorting", SORT_ERRORS, "[answer]No[/answer]", False, "score 0"),
    ("BbehWordSorting", SORT_ERRORS, "[answer]3[/answer]", False, "score 0"),
    (
        "BbehWordSorting",
        SORT_WORDS,
        "[answer]clerically, iglulirmiut, nonattacking, outcharms, pantochromism[/answer]",
        True,
        "solved",
    ),
    (
        "BbehWordSorting",
        SORT_WORDS,
        '[answer]["Clerically", "iglulirmiut", "nonattacking", "outcharms", "pantochromism"][/answer]',
        True,
        "solved",
    ),
    (
        "BbehWordSorting",
        SORT_WORDS,
        "[answer]iglulirmiut, clerically, nonattacking, outcharms, pantochromism[/answer]",
        False,
        "score 0",
    ),
    ("BbehWordSorting", SORT_WORDS, "[answer]clerically, iglulirmiut[/answer]", False, "score 0"),
    ("BbehWordSorting", SORT_WORDS, "clerically, iglulirmiut, nonattacking", False, "no answer found"),
    ("bbehbooleanexpressions", BOOLEAN, "(D) is the only true one.\n[answer]D[/answer]", True, "solved"),
    ("bbehbooleanexpressions", BOOLEAN, "[answer](d)[/answer]", True, "solved"),
    ("bbehbooleanexpressions", BOOLEAN, "[answer]C[/answer]", False, "score 0"),
    ("bbehbooleanexpressions", BOOLEAN, "[answer]Definitely not A[/answer]", False, "no answer found"),
    ("bbehbooleanexpressions", BOOLEAN, "[answer]F[/answer]", False, "no answer found"),
    ("bbehobjectcounting", COUNTING, "11528 - 9844 = 1684\n[answer]1,684[/answer]", True, "solved"),
    ("bbehobjectcounting", COUNTING, "[answer]11528 - 9844 = 1684[/answer]", True, "solved"),
    ("bbehobjectcounting", COUNTING, "[answer]1685[/answer]", False, "score 0"),
    ("bbehobjectcounting", COUNTING, "[answer]about a thousand[/answer]", False, "no answer found"),
    ("bbehshuffobject", SHUFFLE, "Bob ends with Moby Dick. <answer>moby dick.</answer>", True, "solved"),
    ("bbehshuffobject", SHUFFLE, "<answer>The Hobbit</answer>", False, "score 0"),
    ("bbehshuffobject", SHUFFLE, "[answer]Moby Dick[/answer]", False, "no answer found"),
    ("cipher_merged", CIPHER, "Final-answer: ```text\nP*Y*RC*II*T#*\n```", True, "solved"),
    ("cipher_merged", CIPHER, "Final-answer: ```text\np*y*rc*ii*t#*```", True, "solved"),
    ("cipher_merged", CIPHER, "Final-answer: ```text\nP*Y*RC*II*T*\n```", False, "score 0.852"),
    ("cipher_merged", CIPHER, "Final-answer: ```text\n" + "Z" * 500 + "\n```", False, "score 0"),
    ("cipher_merged", CIPHER, "Final-answer: P*Y*RC*II*T#*", False, "no answer found"),
    (
        "cipher_merged",
        CIPHER_CODES,
        "Final-answer: ```text\n[110, 101, 114, 118, 105, 105]\n```",
        True,
        "solved",
    ),
    ("cipher_merged", CIPHER_CODES, "Final-answer: ```text\n(110,101,114,118,105,105)\n```", True, "solved"),
    ("cipher_merged", CIPHER_CODES, "Final-answer: ```text\nnervii\n```", False, "score 0"),
]


@pytest.mark.parametrize(("bootcamp", "identity", "output", "correct", "reason"), CASES)
def test_ported_checker(bootcamp, identity, output, correct, reason):
    verdict = verify_puzzle(output, bootcamp, identity)
    assert (verdict.correct, verdict.reason) == (correct, reason), verdict
    assert verdict.error is None
