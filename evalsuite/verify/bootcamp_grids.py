"""Checkers for InternBootcamp grid and assignment puzzles (``kakurasu``, ``futoshiki``,
``nonograms``, ``maze``, ``cryptomath`` in ``examples/data/InternBootcamp_eval``), registered under
each file's stem. Each one checks the answer against the puzzle's rules, not against one stored
solution, so any valid solution counts; a parsed answer of the wrong shape or type scores 0.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from typing import Any

from evalsuite.verify.bootcamps import last_block, tagged_answer
from evalsuite.verify.puzzle import register_checker

_MAX_LITERAL = 100_000  # characters; a longer "grid" is not an answer to these puzzles
_FENCED_JSON = re.compile(r"```json[ \t]*\n?(.*?)```", re.DOTALL | re.IGNORECASE)
_TAGGED_RAW = re.compile(r"\[answer\](.*?)\[/answer\]", re.DOTALL | re.IGNORECASE)
_DOUBLE_BRACKETS = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)
_FILLED, _EMPTY = "Xx#■", " ._0-□"


def literal(text: str | None) -> Any:
    """A Python literal (lists, tuples, numbers), or None when ``text`` is not one."""
    if text is None or len(text) > _MAX_LITERAL:
        return None
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def int_grid(value: Any, rows: int, cols: int) -> list[list[int]] | None:
    """``value`` as a ``rows`` x ``cols`` grid of ints (bools refused), else None."""
    if not isinstance(value, (list, tuple)) or len(value) != rows:
        return None
    grid = []
    for row in value:
        if not isinstance(row, (list, tuple)) or len(row) != cols:
            return None
        if any(type(cell) is not int for cell in row):
            return None
        grid.append(list(row))
    return grid


@register_checker("kakurasu")
class KakurasuChecker:
    """Kakurasu: an n x n 0/1 grid in ``[answer]``; row i's shaded column numbers (1-based) sum to
    ``identity["row_targets"][i]``, column j's shaded row numbers to ``identity["col_targets"][j]``."""

    def extract_output(self, output: str) -> Any:
        return literal(tagged_answer(output))

    def verify_score(self, extracted: Any, identity: Any) -> float:
        n = int(identity["n"])
        grid = int_grid(extracted, n, n)
        if grid is None or any(cell not in (0, 1) for row in grid for cell in row):
            return 0.0
        rows = [sum(j + 1 for j in range(n) if grid[i][j]) for i in range(n)]
        cols = [sum(i + 1 for i in range(n) if grid[i][j]) for j in range(n)]
        return float(rows == list(identity["row_targets"]) and cols == list(identity["col_targets"]))


@register_checker("futoshiki")
class FutoshikiChecker:
    """Futoshiki: an n x n grid in ``[answer]``, each row and column a permutation of 1..n, keeping
    the givens (``identity["initial"]``, 0 for blank) and every ``identity["inequalities"]``
    (``cell1 symbol cell2``)."""

    def extract_output(self, output: str) -> Any:
        return literal(tagged_answer(output))

    def verify_score(self, extracted: Any, identity: Any) -> float:
        n = int(identity["size"])
        grid = int_grid(extracted, n, n)
        if grid is None:
            return 0.0
        numbers = set(range(1, n + 1))
        if any(set(line) != numbers for line in [*grid, *zip(*grid, strict=True)]):
            return 0.0
        givens = identity["initial"]
        if any(givens[i][j] and grid[i][j] != givens[i][j] for i in range(n) for j in range(n)):
            return 0.0
        for rule in identity["inequalities"]:
            a, b = grid[rule["cell1"][0]][rule["cell1"][1]], grid[rule["cell2"][0]][rule["cell2"][1]]
            if not (a > b if rule["symbol"] == ">" else a < b):
                return 0.0
        return 1.0


def _runs(cells: Sequence[bool]) -> list[int]:
    """Lengths of the blocks of filled cells, in order."""
    runs, current = [], 0
    for filled in [*cells, False]:
        if filled:
            current += 1
        elif current:
            runs.append(current)
            current = 0
    return runs


