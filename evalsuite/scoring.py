"""From completions to an ``ItemResult``: run the item's verifier on every sample."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from typing import Any

from evalsuite.types import Completion, Item, ItemResult, SampleResult, item_result_from_dict
from evalsuite.verify.base import Verdict, verifiers

log = logging.getLogger(__name__)

RESULT_PROPERTY = "evalsuite_result"
"""Name of the test report's user property that carries an item's result to the leader."""
SHIPPED = None
"""The property's value on a report whose result an earlier report of the same test carried (or
that the leader has read): the report belongs to an evaluated item, its payload is elsewhere."""


def record_result(node: Any, result: ItemResult) -> None:
    """Attach ``result`` to a test's reports (xdist ships user properties to the controller)."""
    node.user_properties.append((RESULT_PROPERTY, json.dumps(dataclasses.asdict(result), default=str)))


def ship_once(report: Any, shipped: set[int]) -> None:
    """Keep an item's result on the first of its test's reports only (setup, call and teardown all copy
    the node's properties): the payload is serialized, sent and stored by the leader once, not three times.

    ``shipped`` holds the ids of the payload strings already sent for this test (the caller keeps it on the item).
    """
    props = report.user_properties
    if not any(k == RESULT_PROPERTY and v is not SHIPPED for k, v in props):
        return
    report.user_properties = [(k, SHIPPED if k == RESULT_PROPERTY and id(v) in shipped else v) for k, v in props]
    shipped.update(id(v) for k, v in props if k == RESULT_PROPERTY and v is not SHIPPED)


def take_results(report: Any) -> tuple[list[ItemResult], bool]:
    """The results a report carries, and whether it belongs to an evaluated item at all.

    The payloads are replaced by ``SHIPPED`` once read: pytest keeps every report to the end of the
    session, the recorder keeps the result, and nothing else needs the serialized copy.
    """
    props = report.user_properties
    found = [v for k, v in props if k == RESULT_PROPERTY]
    if not found:
        return [], False
    results = [item_result_from_dict(json.loads(str(v))) for v in found if v is not SHIPPED]
    if results:
        report.user_properties = [(k, SHIPPED if k == RESULT_PROPERTY else v) for k, v in props]
    return results, True


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
