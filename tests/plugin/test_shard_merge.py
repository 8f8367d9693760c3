"""``--shard I/N`` and ``evalsuite merge``: three shards merged are the unsharded run, reports and gates included."""

from __future__ import annotations

import json
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from evalsuite.benchmarks.builtin import iter_problems
from evalsuite.merge import MergeError, merge_records
from evalsuite.reports import read_run
from evalsuite.sharding import Shard, parse_shard

ITEMS = "builtin/add/*,builtin/mul/*,builtin/expr/level1/*"


def _script_right_on_add() -> dict:
    """Right on every add item, wrong elsewhere: a score between the gates' thresholds."""
    return {
        "responses": {
            q: f"<think>\n</think>\n\\boxed{{{a}}}" for task, _, _, q, a in iter_problems() if task == "add"
        },
        "default": "<think>\n</think>\n\\boxed{-1}",
    }


def _cli(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.run(sys.executable, "-m", "evalsuite.cli", *args)


def _testcases(path: Path) -> list[str]:
    return [ET.tostring(case, encoding="unicode") for case in ET.parse(path).getroot().iter("testcase")]


def _xlsx_cells(run_dir: Path) -> list[list[tuple]]:
    import openpyxl

    (path,) = run_dir.glob("*_scores.xlsx")
    book = openpyxl.load_workbook(path, read_only=True)
    return [list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets]


def test_three_shards_merged_are_the_unsharded_run(fake_run):
    pytester = fake_run.pytester
    base = fake_run.run("--items", ITEMS, "--run-id", "base")  # everything wrong: the baseline
    assert base.ret == 0
    fake_run.write(_script_right_on_add())
    gates = ("--min-score", "builtin=0.9", "--baseline", "reports/base", "--pass-k", "1")
    full = fake_run.run("--items", ITEMS, "--run-id", "full", *gates)
    assert full.ret == 1  # min-score fails, baseline passes (a significant improvement)
    generated = len(fake_run.calls())
    for i in (1, 2, 3):
        shard = fake_run.run("--items", ITEMS, "--shard", f"{i}/3", "--run-id", f"s{i}", *gates)
        shard.stdout.fnmatch_lines(["*generation: 0 generated*"])  # the same completions, from the cache
    assert len(fake_run.calls()) == generated

    runs = pytester.path / "reports"
    shard_items = [
        json.loads((runs / f"s{i}" / "run.json").read_text())["meta"]["shard"]["items"] for i in (1, 2, 3)
    ]
    assert sum(shard_items) == 140 and min(shard_items) > 0
    merged = _cli(
        pytester, "merge", *(str(runs / f"s{i}") for i in (3, 1, 2)), "--out", str(runs / "merged"), *gates
    )
    assert merged.ret == full.ret == 1, merged.stderr.str()
    merged.stdout.fnmatch_lines(
        ["builtin: n=140 *", "FAIL builtin: avg@n * < min 0.9*", "PASS builtin: *baseline*"]
    )

    full_dir, merged_dir = runs / "full", runs / "merged"
    assert (merged_dir / "items.jsonl").read_text() == (full_dir / "items.jsonl").read_text()
    assert (merged_dir / "meta.jsonl").read_text() == (full_dir / "meta.jsonl").read_text()
    assert (merged_dir / "details" / "builtin.jsonl").read_text() == (
        full_dir / "details" / "builtin.jsonl"
    ).read_text()
    want, got = (json.loads((d / "summary.json").read_text()) for d in (full_dir, merged_dir))
    for key in ("summary", "gates", "passed", "baseline", "model"):
        assert got[key] == want[key], key
    assert _testcases(merged_dir / "junit.xml") == _testcases(full_dir / "junit.xml")
    assert _xlsx_cells(merged_dir) == _xlsx_cells(full_dir)
    meta = json.loads((merged_dir / "run.json").read_text())["meta"]
    assert "shard" not in meta and [m["shard"] for m in meta["merged_from"]] == ["1/3", "2/3", "3/3"]
    assert meta["run_id"] == "merged" and meta["sampling"] == want["meta"]["sampling"]


def _variant(runs: Path, source: str, name: str, change) -> None:
    """A copy of run ``source`` named ``name`` whose meta ``change`` edits (a run made otherwise)."""
    shutil.copytree(runs / source, runs / name)
    head = json.loads((runs / name / "run.json").read_text())
    change(head["meta"])
    (runs / name / "run.json").write_text(json.dumps(head))


def test_merge_refuses_missing_overlapping_and_foreign_shards(fake_run):
    pytester = fake_run.pytester
    for i in (1, 2):
        assert fake_run.run("--items", ITEMS, "--shard", f"{i}/2", "--run-id", f"s{i}").ret == 0
    runs = pytester.path / "reports"
    _variant(runs, "s2", "whole", lambda meta: meta.pop("shard"))
    _variant(runs, "s2", "hot", lambda meta: meta["sampling"].update(temperature=0.5))
    _variant(runs, "s2", "other", lambda meta: meta.update(model_fingerprint="fake-other"))
    _variant(runs, "s2", "fewer", lambda meta: meta["shard"].update(selected=60, selection_hash="0" * 16))
    _variant(runs, "s2", "partial", lambda meta: meta["shard"]["positions"].append(10**6))

    def merge(*names: str) -> str:
        with pytest.raises((MergeError, FileNotFoundError)) as caught:
            merge_records([(runs / n, read_run(runs / n)) for n in names], run_id="m")
        return str(caught.value)

    assert (
        merge("s1")
        == f"missing shard(s) 2/2; given: {runs / 's1'} (1/2); pass the run directory of every shard"
    )
    assert f"overlapping shards: {runs / 's2'} and {runs / 's2'} are both shard 2/2" in merge(
        "s1", "s2", "s2"
    )
    assert f"{runs / 'whole'} is not a shard run" in merge("s1", "whole")
    assert f"{runs / 'hot'} has {{'temperature': 0.5" in merge("s1", "hot")
    assert merge("s1", "other").startswith(f"model_fingerprint differs: {runs / 's1'} has 'fake-")
    assert merge("s1", "fewer").startswith(
        f"shard.selected differs: {runs / 's1'} has 140, {runs / 'fewer'} has 60"
    )
    assert f"{runs / 'partial'} recorded" in merge("s1", "partial")
    assert "not an evalsuite run directory" in merge("s1", "nowhere")
    cli = _cli(pytester, "merge", str(runs / "s2"), "--out", str(runs / "m"))
    assert cli.ret == 2 and not (runs / "m").exists()
    cli.stderr.fnmatch_lines([f"evalsuite merge: missing shard(s) 1/2; given: {runs / 's2'} (2/2)*"])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("3", "expected I/N, e.g. 2/4"),
        ("0/3", "I must be between 1 and 3"),
        ("4/3", "I must be between 1 and 3"),
        ("1/0", "N must be at least 1"),
        ("a/b", "expected I/N"),
    ],
)
def test_parse_shard_says_what_is_expected(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_shard(spec)
    assert parse_shard(" 2 / 4 ") == Shard(2, 4) and str(Shard(2, 4)) == "2/4"


def test_bad_shard_is_a_usage_error_before_anything_runs(fake_run):
    result = fake_run.run("--shard", "4/3")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*--shard 4/3: I must be between 1 and 3*"])
    assert fake_run.calls() == [] and fake_run.reports() == []
