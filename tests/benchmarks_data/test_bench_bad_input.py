"""Bad data and bad options: one BenchmarkError that names the file and line (or the option) and the fix."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from evalsuite.benchmarks import BenchmarkError, LoadOptions, load_benchmark

GOOD = {
    "problem": "1+1?",
    "answer": "2",
    "subject": "Algebra",
    "level": 1,
    "unique_id": "test/algebra/1.json",
}


def line(**changes: object) -> bytes:
    row = {**GOOD, **changes}
    return (json.dumps({k: v for k, v in row.items() if v is not None}) + "\n").encode()


# (case id, file bytes, expected message regex: "{path}" is replaced by the file's path)
FILE_CASES = [
    (
        "malformed-json",
        line() + b'{"problem": "2+2?" "answer": "4"}\n',
        r"{path}:2: invalid JSON \(Expecting ',' delimiter: column 20\)",
    ),
    (
        "truncated-json",
        line() + line(unique_id="test/algebra/2.json")[:-10] + b"\n",
        r"{path}:2: invalid JSON",
    ),
    ("not-an-object", line() + b"[1, 2]\n", r"{path}:2: expected a JSON object, got list"),
    (
        "missing-field",
        line(answer=None),
        r"{path}:1: missing field 'answer' \(fields present: level, problem, subject, unique_id\)",
    ),
    ("empty-field", line(problem="  "), r"{path}:1: field 'problem' is empty"),
    (
        "non-utf8",
        line() + b'{"problem": "caf\xe9"}\n',
        r"{path}:2: not valid UTF-8 \(byte 0xe9 at column 17\); re-save the file as UTF-8",
    ),
    ("empty-file", b"", r"{path}: empty file \(no JSON lines\)"),
    ("blank-lines-only", b"\n  \n", r"{path}: empty file"),
    ("bad-level", line(level="hard"), r"{path}:1: field 'level' must hold a number"),
    ("bad-unique-id", line(unique_id="algebra-1"), r"{path}:1: field 'unique_id' 'algebra-1' is not like"),
    (
        "duplicate-id",
        line() + b"\n" + line(),
        r"{path}:3: duplicate item id 'algebra/level1/test-algebra-1' \(first at {path}:1\)",
    ),
]


@pytest.mark.parametrize(("content", "pattern"), [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES])
def test_bad_math500_file(tmp_path: Path, content: bytes, pattern: str) -> None:
    path = tmp_path / "my.jsonl"
    path.write_bytes(content)
    with pytest.raises(BenchmarkError, match=pattern.replace("{path}", re.escape(str(path)))):
        load_benchmark("math500", LoadOptions(paths={"math500": str(path)}))


def test_blank_lines_are_skipped_and_bom_accepted(tmp_path: Path) -> None:
    path = tmp_path / "math500.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + line() + b"\n\n" + line(unique_id="test/algebra/2.json"))
    data = load_benchmark("math500", LoadOptions(data_dir=str(tmp_path)))
    assert [i.id for i in data.items] == ["algebra/level1/test-algebra-1", "algebra/level1/test-algebra-2"]


OTHER_FILE_CASES = [
    (
        "aime24",
        {"id": 1, "problem": "p", "answer": "12.5"},
        r":1: AIME answers are integers 0-999, got '12.5'",
    ),
    ("aime25", {"id": 1, "problem": "p"}, r":1: missing field 'answer'"),
    ("gsm8k", {"question": "q", "answer": "it is 4"}, r":1: field 'answer' has no '####' marker"),
]


@pytest.mark.parametrize(("name", "row", "pattern"), OTHER_FILE_CASES, ids=[c[0] for c in OTHER_FILE_CASES])
def test_bad_rows_other_math_sets(tmp_path: Path, name: str, row: dict, pattern: str) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(BenchmarkError, match=re.escape(str(path)) + pattern):
        load_benchmark(name, LoadOptions(paths={name: str(path)}))


def test_gsm8k_and_aime_small_files(tmp_path: Path) -> None:
    (tmp_path / "gsm8k_test.jsonl").write_text(
        json.dumps({"question": "q", "answer": "work\n#### 1,234"}) + "\n"
    )
    (tmp_path / "aime25.jsonl").write_text(
        json.dumps({"id": "aime25-07", "problem": "p", "answer": "007"}) + "\n"
    )
    gsm = load_benchmark("gsm8k", LoadOptions(data_dir=str(tmp_path)))
    aime = load_benchmark("aime25", LoadOptions(data_dir=str(tmp_path)))
    assert (gsm.items[0].id, gsm.items[0].gold) == ("0000", "1234")
    assert (aime.items[0].id, aime.items[0].gold) == ("07", "7")


def test_offline_without_files_says_which_file_to_put_where(tmp_path: Path) -> None:
    with pytest.raises(BenchmarkError) as err:
        load_benchmark("math500", LoadOptions())
    message = str(err.value)
    assert (
        "math500.jsonl" in message and "--data-dir DIR" in message and "--data-path math500=PATH" in message
    )
    assert "HuggingFaceH4/MATH-500" in message
    with pytest.raises(
        BenchmarkError, match=rf"none of 'gsm8k_test.jsonl'.* in --data-dir {re.escape(str(tmp_path))}"
    ):
        load_benchmark("gsm8k", LoadOptions(data_dir=str(tmp_path)))


OPTION_CASES = [
    (
        "math500",
        LoadOptions(paths={"math500": "/nonexistent/m.jsonl"}),
        r"--data-path math500=/nonexistent/m.jsonl: no such file",
    ),
    (
        "math500",
        LoadOptions(template="llama"),
        r"--template llama: unknown prompt template; known: r1, qwen, internthinker, chatml",
    ),
    (
        "gpqa_diamond",
        LoadOptions(extra={"choice_rotations": "many"}),
        r"--choice-rotations 'many': expected an integer",
    ),
    (
        "gpqa_diamond",
        LoadOptions(extra={"choice_rotations": 0}),
        r"--choice-rotations 0: must be at least 1",
    ),
    (
        "livecodebench",
        LoadOptions(extra={"release_version": "release_v9"}),
        r"--lcb-release 'release_v9': unknown release version",
    ),
    (
        "livecodebench",
        LoadOptions(extra={"start_date": "2024/01/01"}),
        r"--start-date '2024/01/01': expected a date as YYYY-MM-DD",
    ),
    (
        "livecodebench",
        LoadOptions(extra={"start_date": "2024-02-01", "end_date": "2024-01-01"}),
        r"--start-date 2024-02-01 is after --end-date 2024-01-01",
    ),
    ("bootcamp", LoadOptions(), r"bootcamp: no test directory; pass --test-dir DIR"),
    (
        "bootcamp",
        LoadOptions(extra={"test_dir": "/nonexistent"}),
        r"--test-dir /nonexistent: no such directory",
    ),
    ("custom", LoadOptions(), r"custom: no data file; pass --data PATH"),
    (
        "custom",
        LoadOptions(extra={"data": "/nonexistent.jsonl"}),
        r"--data /nonexistent.jsonl: no such file",
    ),
    ("builtin", LoadOptions(), None),
]


@pytest.mark.parametrize(("name", "options", "pattern"), OPTION_CASES)
def test_bad_options(name: str, options: LoadOptions, pattern: str | None) -> None:
    if pattern is None:  # the control case: good options load
        assert load_benchmark(name, options).items
        return
    with pytest.raises(BenchmarkError, match=pattern):
        load_benchmark(name, options)

