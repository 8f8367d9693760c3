"""``evalsuite gate``: the base and its candidates on the same items, each a run of its own, gated.

::

    evalsuite gate --model BASE --adapter tuned=PATH [--adapter other=PATH ...]
                   [--candidate full=CKPT ...] [--merge-adapter] [--summary-md PATH]
                   [any evaluation option: --benchmark, --limit, --max-tokens, --max-drop, -n 4 ...]

Runs, in ``<report-dir>/<run-id>/``: ``base/`` first, whose one engine load also generates every
adapter's completions into the cache (``--prefill-adapters``); then one run per candidate
(``<name>/``), which finds its completions cached and loads nothing, compared item by item with
``base/`` through ``--baseline`` (the gates of ``evalsuite.gates``). A full checkpoint
(``--candidate``) or merged weights (``--merge-adapter``) are other weights: their runs load their
own engine. A base already evaluated on the same items, sampling and weights is all cached, so
only verification runs again.

Exit status: 0 when every candidate passes its gates; 1 when one regresses significantly or misses
``--min-score``; the run's own status when a run fails otherwise (usage error, engine failure).
Prints a verdict table, writes ``--summary-md`` and appends it to ``$GITHUB_STEP_SUMMARY`` when set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CANDIDATE_GATES = ("--min-score", "--max-drop", "--alpha", "--baseline")
"""Options that gate candidates; the base run is evaluated without them."""


class GateUsageError(ValueError):
    """A bad ``evalsuite gate`` command line; the message says how to fix it."""


@dataclass(frozen=True)
class Candidate:
    """One model gated against the base."""

    name: str
    """Its run's directory name under the gate's run directory."""
    kind: str
    """``adapter`` (LoRA on the base's engine load), ``merged`` (adapter merged into the base weights) or
    ``checkpoint`` (full weights of their own)."""
    path: str
    """Adapter directory or checkpoint directory."""


@dataclass(frozen=True)
class GatePlan:
    """What one ``evalsuite gate`` invocation runs."""

    model: str
    """The base checkpoint (``--model``)."""
    candidates: tuple[Candidate, ...]
    """Adapters and checkpoints gated against the base."""
    common: tuple[str, ...]
    """Every other option, passed to each run (benchmarks, sampling, engine, gates, pytest's own)."""
    run_dir: Path
    """``<report-dir>/<run-id>``: holds ``base/`` and one directory per candidate."""
    summary_md: Path | None
    """Where the Markdown summary goes (``--summary-md``)."""
    metric: str
    """The metric the table shows (``--metric``)."""


@dataclass(frozen=True)
class ModelRun:
    """One finished run of the gate."""

    name: str
    """``base`` or the candidate's name."""
    report_dir: Path
    """Its run directory."""
    exit_code: int
    """pytest's exit status of the run."""
    seconds: float
    """Wall time of the run (process start to exit)."""


def parse(argv: Sequence[str], *, cwd: Path | None = None) -> GatePlan:
    """Split ``evalsuite gate``'s command line into the plan; gate options out, the rest passed on."""
    from evalsuite.engines.adapters import parse_adapter_specs
    from evalsuite.engines.base import EngineConfigError

    cwd = cwd or Path.cwd()
    taken: dict[str, list[str]] = {"--adapter": [], "--candidate": []}
    single: dict[str, str] = {}
    merge = False
    common: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        flag, eq, inline = arg.partition("=")
        if flag in (
            "--adapter",
            "--candidate",
            "--model",
            "--run-id",
            "--report-dir",
            "--summary-md",
            "--metric",
        ):
            if eq:
                value = inline
            elif i + 1 < len(args):
                value, i = args[i + 1], i + 1
            else:
                raise GateUsageError(f"{flag}: expects a value")
            if flag in taken:
                taken[flag].append(value)
            else:
                single[flag] = value
        elif arg == "--merge-adapter":
            merge = True
        else:
            common.append(arg)
        i += 1
    if "--model" not in single:
        raise GateUsageError(
            "--model: the base checkpoint is required (evalsuite gate --model BASE --adapter NAME=PATH)"
        )
    if not taken["--adapter"] and not taken["--candidate"]:
        raise GateUsageError(
            "nothing to gate: pass --adapter NAME=PATH (LoRA) or --candidate NAME=CKPT (full checkpoint)"
        )
    try:
        adapters = parse_adapter_specs(taken["--adapter"])
        checkpoints = parse_adapter_specs(taken["--candidate"])
    except EngineConfigError as exc:
        raise GateUsageError(str(exc)) from None
    kind = "merged" if merge else "adapter"
    candidates = [Candidate(a.name, kind, str(a.path)) for a in adapters]
    candidates += [Candidate(c.name, "checkpoint", str(c.path)) for c in checkpoints]
    names = [c.name for c in candidates]
    if len(set(names)) != len(names):
        raise GateUsageError(f"candidate names must differ: {', '.join(names)}; name them with NAME=PATH")
    run_id = single.get("--run-id") or "gate-" + time.strftime("%Y%m%d-%H%M%S")
    return GatePlan(
        model=single["--model"],
        candidates=tuple(candidates),
        common=tuple(common),
        run_dir=Path(single.get("--report-dir") or cwd / "reports") / run_id,
        summary_md=Path(single["--summary-md"]) if "--summary-md" in single else None,
        metric=single.get("--metric", "avg@n"),
    )


def base_args(plan: GatePlan) -> list[str]:
    """The base run's options: the common ones without candidate gates, plus the adapters to prefill."""
    args = _without(plan.common, CANDIDATE_GATES)
    args += [
        "--model",
        plan.model,
        "--metric",
        plan.metric,
        "--report-dir",
        str(plan.run_dir),
        "--run-id",
        "base",
    ]
    prefill = [f"{c.name}={c.path}" for c in plan.candidates if c.kind == "adapter"]
    if prefill:
        args += ["--prefill-adapters", ",".join(prefill)]
    return args


def candidate_args(plan: GatePlan, candidate: Candidate) -> list[str]:
    """One candidate's run options: its weights, the common options, and the base run as baseline."""
    args = list(plan.common)
    if candidate.kind == "checkpoint":
        args += ["--model", candidate.path]
    else:
        args += ["--model", plan.model, "--adapter", f"{candidate.name}={candidate.path}"]
        if candidate.kind == "merged":
            args.append("--merge-adapter")
    args += ["--metric", plan.metric, "--report-dir", str(plan.run_dir), "--run-id", candidate.name]
    # Each candidate's own per-subgroup verdict (evalsuite.reports.markdown), gathered into the gate's.
    args += ["--summary-md", str(plan.run_dir / candidate.name / "summary.md")]
    return [*args, "--baseline", str(plan.run_dir / "base")]


def _without(args: Sequence[str], flags: Sequence[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        flag = arg.split("=", 1)[0]
        if flag in flags:
            skip = "=" not in arg
            continue
        out.append(arg)
    return out


def run_model(name: str, args: Sequence[str], report_dir: Path) -> ModelRun:
    """One evaluation run in a fresh process (``evalsuite run``); its output goes to this terminal."""
    print(f"== evalsuite gate: {name} ==", flush=True)
    t0 = time.perf_counter()
    # The gate appends one summary to $GITHUB_STEP_SUMMARY, not one per run.
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    code = subprocess.call([sys.executable, "-m", "evalsuite.cli", "run", *args], env=env)
    return ModelRun(name, report_dir, code, time.perf_counter() - t0)


def read_summary(run: ModelRun) -> dict[str, Any] | None:
    path = run.report_dir / "summary.json"
    return json.loads(path.read_text()) if path.is_file() else None


def verdict_rows(base: ModelRun, candidates: Sequence[ModelRun], metric: str) -> list[dict[str, Any]]:
    """One row per candidate and benchmark: scores, delta, the gates' verdict and messages."""
    base_scores = _scores(read_summary(base), metric)
    rows = []
    for run in candidates:
        summary = read_summary(run)
        scores = _scores(summary, metric)
        gates = (summary or {}).get("gates", [])
        for bench in scores or ["(no results)"]:
            mine = [g for g in gates if g["name"].endswith(":" + bench) or ":" + bench + "/" in g["name"]]
            failed = [g for g in mine if not g["passed"]]
            verdict = (
                "ERROR" if run.exit_code not in (0, 1) or summary is None else ("FAIL" if failed else "PASS")
            )
            rows.append(
                {
                    "model": run.name,
                    "benchmark": bench,
                    "base": base_scores.get(bench),
                    "score": scores.get(bench),
                    "verdict": verdict,
                    "messages": [g["message"] for g in (failed or mine)],
                }
            )
    return rows


def _scores(summary: dict[str, Any] | None, metric: str) -> dict[str, float]:
    if not summary:
        return {}
    out = {}
    for name, bench in summary["summary"]["benchmarks"].items():
        est = bench["overall"]["metrics"].get(metric)
        if est is not None:
            out[name] = float(est["value"])
    return out


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def _delta(row: dict[str, Any]) -> str:
    if row["base"] is None or row["score"] is None:
        return "—"
    return f"{row['score'] - row['base']:+.3f}"


def verdict_table(rows: Sequence[dict[str, Any]], metric: str) -> str:
    """The short plain-text table printed at the end."""
    head = ("model", "benchmark", f"base {metric}", "candidate", "delta", "verdict")
    body = [
        (r["model"], r["benchmark"], _fmt(r["base"]), _fmt(r["score"]), _delta(r), r["verdict"]) for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=False)]
    lines = [
        "  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
        for line in (head, *body)
    ]
    for r in rows:
        if r["verdict"] != "PASS":
            lines += [f"{r['model']} {r['benchmark']}: {m}" for m in r["messages"][:3]]
    return "\n".join(lines)


def markdown_summary(
    plan: GatePlan, base: ModelRun, runs: Sequence[ModelRun], rows: Sequence[dict[str, Any]]
) -> str:
    """A pull-request comment / ``$GITHUB_STEP_SUMMARY`` section.

    The table of every candidate and benchmark, failing gates' messages, then each candidate's own
    per-subgroup verdict (``evalsuite.reports.markdown``, written by its run).
    """
    failed = any(r["verdict"] != "PASS" for r in rows)
    lines = [
        f"### evalsuite gate: {'❌ FAIL' if failed else '✅ PASS'}",
        "",
        f"Base `{plan.model}`, metric `{plan.metric}`, reports `{plan.run_dir}`.",
        "",
        "| model | benchmark | base | candidate | Δ | verdict |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['model']} | {r['benchmark']} | {_fmt(r['base'])} | {_fmt(r['score'])} | {_delta(r)} | {r['verdict']} |"
        for r in rows
    ]
    notes = [
        f"- **{r['model']} / {r['benchmark']}**: {m}"
        for r in rows
        if r["verdict"] != "PASS"
        for m in r["messages"]
    ]
    if notes:
        lines += ["", *notes]
    for run in runs:  # each candidate's per-subgroup verdict, worst subgroups first
        detail = run.report_dir / "summary.md"
        if detail.is_file():
            lines += ["", f"#### {run.name} vs base", "", detail.read_text().strip()]
    timing = ", ".join(f"{r.name} {r.seconds:.0f}s" for r in (base, *runs))
    lines += ["", f"<sub>wall time: {timing}</sub>", ""]
    return "\n".join(lines)


def exit_code(base: ModelRun, runs: Sequence[ModelRun]) -> int:
    """Non-zero when the base run failed, a candidate's run failed, or a candidate's gate failed."""
    if base.exit_code != 0:
        return base.exit_code
    worst = [r.exit_code for r in runs if r.exit_code not in (0, 1)]
    if worst:
        return worst[0]
    return 1 if any(r.exit_code == 1 for r in runs) else 0


def main(argv: Sequence[str]) -> int:
    """``evalsuite gate``: see the module docstring."""
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    try:
        plan = parse(argv)
    except GateUsageError as exc:
        print(f"evalsuite gate: {exc}", file=sys.stderr)
        return 4
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    base = run_model("base", base_args(plan), plan.run_dir / "base")
    if base.exit_code != 0:
        print(
            f"evalsuite gate: the base run failed (exit {base.exit_code}); see {base.report_dir}",
            file=sys.stderr,
        )
        return base.exit_code
    for c in plan.candidates:  # --summary-md wants its directory to exist
        (plan.run_dir / c.name).mkdir(parents=True, exist_ok=True)
    runs = [run_model(c.name, candidate_args(plan, c), plan.run_dir / c.name) for c in plan.candidates]
    rows = verdict_rows(base, runs, plan.metric)
    print("\n" + verdict_table(rows, plan.metric))
    from evalsuite.reports.markdown import write_markdown

    md = markdown_summary(plan, base, runs, rows)
    (plan.run_dir / "summary.md").write_text(md)
    write_markdown(md, plan.summary_md)  # and appended to $GITHUB_STEP_SUMMARY when set
    code = exit_code(base, runs)
    print(f"evalsuite gate: exit {code} ({', '.join(f'{r.name} {r.seconds:.1f}s' for r in (base, *runs))})")
    return code
