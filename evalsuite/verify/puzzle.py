"""Programmatic puzzle checkers in the InternBootcamp manner, and the "puzzle" item verifier.

A checker is registered by name and supplies two methods: ``extract_output(output) -> Any`` (the
candidate solution, or None) and ``verify_score(extracted, identity) -> float`` in [0, 1], where
``identity`` is the puzzle instance (``item.gold``). The verdict carries the score; the output is
correct when the score reaches the threshold (1.0 unless told otherwise). Third parties register
checkers with ``@register_checker("name")`` or the ``evalsuite.checkers`` entry-point group.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Sequence
from fractions import Fraction
from typing import Any, Protocol

from evalsuite.registry import Registry
from evalsuite.types import Item
from evalsuite.verify.answer import last_boxed, stated_answer
from evalsuite.verify.base import Verdict, answer_regions, no_answer, register_verifier
from evalsuite.verify.external import ExternalChecker, is_spec, load_checker
from evalsuite.verify.math import normalize


class PuzzleChecker(Protocol):
    """Extracts a candidate solution from a response and scores it against the puzzle instance."""

    def extract_output(self, output: str) -> Any:
        """The candidate solution in ``output`` (the final part of the response), or None."""
        ...

    def verify_score(self, extracted: Any, identity: Any) -> float:
        """Score in [0, 1] of ``extracted`` for the puzzle instance ``identity``."""
        ...


checkers: Registry[Any] = Registry(
    "checker", ["evalsuite.verify.puzzle", "evalsuite.verify.bootcamps", "evalsuite.verify.bootcamp_grids"]
)
register_checker = checkers.register


def get_checker(name: str) -> PuzzleChecker | ExternalChecker:
    """The registered checker ``name`` (a registered class is instantiated with no arguments), or
    an InternBootcamp-style class when ``name`` is ``module:Class`` (``evalsuite.verify.external``)."""
    if is_spec(name):
        return load_checker(name)
    entry = checkers.get(name)
    return entry() if isinstance(entry, type) else entry


@register_checker("boxed")
class BoxedAnswerChecker:
    """Fallback: the answer in the last ``\\boxed{}`` must equal the identity (or one of a list)."""

    def extract_output(self, output: str) -> Any:
        return last_boxed(output)

    def verify_score(self, extracted: Any, identity: Any) -> float:
        accepted = identity if isinstance(identity, (list, tuple)) else [identity]

        def key(s: object) -> str:
            return re.sub(r"\s+", "", normalize(str(s))).lower()

        return float(any(key(extracted) == key(a) for a in accepted))


_ARITHMETIC = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b}


def _evaluate(node: ast.AST, numbers: list[int]) -> Fraction:
    """Exact value of + - * / arithmetic on integer literals (collected into ``numbers``)."""
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, numbers)
    if isinstance(node, ast.Constant) and type(node.value) is int:
        numbers.append(node.value)
        return Fraction(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
        return _ARITHMETIC[type(node.op)](_evaluate(node.left, numbers), _evaluate(node.right, numbers))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        left, right = _evaluate(node.left, numbers), _evaluate(node.right, numbers)
        if right == 0:
            raise ZeroDivisionError("division by zero")
        return left / right
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _evaluate(node.operand, numbers)
        return -value if isinstance(node.op, ast.USub) else value
    raise ValueError(f"not allowed in a Game of 24 expression: {ast.dump(node)[:60]}")


@register_checker("game24")
class Game24Checker:
    """Game of 24: an arithmetic expression using each given number once that equals the target.

    Identity: ``{"numbers": [4, 7, 8, 8], "target": 24}``, InternBootcamp's
    ``{"puzzle": "4 7 8 8", "target": 24}``, or just the list of numbers (target 24).
    The expression is parsed with ``ast`` and evaluated exactly with fractions; nothing is ``eval``-ed.
    """

    def extract_output(self, output: str) -> Any:
        regions = answer_regions(output)
        text = stated_answer(regions[0]) if regions else None
        if text is None and regions:
            lines = [ln for ln in regions[0].splitlines() if re.search(r"\d\s*[-+*/×÷]", ln)]
            text = lines[-1] if lines else None
        if text is None:
            return None
        text = re.sub(r"\\times|×|\\cdot|⋅|·", "*", text)
        text = re.sub(r"\\div|÷", "/", text)
        text = re.sub(r"\\left|\\right|\$|\\[()\[\]]|`", "", text).replace("[", "(").replace("]", ")")
        text = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"((\1)/(\2))", text)
        # The longest arithmetic run before any "=": "We can do 8 / (3 - 8/3) = 24" -> "8 / (3 - 8/3)".
        runs = re.findall(r"[\d\s()+\-*/.]+", text.split("=")[0])
        runs = [r.strip().rstrip(".").strip() for r in runs if re.search(r"\d\s*[-+*/]", r)]
        return max(runs, key=len) if runs else None

    def verify_score(self, extracted: Any, identity: Any) -> float:
        numbers = _game24_numbers(identity)
        target = Fraction(identity.get("target", 24)) if isinstance(identity, dict) else Fraction(24)
        used: list[int] = []
        try:
            value = _evaluate(ast.parse(str(extracted), mode="eval"), used)
        except (SyntaxError, ValueError, ZeroDivisionError, RecursionError):
            return 0.0
        return float(sorted(used) == sorted(int(n) for n in numbers) and value == target)


def _game24_numbers(identity: Any) -> list[Any]:
    if not isinstance(identity, dict):
        return list(identity)
    if "numbers" in identity:
        return list(identity["numbers"])
    return str(identity["puzzle"]).replace(",", " ").split()


def _grid(cells: str | Sequence[Any]) -> list[int]:
    """Flat list of cell values (0 for empty) from "53..7...." strings or nested lists."""
    if isinstance(cells, str):
        return [0 if c in ".0_" else int(c) for c in re.sub(r"[^0-9._]", "", cells)]
    flat: list[int] = []
    for row in cells:
        flat.extend(_grid(row) if isinstance(row, (list, tuple, str)) else [int(row or 0)])
    return flat


@register_checker("sudoku")
class SudokuChecker:
    """Sudoku (4x4 or 9x9): the filled grid must keep the givens and make every unit a permutation.

    Identity: the puzzle as an 81-character string ("0" or "." for blanks) or a list of rows.
    Score: 0 when the grid is malformed or changes a given; otherwise the fraction of rows,
    columns and boxes that are valid, so 1.0 only for a solution.
    """

    def extract_output(self, output: str) -> Any:
        regions = answer_regions(output)
        if not regions:
            return None
        text = last_boxed(regions[0]) or regions[0]
        rows = [re.sub(r"\D", "", ln) for ln in text.splitlines()]
        rows = [r for r in rows if len(r) in (4, 9)]
        for size in (9, 4):
            sized = [r for r in rows if len(r) == size]
            if len(sized) >= size:
                return "".join(sized[-size:])
        compact = re.findall(r"\b\d{81}\b|\b\d{16}\b", text)
        return compact[-1] if compact else None

    def verify_score(self, extracted: Any, identity: Any) -> float:
        given, filled = _grid(identity), _grid(extracted)
        n = math.isqrt(len(given))
        box = math.isqrt(n)
        if n not in (4, 9) or len(filled) != len(given):
            return 0.0
        if any(g and g != f for g, f in zip(given, filled, strict=True)):
            return 0.0
        units = [[r * n + c for c in range(n)] for r in range(n)]
        units += [[r * n + c for r in range(n)] for c in range(n)]
        units += [
            [(br + r) * n + bc + c for r in range(box) for c in range(box)]
            for br in range(0, n, box)
            for bc in range(0, n, box)
        ]
        expected = set(range(1, n + 1))
        return sum({filled[i] for i in unit} == expected for unit in units) / len(units)


def verify_puzzle(
    output: str,
    checker: str | PuzzleChecker,
    identity: Any,
    *,
    threshold: float = 1.0,
    truncated: bool = False,
) -> Verdict:
    """Judge a puzzle response with a checker (a registered name or an object).

    Returns:
        A ``Verdict`` with the checker's ``score``; correct when ``score >= threshold``. A checker
        that raises gives reason "checker error" with ``error`` set.
    """
    check = get_checker(checker) if isinstance(checker, str) else checker
    if not answer_regions(output):
        return no_answer(output, truncated=truncated, score=0.0)
    try:
        extracted = check.extract_output(output)
        if extracted is None:
            return no_answer(output, truncated=truncated, score=0.0)
        if isinstance(check, ExternalChecker):  # InternBootcamp's verify_score reads the full response
            score = check.score_output(output, identity)
        else:
            score = float(check.verify_score(extracted, identity))
    except Exception as e:  # a broken checker is an infrastructure error, not a wrong answer
        return Verdict(False, None, "checker error", score=0.0, error=f"{type(e).__name__}: {e}")
    correct = score >= threshold
    return Verdict(correct, str(extracted), "solved" if correct else f"score {score:.3g}", score=score)


@register_verifier("puzzle")
def puzzle_item_verifier(output: str, item: Item, *, truncated: bool = False) -> Verdict:
    """Item verifier "puzzle": checker ``item.meta["checker"]`` (``module:Class`` or a registered
    name), else the registered checker named ``item.meta["bootcamp"]``; identity ``item.gold``."""
    name = item.meta.get("checker") or item.meta.get("bootcamp")
    if not name:
        raise ValueError(
            f"item {item.nodeid} uses the puzzle verifier but has no meta['checker'] or meta['bootcamp']; "
            f"set one to module:Class or one of: {', '.join(checkers.names())}"
        )
    return verify_puzzle(
        output,
        str(name),
        item.gold,
        threshold=float(item.meta.get("threshold", 1.0)),
        truncated=truncated,
    )
