"""Checkers for InternBootcamp evaluation sets (``examples/data/InternBootcamp_eval/<Name>.jsonl``)
whose answer is one short value, registered under each file's stem so that ``--test-dir`` with
those files needs no ``--checker``. Grid and assignment puzzles are in ``bootcamp_grids``.

Our own code for the published task formats: the prompt asks for the final answer between
``[answer]`` and ``[/answer]`` (or ``<answer>``, or a fenced block); the identity (the row's
``ground_truth``) holds what decides it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from evalsuite.verify.base import answer_regions
from evalsuite.verify.puzzle import register_checker

_TAGGED = re.compile(r"\[answer\](.*?)\[/answer\]", re.DOTALL | re.IGNORECASE)
_ANGLE_TAGGED = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_FENCED_TEXT = re.compile(r"```text[ \t]*\n?(.*?)```", re.DOTALL | re.IGNORECASE)
_LETTER = re.compile(r"\(?([A-E])\)?[.:]?", re.IGNORECASE)


def last_block(output: str, pattern: re.Pattern[str]) -> str | None:
    """The last non-blank match (group 1, unstripped) of ``pattern`` in the final answer (the
    thinking if nothing follows it)."""
    for region in answer_regions(output):
        found = [m for m in pattern.findall(region) if m.strip()]
        if found:
            return found[-1]
    return None


def tagged_answer(output: str) -> str | None:
    """The last non-empty ``[answer]...[/answer]`` of the final answer (the thinking if nothing follows it)."""
    block = last_block(output, _TAGGED)
    return None if block is None else block.strip()


def _integer(text: str) -> int | None:
    numbers = re.findall(r"-?\d+", text.replace(",", "").replace("−", "-"))
    return int(numbers[-1]) if len(numbers) == 1 else None


def _unquoted(text: str) -> str:
    return str(text).strip().strip("\"'`").strip().rstrip(".").strip()


def _error_step_matches(text: str, expected: Any) -> bool:
    """A "first wrong thought" answer: the step number, or "No" when ``expected`` names none."""
    answer = _unquoted(text)
    if expected is None or str(expected).strip().lower() in ("", "no", "none"):
        return answer.lower() in ("no", "none", "否")
    return _integer(answer) == int(expected)


@register_checker("BbehMultistepArithmetic")
class MultistepArithmeticChecker:
    """BBEH multi-step arithmetic: one integer, ``identity["answer"]``."""

    def extract_output(self, output: str) -> Any:
        return tagged_answer(output)

    def verify_score(self, extracted: Any, identity: Any) -> float:
        value = _integer(str(extracted))
        return float(value is not None and value == int(identity["answer"]))


@register_checker("BbehDyckLanguages")
class DyckErrorStepChecker:
    """BBEH Dyck languages: the number of the first wrong thought, ``identity["error_step"]``, or
    "No" when every step is right (an identity without an error step)."""

    def extract_output(self, output: str) -> Any:
        return tagged_answer(output)

    def verify_score(self, extracted: Any, identity: Any) -> float:
        return float(_error_step_matches(str(extracted), identity.get("error_step")))


@register_checker("BbehWordSorting")
class WordSortingChecker:
    """BBEH word sorting, two subtasks: ``error_detection`` (the first wrong thought,
    ``identity["first_error_step"]``, or "No") and ``pure_sort`` (the words in
    ``identity["sorted_words"]`` order, comma-separated or a JSON list; case ignored)."""

    def extract_output(self, output: str) -> Any:
        return tagged_answer(output)

    def verify_score(self, extracted: Any, identity: Any) -> float:
        if identity.get("subtask") == "error_detection":
            return float(_error_step_matches(str(extracted), identity.get("first_error_step")))
        return float(_word_list(str(extracted)) == [w.lower() for w in identity["sorted_words"]])


def _word_list(text: str) -> list[str]:
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    items = parsed if isinstance(parsed, list) else re.split(r"[,\n]", text)
    return [_unquoted(str(w)).lower() for w in items if _unquoted(str(w))]


@register_checker("bbehbooleanexpressions")
class BooleanExpressionsChecker:
    """BBEH boolean expressions: the letter (A-E) of the true expression; ``identity["answer"]``
    is its 0-based index into ``identity["expressions"]``."""

    def extract_output(self, output: str) -> Any:
        text = tagged_answer(output)
        match = _LETTER.fullmatch(text.strip()) if text else None
        return match.group(1).upper() if match else None

    def verify_score(self, extracted: Any, identity: Any) -> float:
        return float(ord(str(extracted)) - ord("A") == int(identity["answer"]))


@register_checker("bbehobjectcounting")
class ObjectCountingChecker:
    """BBEH object counting: one integer (a trailing ``... = N`` allowed), ``identity["correct_answer"]``."""

    def extract_output(self, output: str) -> Any:
        text = tagged_answer(output)
        return None if text is None else _integer(text.rpartition("=")[2])

    def verify_score(self, extracted: Any, identity: Any) -> float:
        return float(int(extracted) == int(identity["correct_answer"]))


@register_checker("bbehshuffobject")
class ShuffledObjectsChecker:
    """BBEH shuffled objects: the object or partner the asked person ends with, between ``<answer>``
    tags; ``identity["correct_answer"]``, case ignored."""

    def extract_output(self, output: str) -> Any:
        block = last_block(output, _ANGLE_TAGGED)
        return None if block is None else _unquoted(block)

    def verify_score(self, extracted: Any, identity: Any) -> float:
        return float(str(extracted).lower() == str(identity["correct_answer"]).strip().lower())


@register_checker("cipher_merged")
class CipherChecker:
    """Kor cipher encode/decode tasks: the text in the last ```` ```text ```` block against
    ``identity["ground_truth"]`` (a string, or a list of codes), case and spaces ignored; partial credit ``(1 - edit distance / length)**2``
    as InternBootcamp scores it, so only the exact text reaches the default threshold 1."""

    def extract_output(self, output: str) -> Any:
        block = last_block(output, _FENCED_TEXT)
        return None if block is None else block.strip()

    def verify_score(self, extracted: Any, identity: Any) -> float:
        answer, expected = _cipher_text(extracted), _cipher_text(identity["ground_truth"])
        if not expected:
            return float(answer == expected)
        if len(answer) >= 2 * len(expected):  # distance >= len(expected): no credit, skip the table
            return 0.0
        return (1.0 - min(_edit_distance(answer, expected) / len(expected), 1.0)) ** 2


def _cipher_text(value: Any) -> str:
    """Case, whitespace and bracket style ignored: a list answer (ASCII codes) compares as ``[1,2]``."""
    text = "".join(str(value).lower().split())
    return text.replace("(", "[").replace(")", "]").replace("'", '"')


def _edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, one row at a time."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]
