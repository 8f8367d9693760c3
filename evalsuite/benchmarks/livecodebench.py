"""LiveCodeBench code generation, in the ``livecodebench/code_generation_lite`` JSONL format.

Data: ``--data-path livecodebench=PATH`` (or ``--data-dir`` holding ``livecodebench/``,
``code_generation_lite/`` or ``livecodebench.jsonl``) where PATH is either one JSONL file or a
directory with the dataset's shard files ``test.jsonl``, ``test2.jsonl`` ... ``test6.jsonl``.

Filters (``LoadOptions.extra``):

* ``release_version``: exactly LiveCodeBench's mapping of versions to shard files. ``release_vN``
  is cumulative (``test.jsonl`` .. ``testN.jsonl``; ``release_latest`` = all six), ``vN`` is the
  one shard added by release N, ``vA_vB`` the shards A..B. It needs the directory form: one file
  carries no release boundary, so there use ``start_date``/``end_date``. Unset: every ``test*.jsonl``.
* ``start_date`` / ``end_date`` (``YYYY-MM-DD``, inclusive): on the problem's ``contest_date``.

Tests: public then private, each ``{"input", "output"}``; ``private_test_cases`` is JSON or the
compressed form (base64 of zlib of a pickled JSON string), decoded with an unpickler that refuses
every global so a hostile file cannot run code. ``gold = {"tests": [...], "fn_name": name or None}``
(``fn_name`` from ``metadata.func_name`` for call-based LeetCode problems, testtype ``functional``).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import pickle
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evalsuite.benchmarks.base import BenchmarkData, BenchmarkError, LoadOptions, register_benchmark
from evalsuite.benchmarks.jsonl import Loaded, Record, read_jsonl_files
from evalsuite.benchmarks.prompts import lighteval_lcb_prompt, task_messages
from evalsuite.benchmarks.sources import extra_date, finish, load_records, make_item, slug, template_of
from evalsuite.types import Item

VERSION = "1"
FILES = ("livecodebench", "code_generation_lite", "livecodebench.jsonl")
HUB_ID = "livecodebench/code_generation_lite"
SHARDS = ("test.jsonl", "test2.jsonl", "test3.jsonl", "test4.jsonl", "test5.jsonl", "test6.jsonl")

SYSTEM_MESSAGE = (
    "You are an expert Python programmer. You will be given a question (problem specification) and will "
    "generate a correct Python program that matches the specification and passes all tests."
)
FORMAT_WITH_STARTER_CODE = (
    "You will use the following starter code to write the solution to the problem and enclose your code "
    "within delimiters."
)
FORMAT_WITHOUT_STARTER_CODE = (
    "Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test on "
    "the sample inputs). Enclose your code within delimiters as follows. Ensure that when the python "
    "program runs, it reads the inputs, runs the algorithm and writes output to STDOUT."
)


def release_files(version: str) -> tuple[str, ...]:
    """Shard files of a LiveCodeBench version tag (``release_v3``, ``v2``, ``v1_v3``, ``release_latest``)."""
    if version == "release_latest":
        return SHARDS
    match = re.fullmatch(r"release_v(\d)|v(\d)(?:_v(\d))?", version)
    if match:
        if match[1]:
            first, last = 1, int(match[1])
        else:
            first, last = int(match[2]), int(match[3] or match[2])
        if 1 <= first <= last <= len(SHARDS):
            return SHARDS[first - 1 : last]
    raise BenchmarkError(
        f"--lcb-release {version!r}: unknown release version; use release_v1..release_v6, release_latest, "
        "v1..v6 (one release's new problems) or vA_vB (e.g. v5_v6)"
    )


def shard_order(path: Path) -> int:
    match = re.fullmatch(r"test(\d*)\.jsonl", path.name)
    return int(match[1] or 1) if match else 0


def read_source(path: Path, release: str | None) -> Loaded:
    """Records of one file, or of a directory's shard files selected by ``release``."""
    if path.is_file():
        if release:
            raise BenchmarkError(
                f"--lcb-release {release}: needs the directory of shard files (test.jsonl, "
                f"test2.jsonl, ...) but {path} is one file; pass the directory, or filter one file with "
                "--start-date/--end-date"
            )
        return read_jsonl_files([path])
    if release:
        files = [path / name for name in release_files(release)]
        missing = [f.name for f in files if not f.exists()]
        if missing:
            raise BenchmarkError(
                f"--lcb-release {release}: {path} lacks {', '.join(missing)}; download those shards "
                f"of {HUB_ID} into it"
            )
    else:
        files = sorted((p for p in path.glob("test*.jsonl") if shard_order(p)), key=shard_order)
        if not files:
            raise BenchmarkError(f"{path}: no test.jsonl / testN.jsonl shard files in this directory")
    return read_jsonl_files(files)


def read_hub(release: str | None) -> Loaded:
    """Download the release's shard files (the dataset's loading script no longer runs in ``datasets``)."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise BenchmarkError(
            "loading LiveCodeBench from the hub needs: pip install 'evalsuite[datasets]'"
        ) from None
    names = release_files(release or "release_latest")
    try:
        paths = [hf_hub_download(HUB_ID, name, repo_type="dataset") for name in names]
    except Exception as exc:
        raise BenchmarkError(
            f"{HUB_ID}: download failed ({type(exc).__name__}: {exc}); use local files"
        ) from None
    return read_jsonl_files(paths)


class _DataOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain data only: any class or function reference is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only plain data is accepted")


def decode_private_tests(blob: str) -> list[Any]:
    """LiveCodeBench's compressed test cases: base64 -> zlib -> pickle -> JSON string -> list."""
    raw = _DataOnlyUnpickler(io.BytesIO(zlib.decompress(base64.b64decode(blob, validate=True)))).load()
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    if not isinstance(raw, str):
        raise ValueError(f"expected a pickled JSON string, got {type(raw).__name__}")
    return json.loads(raw)


