"""The verdict type, the verifier registry, and where in a response the final answer is."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from evalsuite.registry import Registry
from evalsuite.types import TRUNCATED, Item


@dataclass(frozen=True)
class Verdict:
    """A verifier's judgement of one output."""

    correct: bool
    """Whether the output is accepted."""
    extracted: str | None
    """What was taken from the output as the answer (None when nothing was found)."""
    reason: str
    """Why, in a few words: "equivalent", "no answer found", "truncated", "timeout", ..."""
    score: float | None = None
    """Graded score in [0, 1]; None means 1.0 when correct else 0.0."""
    error: str | None = None
    """Set when the verifier itself failed (timeout, crash): an infrastructure error, not a wrong answer."""

    @property
    def value(self) -> float:
        """The score, defaulting to the boolean verdict."""
        return float(self.correct) if self.score is None else self.score

    @property
    def truncated(self) -> bool:
        """The output was cut off before it stated a final answer (reason ``TRUNCATED``)."""
        return self.reason == TRUNCATED


class ItemVerifier(Protocol):
    """Judges one output of one item. ``truncated`` is True when generation hit max_tokens."""

    def __call__(self, output: str, item: Item, *, truncated: bool = False) -> Verdict: ...


def thinking_unclosed(output: str) -> bool:
    """Whether the output opens a ``<think>`` that it never closes (its last one, if several).

    Such an output has no final answer whatever its finish reason says: servers report "stop" at
    limits of their own, and a thinking trace cut by a proxy looks the same.
    """
    return output.rfind("<think>") > output.rfind("</think>")


def answer_regions(output: str, *, truncated: bool = False) -> list[str]:
    """Where to look for a final answer, best first: the text after ``</think>``, then the thinking.

    A response inside an unclosed ``<think>`` has no final answer (empty list), truncated or not:
    what the model wrote while thinking is not what it answered. (``truncated`` does not change
    the regions; it is accepted so that callers can pass what they know.)
    """
    del truncated
    if thinking_unclosed(output):
        return []
    if "</think>" in output:
        thinking, _, after = output.rpartition("</think>")
        return [after, thinking]
    return [output]


def no_answer(output: str, *, truncated: bool, score: float | None = None) -> Verdict:
    """The verdict on an output without a final answer: ``TRUNCATED`` when it was cut off."""
    cut = truncated or thinking_unclosed(output)
    return Verdict(False, None, TRUNCATED if cut else "no answer found", score=score)


def judging_cut_off(verifier: ItemVerifier) -> ItemVerifier:
    """Wrap an item verifier so that every verifier, ours or a plugin's, judges cut-off output alike.

    An unclosed ``<think>`` is ``TRUNCATED`` without asking the verifier; an output that hit the
    token limit and from which the verifier extracted nothing (and that did not error) is too.
    """

    @functools.wraps(verifier)
    def judge(output: str, item: Item, *, truncated: bool = False) -> Verdict:
        if thinking_unclosed(output):
            return Verdict(False, None, TRUNCATED, score=0.0)
        verdict = verifier(output, item, truncated=truncated)
        if truncated and verdict.extracted is None and verdict.error is None and not verdict.correct:
            return dataclasses.replace(verdict, reason=TRUNCATED)
        return verdict

    return judge


verifiers: Registry[ItemVerifier] = Registry(
    "verifier",
    [
        "evalsuite.verify.math",
        "evalsuite.verify.choice",
        "evalsuite.verify.code",
        "evalsuite.verify.text",
        "evalsuite.verify.puzzle",
    ],
)


def register_verifier(name: str) -> Callable[[ItemVerifier], ItemVerifier]:
    """Decorator: register an item verifier under ``name`` (wrapped by ``judging_cut_off``)."""

    def decorator(verifier: ItemVerifier) -> ItemVerifier:
        judged = judging_cut_off(verifier)
        verifiers.register(name)(judged)
        return judged

    return decorator
