"""Ported InternBootcamp grid and assignment checkers: valid solutions accepted whatever their
layout, rule-breaking and malformed answers rejected, identities in their published format
(rows of examples/data/InternBootcamp_eval/*.jsonl)."""

from __future__ import annotations

import pytest

from evalsuite.verify import verify_puzzle
from evalsuite.verify.puzzle import get_checker

KAKURASU = {"n": 3, "row_targets": [2, 2, 1], "col_targets": [3, 3, 0]}
FUTOSHIKI = {
    "size": 3,
    "initial": [[0, 0, 0], [0, 2, 0], [3, 0, 0]],
    "inequalities": [
        {"cell1": [0, 0], "cell2": [0, 1], "symbol": "<"},
        {"cell1": [0, 2], "cell2": [1, 2], "symbol": "<"},
        {"cell1": [1, 0], "cell2": [2, 0], "symbol": "<"},
    ],
}
NONOGRAM = {"rows": [[], [2], [1], [2, 1], [1]], "columns": [[1], [2], [2], [1, 1], []]}
CRYPTOMATH = {
    "left_terms": ["YNG", "GN"],
    "right_term": "YGG",
    "leading_letters": ["Y", "G"],
    "all_letters": ["Y", "G", "N"],
}
MAZE = {
    "grid": [
        [0, 0, 1, 1],
        [1, 0, 0, 1],
        [1, 1, 0, 0],
        [1, 1, 1, 0],
    ],
    "start_pos": [0, 0],
    "end_pos": [3, 3],
    "difficulty": 1,
    "seed": None,
    "solution_path": [[0, 0], [0, 1], [1, 1], [1, 2], [2, 2], [2, 3], [3, 3]],
}
NONOGRAM_SOLVED = "\n     \n  XX \n  X  \nXX X \n X   \n"
MAZE_PATH = "[(0, 0), (0, 1), (1, 1), (1, 2), (2, 2), (2, 3), (3, 3)]"

