"""``--data`` reads a JSON array of objects as well as JSONL; errors still name file:line and the element."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalsuite.benchmarks import BenchmarkError, LoadOptions, load_benchmark

ROWS = [
    {"question": "What is 2 + 2?", "answer": 4, "id": "a"},
    {"question": "What is 3 + 3?", "answer": "6", "id": "b", "subject": "add"},
]


def custom_items(path: Path) -> list:
    return list(load_benchmark("custom", LoadOptions(extra={"data": str(path)})).items)


def test_json_array_and_jsonl_give_the_same_items(tmp_path: Path) -> None:
    array = tmp_path / "data.json"
    array.write_text(json.dumps(ROWS, indent=2))
    lines = tmp_path / "data.jsonl"
    lines.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    from_array, from_lines = custom_items(array), custom_items(lines)
    assert [(i.id, i.gold, i.user_prompt) for i in from_array] == [
        ("a", "4", "What is 2 + 2?"),
        ("b", "6", "What is 3 + 3?"),
    ]
    assert [(i.id, i.gold, i.messages, dict(i.meta)) for i in from_array] == [
        (i.id, i.gold, i.messages, dict(i.meta)) for i in from_lines
    ]


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ('[\n  {"question": "q", "answer": "1"},\n  7\n]', r"data\.json:3: array element 1 is a int"),
        (
            '[\n  {"question": "q", "answer": "1"},\n  {"question": "q"\n]',
            r"data\.json:4: invalid JSON in array element 1",
        ),
        ('[\n  {"question": "q", "answer": "1"}\n', r"data\.json:3: the JSON array is not closed"),
        ("[]", r"empty JSON array"),
        ('[\n  {"question": "q", "answer": "1"},\n  {"answer": "2"}\n]', r"data\.json:3: no prompt field"),
    ],
)
def test_json_array_errors_name_the_line(tmp_path: Path, text: str, pattern: str) -> None:
    path = tmp_path / "data.json"
    path.write_text(text)
    with pytest.raises(BenchmarkError, match=pattern):
        custom_items(path)
