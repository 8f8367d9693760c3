"""A benchmark from any JSONL file, no code: ``extra["data"]``, ``extra["verifier"]``, ``extra["fields"]``.

``fields`` maps item parts to the file's field names, e.g. ``prompt=question,gold=answer,id=uid,
group=subject`` (``group`` may repeat; each becomes a group named after the field);
``extra["group_by"]`` (``--group-by subject,difficulty``) adds groups the same way. Without a
mapping, the prompt is read from ``prompt``/``question``/``problem``, the gold from ``gold``/
``answer``, the id from ``id`` when present, else the line number (``line-17``). Other fields go to
``item.meta`` (e.g. ``choices`` for the choice verifier). The prompt is sent as is, in the
template's turn layout; no instruction is added.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evalsuite.benchmarks.base import BenchmarkData, BenchmarkError, LoadOptions, register_benchmark
from evalsuite.benchmarks.jsonl import Record, read_jsonl
from evalsuite.benchmarks.prompts import task_messages
from evalsuite.benchmarks.sources import finish, make_item, slug, template_of
from evalsuite.types import Item

VERSION = "1"
VERIFIERS = ("math", "choice", "code", "exact", "text")
KEYS = ("prompt", "gold", "id", "group")
DEFAULTS = {"prompt": ("prompt", "question", "problem"), "gold": ("gold", "answer")}


def parse_fields(spec: str) -> dict[str, list[str]]:
    """``"prompt=question,gold=answer,group=a,group=b"`` -> ``{"prompt": ["question"], ..., "group": ["a", "b"]}``."""
    mapping: dict[str, list[str]] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, field = (s.strip() for s in part.partition("="))
        if not sep or not field:
            raise BenchmarkError(f"--fields {spec!r}: {part!r} is not KEY=FIELD (e.g. prompt=question)")
        if key not in KEYS:
            raise BenchmarkError(f"--fields {spec!r}: unknown key {key!r}; known: {', '.join(KEYS)}")
        if key != "group" and key in mapping:
            raise BenchmarkError(f"--fields {spec!r}: {key!r} given twice")
        mapping.setdefault(key, []).append(field)
    return mapping


def _pick(record: Record, key: str, mapping: dict[str, list[str]]) -> tuple[str, Any]:
    """(field name, value) for ``key``: the mapped field (required), else the first default present."""
    if key in mapping:
        name = mapping[key][0]
        return name, record.field(name, hint=f"--fields maps {key}={name}")
    for name in DEFAULTS[key]:
        if record.get(name) is not None:
            return name, record.get(name)
    options = "/".join(DEFAULTS[key])
    raise record.error(f"no {key} field ({options}); map one with --fields, e.g. --fields {key}=my_field")


@register_benchmark("custom")
def load_custom(options: LoadOptions) -> BenchmarkData:
    """Items from the user's JSONL (``extra["data"]`` or ``--data-path custom=PATH``)."""
    template = template_of(options)
    data = options.extra.get("data") or options.paths.get("custom")
    if not data:
        raise BenchmarkError("custom: no data file; pass --data PATH (a JSONL file, one item per line)")
    if not Path(str(data)).expanduser().is_file():
        raise BenchmarkError(f"--data {data}: no such file")
    verifier = str(options.extra.get("verifier") or "exact")
    if verifier not in VERIFIERS:
        raise BenchmarkError(f"--verifier {verifier!r}: expected one of {', '.join(VERIFIERS)}")
    mapping = parse_fields(str(options.extra.get("fields") or ""))
    for name in filter(None, (f.strip() for f in str(options.extra.get("group_by") or "").split(","))):
        if name not in mapping.setdefault("group", []):
            mapping["group"].append(name)
    loaded = read_jsonl(Path(str(data)).expanduser())

    def items() -> Iterator[tuple[Record, Item]]:
        for record in loaded.records:
            prompt_field, prompt = _pick(record, "prompt", mapping)
            if not isinstance(prompt, str) or not prompt.strip():
                raise record.error(f"field {prompt_field!r} (the prompt) must be a non-empty string")
            gold_field, gold = _pick(record, "gold", mapping)
            if verifier != "code" and isinstance(gold, (int, float)) and not isinstance(gold, bool):
                gold = str(gold)
            used = {prompt_field, gold_field}
            if "id" in mapping:
                used.add(mapping["id"][0])
                item_id = record.text(mapping["id"][0], hint=f"--fields maps id={mapping['id'][0]}")
            elif record.get("id") not in (None, ""):
                used.add("id")
                item_id = str(record.get("id"))
            else:
                item_id = f"line-{record.line}"
            groups = {
                name: slug(record.get(name))
                for name in mapping.get("group", [])
                if record.get(name) is not None
            }
            used.update(mapping.get("group", []))
            meta = {k: v for k, v in record.data.items() if k not in used}
            messages = task_messages(prompt, template=template, system_prompt=options.system_prompt)
            yield (
                record,
                make_item(
                    "custom",
                    item_id,
                    messages,
                    gold=gold,
                    verifier=verifier,
                    groups=groups,
                    meta=meta,
                    options=options,
                    template=template,
                ),
            )

    return finish("custom", VERSION, items(), loaded, template)