@register_checker("nonograms")
class NonogramChecker:
    """Nonograms: one line per row in ``[answer]``, ``X`` filled and space or ``.`` empty (short
    lines padded with empty cells; space-separated cells accepted); each row's and column's blocks
    equal ``identity["rows"]`` / ``identity["columns"]``."""

    def extract_output(self, output: str) -> Any:
        return last_block(output, _TAGGED_RAW)  # unstripped: a blank row is a line of spaces

    def verify_score(self, extracted: Any, identity: Any) -> float:
        clues_rows, clues_cols = identity["rows"], identity["columns"]
        grid = _nonogram_grid(str(extracted), len(clues_rows), len(clues_cols))
        if grid is None:
            return 0.0
        rows_ok = all(_runs(row) == list(clue) for row, clue in zip(grid, clues_rows, strict=True))
        cols_ok = all(
            _runs(col) == list(clue) for col, clue in zip(zip(*grid, strict=True), clues_cols, strict=True)
        )
        return float(rows_ok and cols_ok)


def _nonogram_grid(block: str, rows: int, cols: int) -> list[list[bool]] | None:
    lines = block.split("\n")
    if lines and not lines[0].strip():  # the newline after [answer]
        lines = lines[1:]
    while len(lines) > rows and not lines[-1].strip():
        lines.pop()
    if len(lines) != rows:
        return None
    grid = []
    for line in lines:
        line = line.rstrip()  # trailing blanks are empty cells either way
        if len(line) > cols:  # cells written with spaces between them
            line = line.replace(" ", "")
        if len(line) > cols or any(c not in _FILLED + _EMPTY for c in line):
            return None
        grid.append([c in _FILLED for c in line.ljust(cols)])
    return grid


@register_checker("maze")
class MazeChecker:
    """Maze: the path as a list of ``(row, col)`` in the last ```` ```json ```` block, from
    ``identity["start_pos"]`` to ``identity["end_pos"]``, one orthogonal step at a time, never on a
    wall (1 in ``identity["grid"]``)."""

    def extract_output(self, output: str) -> Any:
        return literal(last_block(output, _FENCED_JSON))

    def verify_score(self, extracted: Any, identity: Any) -> float:
        maze = identity["grid"]
        path = _cells(extracted)
        if not path or path[0] != tuple(identity["start_pos"]) or path[-1] != tuple(identity["end_pos"]):
            return 0.0
        for r, c in path:
            if not (0 <= r < len(maze) and 0 <= c < len(maze[r])) or maze[r][c] == 1:
                return 0.0
        steps = zip(path, path[1:], strict=False)
        return float(all(abs(r1 - r2) + abs(c1 - c2) == 1 for (r1, c1), (r2, c2) in steps))


def _cells(value: Any) -> list[tuple[int, int]] | None:
    if not isinstance(value, (list, tuple)):
        return None
    cells = []
    for cell in value:
        if not isinstance(cell, (list, tuple)) or len(cell) != 2 or any(type(x) is not int for x in cell):
            return None
        cells.append((cell[0], cell[1]))
    return cells


@register_checker("cryptomath")
class CryptomathChecker:
    """Cryptarithm addition: ``[[A=1,B=2,...]]`` assigning distinct digits to exactly
    ``identity["all_letters"]``, no ``identity["leading_letters"]`` zero, and the sum of
    ``identity["left_terms"]`` equal to ``identity["right_term"]``."""

    def extract_output(self, output: str) -> Any:
        block = last_block(output, _DOUBLE_BRACKETS)
        pairs = re.findall(r"([A-Za-z])\s*=\s*(\d+)", block or "")
        return {letter: int(digits) for letter, digits in pairs} or None

    def verify_score(self, extracted: Any, identity: Any) -> float:
        digits: dict[str, int] = extracted
        if set(digits) != set(identity["all_letters"]) or len(set(digits.values())) != len(digits):
            return 0.0
        if any(d > 9 for d in digits.values()) or any(digits[x] == 0 for x in identity["leading_letters"]):
            return 0.0

        def number(word: str) -> int:
            return int("".join(str(digits[c]) for c in word))

        return float(sum(number(t) for t in identity["left_terms"]) == number(identity["right_term"]))
