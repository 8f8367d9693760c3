"""The one reader of benchmark data files: every record remembers its file and line.

All loaders go through ``read_jsonl`` (or build ``Record`` objects themselves, as the GPQA CSV reader
does), so every data error reads ``path:line: what is wrong; how to fix it``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalsuite.benchmarks.base import BenchmarkError, hash_bytes

_MISSING = object()


@dataclass(frozen=True)
class Record:
    """One row of benchmark data and where it came from."""

    source: str
    """File path (as the user gave it) or hub dataset id."""
    line: int
    """1-based line number in the file (row number for hub data)."""
    data: Mapping[str, Any]
    """The parsed row."""

    @property
    def where(self) -> str:
        """``source:line``, the prefix of every error about this record."""
        return f"{self.source}:{self.line}"

    def error(self, message: str) -> BenchmarkError:
        """A ``BenchmarkError`` about this record."""
        return BenchmarkError(f"{self.where}: {message}")

    def get(self, name: str, default: Any = None) -> Any:
        """The field ``name``, or ``default`` when absent."""
        return self.data.get(name, default)

    def field(self, name: str, *, hint: str = "") -> Any:
        """The field ``name``; a missing field raises an error listing the fields present."""
        value = self.data.get(name, _MISSING)
        if value is _MISSING or value is None:
            present = ", ".join(sorted(self.data)) or "none"
            raise self.error(
                f"missing field {name!r} (fields present: {present}){'; ' + hint if hint else ''}"
            )
        return value

    def text(self, name: str, *, hint: str = "") -> str:
        """The field ``name`` as a non-empty string (numbers are converted)."""
        value = self.field(name, hint=hint)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.error(f"field {name!r} must be a string, got {type(value).__name__}")
        text = str(value)
        if not text.strip():
            raise self.error(f"field {name!r} is empty")
        return text


@dataclass(frozen=True)
class Loaded:
    """The records of one data source plus what a run records about it."""

    records: tuple[Record, ...]
    """The rows, in file order."""
    data_hash: str
    """sha256 of the source bytes (of all files in order, for multi-file sources)."""
    source: str
    """Where the data came from, for reports."""


def decode_utf8(raw: bytes, path: str) -> str:
    """Decode file bytes as UTF-8 (a leading BOM is dropped); errors name the line."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise BenchmarkError(
            f"{path}:{line}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {column}); "
            "re-save the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 in.jsonl > out.jsonl`"
        ) from None


def parse_jsonl(raw: bytes, source: str) -> list[Record]:
    """Parse JSONL bytes into records; blank lines are skipped, anything else must be an object.

    A file whose first character is ``[`` is read as one JSON array of objects instead (what many
    fine-tuning datasets ship); each record's line is where its object starts.
    """
    text = decode_utf8(raw, source)
    if text.lstrip().startswith("["):
        return parse_json_array(text, source)
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BenchmarkError(
                f"{source}:{number}: invalid JSON ({exc.msg}: column {exc.colno}); "
                "each line must hold one complete JSON object"
            ) from None
        if not isinstance(value, dict):
            raise BenchmarkError(
                f"{source}:{number}: expected a JSON object, got {type(value).__name__}; "
                "each line must hold one JSON object with the item's fields"
            )
        records.append(Record(source, number, value))
    if not records:
        raise BenchmarkError(f"{source}: empty file (no JSON lines); each line must hold one JSON object")
    return records


def parse_json_array(text: str, source: str) -> list[Record]:
    """Records of a JSON array of objects; errors name the line and the element's index."""
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    records: list[Record] = []

    def line_at(offset: int) -> int:
        return text.count("\n", 0, offset) + 1

    def skip_space(offset: int) -> int:
        while offset < len(text) and text[offset].isspace():
            offset += 1
        return offset

    pos = skip_space(pos)
    while pos < len(text) and text[pos] != "]":
        index = len(records)
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise BenchmarkError(
                f"{source}:{exc.lineno}: invalid JSON in array element {index} ({exc.msg}: column {exc.colno}); "
                "the file must be one JSON array of objects, or JSONL (one object per line)"
            ) from None
        if not isinstance(value, dict):
            raise BenchmarkError(
                f"{source}:{line_at(pos)}: array element {index} is a {type(value).__name__}, not a JSON "
                "object; each element must be an object with the item's fields"
            )
        records.append(Record(source, line_at(pos), value))
        pos = skip_space(end)
        if pos < len(text) and text[pos] == ",":
            pos = skip_space(pos + 1)
        elif pos < len(text) and text[pos] != "]":
            raise BenchmarkError(
                f"{source}:{line_at(pos)}: expected ',' or ']' after array element {index}; "
                "the file must be one JSON array of objects"
            )
    if pos >= len(text):
        raise BenchmarkError(f"{source}:{line_at(len(text))}: the JSON array is not closed (missing ']')")
    if text[pos + 1 :].strip():
        raise BenchmarkError(f"{source}:{line_at(pos + 1)}: text after the closing ']' of the JSON array")
    if not records:
        raise BenchmarkError(f"{source}: empty JSON array; it must hold one object per item")
    return records


def read_jsonl(path: str | Path) -> Loaded:
    """Read one JSONL file."""
    return read_jsonl_files([path])


def read_jsonl_files(paths: Iterable[str | Path]) -> Loaded:
    """Read several JSONL files as one source (records in file order, one hash over all bytes)."""
    records: list[Record] = []
    chunks: list[bytes] = []
    names = []
    for path in paths:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise BenchmarkError(f"{path}: cannot read ({exc.strerror}); check the path") from None
        chunks.append(raw)
        records += parse_jsonl(raw, str(path))
        names.append(str(path))
    return Loaded(tuple(records), hash_bytes(chunks), ", ".join(names))