CASES = [
    # (bootcamp, identity, output, correct, reason)
    ("kakurasu", KAKURASU, "[answer]\n[[0, 1, 0], [0, 1, 0], [1, 0, 0]]\n[/answer]", True, "solved"),
    ("kakurasu", KAKURASU, "[answer][[0, 1, 0], [0, 1, 0], [0, 0, 1]][/answer]", False, "score 0"),
    ("kakurasu", KAKURASU, "[answer][[0, 2, 0], [0, 1, 0], [1, 0, 0]][/answer]", False, "score 0"),
    ("kakurasu", KAKURASU, "[answer][[0, 1, 0], [0, 1, 0]][/answer]", False, "score 0"),
    ("kakurasu", KAKURASU, "[answer]row 1: column 2[/answer]", False, "no answer found"),
    ("kakurasu", KAKURASU, "[answer]" + "[" * 5000 + "[/answer]", False, "no answer found"),
    ("futoshiki", FUTOSHIKI, "[answer]\n[[2,3,1],\n[1,2,3],\n[3,1,2]]\n[/answer]", True, "solved"),
    ("futoshiki", FUTOSHIKI, "[answer][[3,2,1],[1,3,2],[2,1,3]][/answer]", False, "score 0"),  # givens
    ("futoshiki", FUTOSHIKI, "[answer][[1,3,2],[2,2,3],[3,1,1]][/answer]", False, "score 0"),  # repeats
    (
        "futoshiki",
        FUTOSHIKI,
        "[answer][['2','3','1'],['1','2','3'],['3','1','2']][/answer]",
        False,
        "score 0",
    ),
    ("futoshiki", FUTOSHIKI, "[answer]2 3 1 / 1 2 3 / 3 1 2[/answer]", False, "no answer found"),
    ("nonograms", NONOGRAM, f"[answer]{NONOGRAM_SOLVED}[/answer]", True, "solved"),
    ("nonograms", NONOGRAM, "[answer]\n.....\n..XX.\n..X..\nXX.X.\n.X...\n[/answer]", True, "solved"),
    (
        "nonograms",
        NONOGRAM,
        "[answer]\n. . . . .\n. . X X .\n. . X . .\nX X . X .\n. X . . .\n[/answer]",
        True,
        "solved",
    ),
    ("nonograms", NONOGRAM, "[answer]\n     \n  XX\n  X\nXX X\n X\n[/answer]", True, "solved"),  # trimmed
    ("nonograms", NONOGRAM, "[answer]\n     \n  XX \n X   \nXX X \n X   \n[/answer]", False, "score 0"),
    ("nonograms", NONOGRAM, "[answer]\n  XX \n  X  \nXX X \n X   \n[/answer]", False, "score 0"),  # 4 rows
    ("nonograms", NONOGRAM, "[answer]\n     \n  XX \n  X  \nXX X?\n X   \n[/answer]", False, "score 0"),
    ("nonograms", NONOGRAM, "The picture is a small bird.", False, "no answer found"),
    ("maze", MAZE, f"Final-answer: ```json\n{MAZE_PATH}\n```", True, "solved"),
    ("maze", MAZE, "Final-answer: ```json\n[[0,0],[0,1],[1,1],[1,2],[2,2],[2,3],[3,3]]```", True, "solved"),
    (
        "maze",
        MAZE,
        "Final-answer: ```json\n[(0, 0), (0, 1), (1, 1), (1, 2), (2, 2), (3, 3)]\n```",
        False,
        "score 0",
    ),
    (
        "maze",
        MAZE,
        "Final-answer: ```json\n[(0, 0), (1, 0), (1, 1), (1, 2), (2, 2), (2, 3), (3, 3)]\n```",
        False,
        "score 0",
    ),
    (
        "maze",
        MAZE,
        "Final-answer: ```json\n[(0, 0), (0, 1), (1, 1), (1, 2), (2, 2), (2, 3)]\n```",
        False,
        "score 0",
    ),
    ("maze", MAZE, "Final-answer: ```json\n[(0, 0), (0, 1), 'down', (3, 3)]\n```", False, "score 0"),
    (
        "maze",
        MAZE,
        "Final-answer: ```json\nright, down, right, down, right, down\n```",
        False,
        "no answer found",
    ),
    ("maze", MAZE, f"Final-answer: {MAZE_PATH}", False, "no answer found"),
    ("cryptomath", CRYPTOMATH, "102 + 20 = 122, so [[Y=1, G=2, N=0]]", True, "solved"),
    ("cryptomath", CRYPTOMATH, "[[N=0,G=2,Y=1]]", True, "solved"),
    ("cryptomath", CRYPTOMATH, "[[Y=3, G=7, N=0]]", True, "solved"),  # 307 + 70 = 377: also valid
    ("cryptomath", CRYPTOMATH, "[[Y=1,G=2,N=3]]", False, "score 0"),
    ("cryptomath", CRYPTOMATH, "[[Y=1,G=1,N=0]]", False, "score 0"),  # digits not distinct
    ("cryptomath", CRYPTOMATH, "[[Y=1,G=2]]", False, "score 0"),  # a letter left out
    ("cryptomath", CRYPTOMATH, "[[Y=1,G=2,N=0,Q=5]]", False, "score 0"),  # a letter too many
    ("cryptomath", CRYPTOMATH, "[[Y=one, G=two]]", False, "no answer found"),
    ("cryptomath", CRYPTOMATH, "Y=1, G=2, N=0", False, "no answer found"),
]


@pytest.mark.parametrize(("bootcamp", "identity", "output", "correct", "reason"), CASES)
def test_ported_grid_checker(bootcamp, identity, output, correct, reason):
    verdict = verify_puzzle(output, bootcamp, identity)
    assert (verdict.correct, verdict.reason) == (correct, reason), verdict
    assert verdict.error is None


def test_answer_after_thinking_wins():
    output = "<think>[answer][[0, 0, 0], [0, 1, 0], [1, 0, 0]][/answer]</think>[answer]\n[[0, 1, 0], [0, 1, 0], [1, 0, 0]][/answer]"
    assert verify_puzzle(output, "kakurasu", KAKURASU).correct


@pytest.mark.parametrize("name", ["kakurasu", "futoshiki", "nonograms", "maze", "cryptomath"])
def test_registered_under_the_eval_file_stem(name):
    assert get_checker(name).__class__.__module__ == "evalsuite.verify.bootcamp_grids"
