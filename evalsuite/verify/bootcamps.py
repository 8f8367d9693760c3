"""Checkers for InternBootcamp evaluation sets (``examples/data/Intenbootcamp_eval/<Name>.jsonl``),
registered under each file's stem so that ``--test-dir`` with those files needs no ``--checker``.

Our own code for the published task formats: the prompt asks for the final answer between
``[answer]`` and ``[/answer]``; the identity (the row's ``ground_truth``) holds what decides it.
"""

from __future__ import annotations

import re
from typing import Any

from evalsuite.verify.base import answer_regions
from evalsuite.verify.puzzle import register_checker

_TAGGED = re.compile(r"\[answer\](.*?)\[/answer\]", re.DOTALL | re.IGNORECASE)


def tagged_answer(output: str) -> str | None:
    """The last non-empty ``[answer]...[/answer]`` of the final answer (the thinking if nothing follows it)."""
    for region in answer_regions(output):
        found = [m.strip() for m in _TAGGED.findall(region) if m.strip()]
        if found:
            return found[-1]
    return None


def _integer(text: str) -> int | None:
    numbers = re.findall(r"-?\d+", text.replace(",", "").replace("−", "-"))
    return int(numbers[-1]) if len(numbers) == 1 else None


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
        expected = identity.get("error_step")
        text = str(extracted).strip().strip("\"'").strip()
        if not expected:  # no error in the steps
            return float(text.lower() in ("no", "none", "否"))
        step = _integer(text)
        return float(step == int(expected))