def parse_tests(record: Record, name: str) -> list[dict[str, Any]]:
    """The test list in field ``name`` (JSON text, compressed text, or already a list)."""
    value = record.get(name)
    if value in (None, ""):
        return []
    tests = value
    if isinstance(value, str):
        try:
            tests = json.loads(value)
        except json.JSONDecodeError:
            try:
                tests = decode_private_tests(value)
            except Exception as exc:
                raise record.error(
                    f"field {name!r} is neither JSON nor LiveCodeBench's compressed form "
                    f"(base64 of zlib of pickled JSON): {type(exc).__name__}: {exc}"
                ) from None
    if not isinstance(tests, list) or not all(
        isinstance(t, dict) and "input" in t and "output" in t for t in tests
    ):
        raise record.error(f"field {name!r} must be a list of {{'input', 'output', 'testtype'}} objects")
    return tests


def contest_date(record: Record) -> dt.date:
    text = record.text("contest_date")
    try:
        return dt.datetime.fromisoformat(text).date()
    except ValueError:
        raise record.error(
            f"field 'contest_date' {text!r} is not an ISO date like 2024-08-03T00:00:00"
        ) from None


def fn_name_of(record: Record, testtype: str) -> str | None:
    metadata = record.get("metadata") or {}
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata) if metadata.strip() else {}
        except json.JSONDecodeError as exc:
            raise record.error(f"field 'metadata' is not valid JSON ({exc.msg})") from None
    name = metadata.get("func_name") if isinstance(metadata, dict) else None
    if testtype == "functional" and not name:
        raise record.error("call-based (functional) tests need 'func_name' in the 'metadata' field")
    return name if testtype == "functional" else None


def question_prompt(content: str, starter_code: str) -> str:
    """LiveCodeBench's generic question template."""
    if starter_code:
        fmt = f"### Format: {FORMAT_WITH_STARTER_CODE}\n```python\n{starter_code}\n```\n\n"
    else:
        fmt = f"### Format: {FORMAT_WITHOUT_STARTER_CODE}\n```python\n# YOUR CODE HERE\n```\n\n"
    return f"### Question:\n{content}\n\n{fmt}### Answer: (use the provided format with backticks)"


@register_benchmark("livecodebench")
def load_livecodebench(options: LoadOptions) -> BenchmarkData:
    """LiveCodeBench code generation: verifier ``code``, groups ``difficulty`` and ``platform``."""
    template = template_of(options)
    release = str(options.extra.get("release_version") or "") or None
    if release:
        release_files(release)  # an unknown tag fails before any file is read
    start, end = extra_date(options, "start_date"), extra_date(options, "end_date")
    if start and end and start > end:
        raise BenchmarkError(f"--start-date {start} is after --end-date {end}")
    loaded = load_records(
        "livecodebench",
        options,
        FILES,
        read=lambda path: read_source(path, release),
        hub_id=HUB_ID,
        hub=lambda: read_hub(release),
        expected=f"livecodebench/ (the shard files test.jsonl .. test6.jsonl of {HUB_ID})",
    )

    def items() -> Iterator[tuple[Record, Item]]:
        for record in loaded.records:
            date = contest_date(record)
            if (start and date < start) or (end and date > end):
                continue
            public, private = (
                parse_tests(record, "public_test_cases"),
                parse_tests(record, "private_test_cases"),
            )
            if not public and not private:
                raise record.error("no test cases in 'public_test_cases' or 'private_test_cases'")
            testtype = str((public or private)[0].get("testtype", "stdin"))
            starter = str(record.get("starter_code") or "")
            platform, difficulty = slug(record.text("platform")), slug(record.text("difficulty"))
            gold = {
                "tests": [{"input": t["input"], "output": t["output"]} for t in public + private],
                "fn_name": fn_name_of(record, testtype),
            }
            meta = {
                "question_id": record.text("question_id"),
                "question_title": record.get("question_title"),
                "contest_id": record.get("contest_id"),
                "contest_date": date.isoformat(),
                "testtype": testtype,
                "num_public_tests": len(public),
                "num_private_tests": len(private),
                "starter_code": starter,
            }
            if template == "lighteval":  # lighteval's own prompt, no system turn
                messages = task_messages(
                    lighteval_lcb_prompt(record.text("question_content"), starter),
                    template=template,
                    system_prompt=options.system_prompt,
                )
            else:
                messages = task_messages(
                    question_prompt(record.text("question_content"), starter),
                    template=template,
                    system=SYSTEM_MESSAGE,
                    system_prompt=options.system_prompt,
                )
            item_id = f"{platform}/{record.text('question_id')}"
            groups = {"difficulty": difficulty, "platform": platform}
            yield (
                record,
                make_item(
                    "livecodebench",
                    item_id,
                    messages,
                    gold=gold,
                    verifier="code",
                    groups=groups,
                    meta=meta,
                    options=options,
                    template=template,
                ),
            )

    return finish("livecodebench", VERSION, items(), loaded, template)
