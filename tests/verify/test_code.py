"""The code verifier: extraction, LiveCodeBench comparison rules, verdicts (each case runs the sandbox)."""

from __future__ import annotations

import sys

import pytest

from evalsuite.types import Item, Message
from evalsuite.verify.base import verifiers
from evalsuite.verify.code import (
    code_item_verifier,
    extract_code,
    stdout_matches,
    value_matches,
    verify_code,
)


def answer(code: str, *, lang: str = "python") -> str:
    return f"<think>\nLet me think.\n</think>\nHere it is:\n```{lang}\n{code}\n```\n"


ADD = [
    {"input": "1 2\n", "output": "3\n"},
    {"input": "5 5", "output": "10"},
    {"input": "-1 1", "output": "0"},
]
TWO_SUM = [
    {"input": "[2, 7, 11, 15]\n9", "output": "[0, 1]"},
    {"input": "[3, 2, 4]\n6", "output": "[1, 2]"},
    {"input": "[3, 3]\n6", "output": "[0, 1]"},
]
TWO_SUM_CLASS = """
class Solution:
    def twoSum(self, nums: List[int], target: int) -> List[int]:
        seen = {}
        for i, x in enumerate(nums):
            if target - x in seen:
                return [seen[target - x], i]
            seen[x] = i
"""

# (id, output, tests, options, correct, reason prefix, score)
CASES = [
    (
        "stdin-right",
        answer("a, b = map(int, input().split())\nprint(a + b)"),
        ADD,
        {},
        True,
        "passed 3/3",
        1.0,
    ),
    (
        "stdin-wrong",
        answer("a, b = map(int, input().split())\nprint(a + b if a != 5 else 0)"),
        ADD,
        {},
        False,
        "wrong answer on test 2",
        2 / 3,
    ),
    (
        "stdin-runtime-error",
        answer("a, b = map(int, input().split())\nprint(a // (b - 5) * 0 + a + b)"),
        ADD,
        {},
        False,
        "runtime error on test 2: ZeroDivisionError",
        2 / 3,
    ),
    (
        "stdin-tle",
        answer("a, b = map(int, input().split())\nwhile a == 5: pass\nprint(a + b)"),
        ADD,
        {"time_limit_s": 0.5},
        False,
        "time limit exceeded on test 2",
        2 / 3,
    ),
    ("stdin-syntax-error", answer("print(1"), ADD, {}, False, "compile error: SyntaxError", 0.0),
    (
        "stdin-main-guard",
        answer(
            "import sys\ndef main():\n    a, b = map(int, sys.stdin.read().split())\n"
            "    print(a + b)\nif __name__ == '__main__':\n    main()"
        ),
        ADD,
        {},
        True,
        "passed 3/3",
        1.0,
    ),
    ("call-class-right", answer(TWO_SUM_CLASS), TWO_SUM, {"fn_name": "twoSum"}, True, "passed 3/3", 1.0),
    (
        "call-function-right",
        answer(
            "def twoSum(nums, target):\n    n = len(nums)\n"
            "    return next([i, j] for i in range(n) for j in range(i + 1, n) if nums[i] + nums[j] == target)"
        ),
        TWO_SUM,
        {"fn_name": "twoSum"},
        True,
        "passed 3/3",
        1.0,
    ),
    (
        "call-wrong",
        answer("class Solution:\n    def twoSum(self, nums, target):\n        return [0, 1]"),
        TWO_SUM,
        {"fn_name": "twoSum"},
        False,
        "wrong answer on test 2",
        2 / 3,
    ),
    (
        "call-missing-function",
        answer("class Solution:\n    def other(self):\n        pass"),
        TWO_SUM,
        {"fn_name": "twoSum"},
        False,
        "runtime error: no class Solution with method 'twoSum'",
        0.0,
    ),
    (
        "call-runtime-error",
        answer("class Solution:\n    def twoSum(self, nums, target):\n        return [1 // 0]"),
        TWO_SUM,
        {"fn_name": "twoSum"},
        False,
        "runtime error on test 1: ZeroDivisionError",
        0.0,
    ),
    (
        "call-tle",
        answer(
            "class Solution:\n    def twoSum(self, nums, target):\n        while target == 6: pass\n"
            "        return [0, 1]"
        ),
        TWO_SUM,
        {"fn_name": "twoSum", "time_limit_s": 0.5},
        False,
        "time limit exceeded on test 2",
        1 / 3,
    ),
    ("no-code", "<think>hmm</think>The answer is to add the numbers.", ADD, {}, False, "no code found", 0.0),
    (
        "truncated",
        "<think>Let me write\n```python\nprint(",
        ADD,
        {"truncated": True},
        False,
        "truncated",
        0.0,
    ),
    (
        "numeric-tokens",
        answer("a, b = map(int, input().split())\nprint(f'{(a + b):.2f}   ')"),
        ADD,
        {},
        True,
        "passed 3/3",
        1.0,
    ),
]


