"""From completions to an ``ItemResult``: run the item's verifier on every sample."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from typing import Any

from evalsuite.types import Completion, Item, ItemResult, SampleResult
from evalsuite.verify.base import Verdict, verifiers

log = logging.getLogger(__name__)

RESULT_PROPERTY = "evalsuite_result"
"""Name of the test report's user property that carries an item's result to the leader."""


def record_result(node: Any, result: ItemResult) -> None:
    """Attach ``result`` to a test's reports (xdist ships user properties to the controller)."""
    node.user_properties.append((RESULT_PROPERTY, json.dumps(dataclasses.asdict(result), default=str)))


def verify_completion(item: Item, completion: Completion) -> Verdict:
    """The item's verifier on one completion; a crashing verifier is an error, not a wrong answer."""
    verifier = verifiers.get(item.verifier)
    text = completion.text
    delimiter = item.meta.get("answer_after")
    if delimiter:  # --answer-after: the answer is what follows the output's last delimiter
        if delimiter in text:
            text = text.rsplit(delimiter, 1)[1]
        elif not (item.prompt_text or "").rstrip().endswith(delimiter.rstrip()):
            # (a prompt that ends with the delimiter makes the whole output the answer)
            return Verdict(False, None, f"no {delimiter!r} in the output")
    try:
        return verifier(text, item, truncated=completion.finish_reason == "length")
    except Exception as exc:
        log.exception("verifier %s crashed on %s", item.verifier, item.nodeid)
        return Verdict(False, None, "verifier crashed", error=f"{type(exc).__name__}: {exc}")


def evaluate_item(
    item: Item, prompt: str, completions: Sequence[Completion], *, strict_format: bool = False
) -> ItemResult:
    """Verify every completion of ``item``; ``strict_format`` reaches the verifier as ``item.meta``."""
    if strict_format:
        item = dataclasses.replace(item, meta={**item.meta, "strict_format": True})
    samples = []
    for index, completion in enumerate(completions):
        verdict = verify_completion(item, completion)
        samples.append(
            SampleResult(
                index=index,
                output=completion.text,
                correct=verdict.correct,
                score=verdict.value,
                extracted=verdict.extracted,
                reason=verdict.reason,
                finish_reason=completion.finish_reason,
                output_tokens=completion.output_tokens,
                error=verdict.error,
            )
        )
    return _result(item, prompt, samples)


def failed_item(item: Item, prompt: str, samples: int, error: str) -> ItemResult:
    """An item whose generation failed: every sample carries the infrastructure error."""
    return _result(
        item,
        prompt,
        [SampleResult(i, "", False, 0.0, None, "generation failed", "error", 0, error=error) for i in range(samples)],
    )


def _result(item: Item, prompt: str, samples: Sequence[SampleResult]) -> ItemResult:
    return ItemResult(
        benchmark=item.benchmark,
        item_id=item.id,
        groups=dict(item.groups),
        prompt=prompt,
        gold=item.gold,
        samples=tuple(samples),
        meta=dict(item.meta),
    )


def failure_line(result: ItemResult) -> str:
    """One line for a wrong item: what sample 0 extracted vs the gold, and why it was judged wrong."""
    if not result.samples:
        return f"no samples (gold {result.gold!r})"
    s = result.samples[0]
    line = f"extracted {s.extracted!r} vs gold {result.gold!r}: {s.reason} [{s.finish_reason}, {s.output_tokens} tok]"
    if len(result.samples) > 1:
        line += f" (0 of {len(result.samples)} samples correct)"
    return line + (f" ERROR {s.error}" if s.error else "")


def failure_message(result: ItemResult) -> str:
    """What a reader of a failed test needs: gold, what was extracted, and why it was judged wrong."""
    lines = [f"{result.nodeid}: no sample correct (gold: {result.gold!r})"]
    for s in result.samples:
        lines.append(
            f"  sample {s.index}: extracted {s.extracted!r} — {s.reason}"
            f" [{s.finish_reason}, {s.output_tokens} tokens]" + (f" ERROR {s.error}" if s.error else "")
        )
    tail = result.samples[0].output[-400:] if result.samples else ""
    if tail:
        lines.append("  output of sample 0 (end): " + tail.replace("\n", "\n    "))
    return "\n".join(lines)
