"""Where a benchmark's data comes from, and the finishing steps every loader shares.

Resolution order for a benchmark ``NAME``: ``options.paths[NAME]`` (``--data-path NAME=PATH``), then
the expected file names under ``options.data_dir`` (``--data-dir``), then the hub through ``datasets``
when ``options.extra["hub"]`` is true. Offline with no local file is one ``BenchmarkError`` that says
which file to put where.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from evalsuite.benchmarks.base import BenchmarkData, BenchmarkError, LoadOptions, hash_bytes
from evalsuite.benchmarks.jsonl import Loaded, Record
from evalsuite.benchmarks.prompts import COMPLETION_STOP, TEMPLATES, completion_prompt
from evalsuite.types import Item, Message


def flag(key: str) -> str:
    """The command-line flag for an ``extra`` key (``--KEY`` when the option table has no other name)."""
    from evalsuite.options import LOAD_FLAGS

    return LOAD_FLAGS.get(key, "--" + key.replace("_", "-"))


def locate(name: str, options: LoadOptions, filenames: Sequence[str]) -> Path | None:
    """The local file (or directory) for ``name``, or None when there is none.

    Raises:
        BenchmarkError: ``--data-path NAME=PATH`` names a path that does not exist.
    """
    if name in options.paths:
        path = Path(options.paths[name]).expanduser()
        if not path.exists():
            raise BenchmarkError(f"--data-path {name}={options.paths[name]}: no such file or directory")
        return path
    if options.data_dir:
        root = Path(options.data_dir).expanduser()
        for filename in filenames:
            if (root / filename).exists():
                return root / filename
    return None


def hub_allowed(options: LoadOptions) -> bool:
    """Whether the user allowed downloads from the hub (``extra["hub"]``)."""
    value = options.extra.get("hub", False)
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")


def missing_data_error(
    name: str,
    options: LoadOptions,
    filenames: Sequence[str],
    hub_id: str | None,
    expected: str | None = None,
) -> BenchmarkError:
    """The error for "no local data and no hub": which file to put where.

    ``expected`` describes the data when ``filenames[0]`` alone does not (e.g. a directory of shards).
    """
    names = ", ".join(repr(f) for f in filenames)
    where = f"none of {names} in --data-dir {options.data_dir}" if options.data_dir else "no --data-dir given"
    hub = f"; or run online with {flag('hub')} to fetch {hub_id} from the Hugging Face hub" if hub_id else ""
    return BenchmarkError(
        f"{name}: no data found ({where}). Put {expected or filenames[0]} in a directory and pass "
        f"--data-dir DIR, or pass --data-path {name}=PATH{hub}"
    )


def records_from_datasets(path: str, *, name: str | None = None, split: str, **kwargs: Any) -> Loaded:
    """Rows of a ``datasets.load_dataset(path, name, split=split, **kwargs)`` call as records.

    Used with hub ids when online; the hash is over the rows' canonical JSON since there is no file.
    """
    try:
        import datasets
    except ImportError:
        raise BenchmarkError(
            f"loading {path} from the hub needs the `datasets` package: pip install 'evalsuite[datasets]'"
        ) from None
    try:
        rows = datasets.load_dataset(path, name, split=split, **kwargs)
    except Exception as exc:  # network, auth (gated GPQA) and config errors all surface here
        raise BenchmarkError(
            f"{path}: could not load split {split!r} with datasets ({type(exc).__name__}: {exc}); "
            "check your network and hub login (`huggingface-cli login` for gated sets), or use a local file"
        ) from None
    source = f"{path}" + (f" ({name})" if name else "") + f" split {split}"
    records = tuple(Record(source, i + 1, dict(row)) for i, row in enumerate(rows))
    if not records:
        raise BenchmarkError(f"{source}: no rows")
    digest = hash_bytes(json.dumps(r.data, sort_keys=True, default=str).encode() + b"\n" for r in records)
    return Loaded(records, digest, source)


def load_records(
    name: str,
    options: LoadOptions,
    filenames: Sequence[str],
    *,
    read: Callable[[Path], Loaded],
    hub_id: str | None = None,
    hub: Callable[[], Loaded] | None = None,
    expected: str | None = None,
) -> Loaded:
    """Local file if there is one, else the hub when allowed, else the missing-data error."""
    path = locate(name, options, filenames)
    if path is not None:
        return read(path)
    if hub is not None and hub_allowed(options):
        return hub()
    raise missing_data_error(name, options, filenames, hub_id, expected)


# --- option helpers -----------------------------------------------------------------------------


def template_of(options: LoadOptions, default: str = "r1") -> str:
    """The prompt template (``--template``), checked against the known names."""
    template = options.template or default
    if template not in TEMPLATES:
        raise BenchmarkError(f"--template {template}: unknown prompt template; known: {', '.join(TEMPLATES)}")
    return template


def extra_int(options: LoadOptions, key: str, default: int, *, minimum: int = 0) -> int:
    """An integer ``extra`` option, checked."""
    value = options.extra.get(key, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise BenchmarkError(f"{flag(key)} {value!r}: expected an integer") from None
    if number < minimum:
        raise BenchmarkError(f"{flag(key)} {number}: must be at least {minimum}")
    return number


def extra_date(options: LoadOptions, key: str) -> dt.date | None:
    """A ``YYYY-MM-DD`` ``extra`` option, or None when unset."""
    value = options.extra.get(key)
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise BenchmarkError(
            f"{flag(key)} {value!r}: expected a date as YYYY-MM-DD, e.g. 2024-08-01"
        ) from None


def api_mode(options: LoadOptions) -> str:
    """``chat`` (default) or ``completion`` (``extra["api_mode"]``, checked by the option table)."""
    return str(options.extra.get("api_mode") or "chat")


def slug(text: Any) -> str:
    """A group value usable as a pytest mark: lower case, ``_`` for anything not alphanumeric."""
    return re.sub(r"[^0-9a-z]+", "_", str(text).strip().lower()).strip("_") or "unknown"


# --- finishing ----------------------------------------------------------------------------------


def make_item(
    benchmark: str,
    item_id: str,
    messages: tuple[Message, ...],
    *,
    gold: Any,
    verifier: str,
    groups: dict[str, str],
    meta: dict[str, Any],
    options: LoadOptions,
    template: str,
) -> Item:
    """An ``Item``; in completion mode (or with the ``raw`` template) also its raw prompt.

    ``raw``: the prompt is ``--prompt-format`` with ``{question}`` replaced by the item's question
    (the user turn), sent without any chat template. ``--answer-after DELIM`` is kept in the item's
    meta: verifiers then read only what follows the output's last ``DELIM``.
    """
    prompt_text = None
    if options.extra.get("answer_after"):
        meta = {**meta, "answer_after": str(options.extra["answer_after"])}
    if template == "raw":
        question = next((m.content for m in reversed(messages) if m.role == "user"), "")
        prompt_text = str(options.extra.get("prompt_format") or "{question}").replace("{question}", question)
    elif api_mode(options) == "completion":
        prompt_text = completion_prompt(messages, template=template)
        meta = {**meta, "stop": list(COMPLETION_STOP[template])}
    return Item(
        benchmark=benchmark,
        id=item_id,
        messages=messages,
        gold=gold,
        verifier=verifier,
        groups=groups,
        meta=meta,
        prompt_text=prompt_text,
    )


def finish(
    name: str, version: str, items: Iterable[tuple[Record, Item]], loaded: Loaded, template: str
) -> BenchmarkData:
    """``BenchmarkData`` from (record, item) pairs; duplicate ids name both lines."""
    seen: dict[str, Record] = {}
    out = []
    for record, item in items:
        if item.id in seen:
            raise record.error(
                f"duplicate item id {item.id!r} (first at {seen[item.id].where}); ids must be unique"
            )
        seen[item.id] = record
        out.append(item)
    if not out:
        raise BenchmarkError(f"{name}: no items left in {loaded.source} (check the filters)")
    return BenchmarkData(
        name=name,
        version=version,
        items=tuple(out),
        data_hash=loaded.data_hash,
        template=template,
        source=loaded.source,
    )
