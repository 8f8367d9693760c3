"""``junit.xml``: one testcase per item, so CI dashboards show per-item verdicts and suite metrics.

An item whose valid samples are all wrong gets a ``<failure>``; an item whose samples all errored
(engine or verifier failure) gets an ``<error>`` instead, matching how metrics exclude it; an item
whose samples were all cut off before their answer gets ``<skipped type="Truncated">``, as pytest
reports it (xfail "truncated at N tokens").
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evalsuite.metrics import Summary, majority_answer, valid_samples
from evalsuite.redaction import redact
from evalsuite.types import ItemResult, RunRecord, truncation_reason

# XML 1.0 forbids most control characters; model outputs contain them.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_TAIL_CHARS = 2000


def _clean(value: Any) -> str:
    return _XML_ILLEGAL.sub("\ufffd", str(value))


def _prop(parent: ET.Element, name: str, value: Any) -> None:
    ET.SubElement(parent, "property", name=_clean(name), value=_clean("" if value is None else value))


def _flat_scalars(meta: Mapping[str, Any], prefix: str = "", depth: int = 0) -> list[tuple[str, Any]]:
    """``{"sampling": {"seed": 0}}`` -> ``[("sampling.seed", 0)]``, scalars only, two levels deep."""
    out: list[tuple[str, Any]] = []
    for k, v in meta.items():
        if isinstance(v, Mapping) and depth < 1:
            out.extend(_flat_scalars(v, f"{prefix}{k}.", depth + 1))
        elif isinstance(v, (str, int, float, bool)) or v is None:
            out.append((f"{prefix}{k}", v))
    return out


def item_status(item: ItemResult) -> str:
    """``correct`` (a valid sample is correct), ``wrong``, ``truncated`` (every valid sample was cut
    off before its answer) or ``error`` (every sample errored)."""
    valid = valid_samples(item)
    if not valid:
        return "error"
    if item.truncated:
        return "truncated"
    return "correct" if any(s.correct for s in valid) else "wrong"


def _testcase(case: ET.Element, it: ItemResult) -> str:
    """Fill the ``<testcase>`` element of one item; its status."""
    case.set("classname", _clean(it.benchmark))
    case.set("name", _clean(it.item_id))
    case.set("time", "0")
    props = ET.SubElement(case, "properties")
    valid = valid_samples(it)
    voted = majority_answer(valid)
    first = voted or (valid[0] if valid else None)
    score = sum(s.score for s in valid) / len(valid) if valid else None
    _prop(props, "score", None if score is None else f"{score:.4f}")
    _prop(props, "correct_samples", f"{sum(s.correct for s in valid)}/{len(valid)}")
    _prop(props, "extracted", None if first is None else first.extracted)
    _prop(props, "gold", it.gold)
    _prop(props, "output_tokens", ",".join(str(s.output_tokens) for s in it.samples))
    _prop(
        props,
        "finish_reason",
        ",".join(f"{r}x{n}" if n > 1 else r for r, n in Counter(s.finish_reason for s in it.samples).items()),
    )
    errors = [s for s in it.samples if s.error]
    if errors:
        _prop(props, "error_samples", len(errors))
    for key, value in it.groups.items():
        _prop(props, f"group.{key}", value)
    status = item_status(it)
    if status == "error":
        el = ET.SubElement(
            case,
            "error",
            message=_clean(f"infrastructure error: {errors[0].error}"),
            type="InfrastructureError",
        )
        el.text = _clean("\n".join(f"sample {s.index}: {s.error}" for s in errors))
    elif status == "truncated":
        ET.SubElement(case, "skipped", type="Truncated", message=_clean(truncation_reason(it)))
    elif status == "wrong" and first is not None:
        el = ET.SubElement(
            case,
            "failure",
            type="WrongAnswer",
            message=_clean(f"wrong: extracted {first.extracted!r}, expected {it.gold!r} ({first.reason})"),
        )
        el.text = _clean(
            f"output of sample {first.index} (last {_TAIL_CHARS} chars):\n" + first.output[-_TAIL_CHARS:]
        )
    return status


def write_junit(path: Path, run: RunRecord, summary: Summary) -> Path:
    """Write ``junit.xml``: a testsuite per benchmark with metric and model properties, a testcase per item.

    Streamed: each testcase is built, written and dropped, so memory stays flat in the number of items
    (one tree of 100,000 testcases took ~3 KB per item). The text is what ``ET.indent`` of the whole
    tree writes.
    """
    meta = _flat_scalars(redact(run.meta))
    counts: dict[str, Counter[str]] = {}
    for it in run.items:  # the suites' counts come first in the file: one pass to know them
        counts.setdefault(it.benchmark, Counter())[item_status(it)] += 1
    root = ET.Element("testsuites", name=_clean(f"evalsuite {run.run_id}"))
    for key, name in (("tests", None), ("failures", "wrong"), ("errors", "error"), ("skipped", "truncated")):
        root.set(key, str(sum(c.total() if name is None else c[name] for c in counts.values())))
    with path.open("w", encoding="utf-8") as out:
        out.write("<?xml version='1.0' encoding='utf-8'?>\n")
        if not counts:
            ET.indent(root)
            out.write(ET.tostring(root, encoding="unicode"))
            return path
        head, tail = _shell(root, level=0)
        out.write(head)
        for bench in counts:
            suite = ET.Element("testsuite", name=_clean(bench))
            _suite_properties(ET.SubElement(suite, "properties"), bench, run, summary, meta)
            c = counts[bench]
            suite.set("tests", str(c.total()))
            suite.set("failures", str(c["wrong"]))
            suite.set("errors", str(c["error"]))
            suite.set("skipped", str(c["truncated"]))
            suite_head, suite_tail = _shell(suite, level=1)
            out.write("\n  " + suite_head)
            for it in run.items:
                if it.benchmark == bench:
                    case = ET.Element("testcase")
                    _testcase(case, it)
                    ET.indent(case, level=2)
                    out.write("\n    " + ET.tostring(case, encoding="unicode"))
            out.write(suite_tail)
        out.write(tail)
    return path


def _shell(element: ET.Element, *, level: int) -> tuple[str, str]:
    """``element`` indented at ``level`` as the text before and after its children still to come."""
    marker = ET.SubElement(element, "streamed-children")
    ET.indent(element, level=level)
    text = ET.tostring(element, encoding="unicode")
    element.remove(marker)
    before, after = text.split("<streamed-children />", 1)
    return before.rstrip(" ").removesuffix("\n"), after  # each child comes with its own newline and indent


def _suite_properties(props: ET.Element, bench: str, run: RunRecord, summary: Summary, meta: list[tuple[str, Any]]) -> None:
    bs = summary.benchmarks.get(bench)
    if bs is not None:
        for name, est in bs.metrics.items():
            _prop(props, f"metric.{name}", f"{est.value:.4f}")
            _prop(props, f"metric.{name}.ci", f"{est.ci_low:.4f}-{est.ci_high:.4f}")
        _prop(props, "truncation_rate", f"{bs.overall.truncation_rate:.4f}")
        _prop(props, "truncated_samples", bs.overall.truncated)
        for name, est in bs.overall.excluding_truncated.items():
            _prop(props, f"metric.{name}.excluding_truncated", f"{est.value:.4f}")
        _prop(props, "error_samples", bs.overall.errors.samples)
    _prop(props, "run_id", run.run_id)
    for key, value in meta:
        _prop(props, f"meta.{key}", value)