@pytest.mark.parametrize(
    ("output", "tests", "options", "correct", "reason", "score"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_verify_code(
    output: str, tests: list, options: dict, correct: bool, reason: str, score: float
) -> None:
    verdict = verify_code(output, tests, **options)
    assert verdict.correct is correct
    assert verdict.reason.startswith(reason), verdict.reason
    assert verdict.score == pytest.approx(score)
    assert verdict.error is None


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (answer("print(1)"), "print(1)\n"),
        (
            "<think>\n```python\nprint('draft')\n```\n</think>\n```python\nprint('final')\n```",
            "print('final')\n",
        ),
        ("<think>\n```python\nprint('draft')\n```\n</think>\nNo code after thinking.", "print('draft')\n"),
        ("<think>\n```\nprint('draft')\n```\n</think>\n```\nprint('untagged')\n```", "print('untagged')\n"),
        ("```python\nprint(1)\n```\nSample:\n```\n3 4\n```", "print(1)\n"),
        ("```\nprint(1)\n```\nand\n```\nprint(2)\n```", "print(2)\n"),
        ("</think>\n```py\nprint(3)\n```\n```cpp\nint main() {}\n```", "print(3)\n"),
        ("</think>\n```cpp\nint main() {}\n```", None),
        ("- item\n  ```python\n  x = 1\n  print(x)\n  ```\n", "x = 1\nprint(x)\n"),
        ("</think>\n```python\nprint('unclosed')", None),
        ("</think>\n```python\n\n```", None),
        ("no fences at all", None),
    ],
    ids=[
        "plain",
        "after-think",
        "fallback-into-think",
        "untagged-after-think",
        "python-tag-preferred",
        "last-untagged",
        "py-tag",
        "other-language",
        "indented",
        "unclosed",
        "empty",
        "none",
    ],
)
def test_extract_code(output: str, expected: str | None) -> None:
    assert extract_code(output) == expected


def test_truncated_inside_thinking_has_no_program() -> None:
    draft = "<think>\n```python\nprint('draft')\n```\nwait, but"
    assert extract_code(draft, truncated=True) is None
    assert extract_code(draft) is None  # an unclosed think has no final answer, whatever the finish reason
    assert verify_code(draft, ADD, truncated=True).reason == "truncated"


@pytest.mark.parametrize(
    ("actual", "expected", "match"),
    [
        ("3\n", "3", True),
        ("1 2   \n3\n\n", "1 2\n3", True),
        ("1.0", "1", True),
        ("0.50 2", "0.5 2.00", True),
        ("1e2", "100", True),
        ("1.0000001", "1", False),
        ("1 2", "1  2", True),
        ("YES", "yes", False),
        ("1\n2", "1 2", False),
        ("", "0", False),
    ],
)
def test_stdout_matches(actual: str, expected: str, match: bool) -> None:
    assert stdout_matches(actual, expected) is match


@pytest.mark.parametrize(
    ("actual", "expected", "match"),
    [
        ("[0, 1]", "[0,1]", True),
        ("[0, 1]", [0, 1], True),
        ("1", "1.0", True),
        ("[1, 0]", "[0, 1]", False),
        ('"a"', '"a"', True),
        (None, "null", False),
    ],
)
def test_value_matches(actual: str | None, expected: object, match: bool) -> None:
    assert value_matches(actual, expected) is match


def test_tuple_result_compares_as_list() -> None:
    code = answer("class Solution:\n    def twoSum(self, nums, target):\n        return (0, 1)")
    assert verify_code(code, TWO_SUM[:1] + TWO_SUM[2:], fn_name="twoSum").correct


def test_lcb_header_names_are_available() -> None:
    # LiveCodeBench prepends `from collections import *` etc.; solutions rely on it.
    code = answer("print(sum(Counter(input().split()).values()), gcd(12, 18), heappop([3]))")
    assert verify_code(code, [{"input": "a b a", "output": "3 6 3"}]).correct


def test_sandbox_failure_is_an_error_not_a_wrong_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    verdict = verify_code(answer("print(1)"), [{"input": "", "output": "1"}])
    assert not verdict.correct
    assert verdict.error is not None and "could not start" in verdict.error


def test_no_tests_is_a_usage_error() -> None:
    with pytest.raises(ValueError, match="at least one test"):
        verify_code(answer("print(1)"), [])


def test_registered_item_verifier() -> None:
    assert verifiers.get("code") is code_item_verifier
    item = Item(
        benchmark="lcb",
        id="two-sum",
        messages=(Message("user", "Solve two-sum"),),
        gold={"tests": TWO_SUM, "fn_name": "twoSum"},
        verifier="code",
        meta={"time_limit_s": 2},
    )
    verdict = code_item_verifier(answer(TWO_SUM_CLASS), item)
    assert (verdict.correct, verdict.reason) == (True, "passed 3/3")
    assert code_item_verifier("no code", item, truncated=True).reason == "truncated"
    bad = Item(benchmark="lcb", id="x", messages=(), gold="42", verifier="code")
    with pytest.raises(ValueError, match="gold"):
        code_item_verifier(answer("print(1)"), bad)
