"""Functions the property tests run in a killable worker process (``evalsuite.verify.timeout``).

Each takes the arbitrary text (and JSON-able extras) and returns something JSON-able, so the
worker pool can run it under a hard time limit: a call that hangs is a ``VerifierTimeout`` in the
test, an exception a ``VerifierCrash`` naming it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from evalsuite.types import Item, Message

# Items each registered verifier is fed, with representative golds in their real formats.
ITEMS: dict[str, dict[str, Any]] = {
    "math": {"gold": "\\frac{1}{2}", "meta": {"timeout_s": 2.0}},
    "math-strict": {
        "verifier": "math",
        "gold": "#### 1,234",
        "meta": {"timeout_s": 2.0, "strict_format": True},
    },
    "choice": {"gold": "B", "meta": {"choices": ["Paris", "London", "x^2 + 1", "None of these"]}},
    "exact": {"gold": "Evelyn"},
    "text": {"gold": "the quick brown fox", "meta": {"method": "f1"}},
    "puzzle-game24": {
        "verifier": "puzzle",
        "gold": {"puzzle": "4 7 8 8", "target": 24},
        "meta": {"bootcamp": "game24"},
    },
    "puzzle-sudoku": {"verifier": "puzzle", "gold": "1.3..4..2.1...2.", "meta": {"bootcamp": "sudoku"}},
    "puzzle-boxed": {"verifier": "puzzle", "gold": ["12", "twelve"], "meta": {"bootcamp": "boxed"}},
    "code": {
        "gold": {"tests": [{"input": "1 2\n", "output": "3"}], "fn_name": None},
        "meta": {"time_limit_s": 2.0},
    },
}


def verdict(target: str, output: str, truncated: bool) -> dict[str, Any]:
    """The registered verifier behind ``target`` on ``output``, as a dict."""
    from evalsuite.verify import verifiers

    spec = ITEMS[target]
    name = spec.get("verifier", target)
    item = Item("fuzz", "0", (Message("user", "q"),), spec["gold"], verifier=name, meta=spec.get("meta", {}))
    v = verifiers.get(name)(output, item, truncated=truncated)
    return {**dataclasses.asdict(v), "value": v.value, "truncated": v.truncated}


def gold_of(output: str, gold: str) -> dict[str, Any]:
    """``verify_math`` with an arbitrary gold as well (the gold goes through the normaliser too)."""
    from evalsuite.verify.math import verify_math

    v = verify_math(output, gold, timeout_s=2.0)
    return {**dataclasses.asdict(v), "value": v.value, "truncated": v.truncated}


def checker_extract(name: str, output: str) -> str | None:
    """A registered puzzle checker's ``extract_output``, as text."""
    from evalsuite.verify.puzzle import get_checker

    found = get_checker(name).extract_output(output)
    return None if found is None else str(found)
