"""A short Markdown verdict for a pull-request comment or ``$GITHUB_STEP_SUMMARY``.

One table row per benchmark (baseline, candidate, delta with CI, corrected p, its worst subgroup,
verdict), then the worst subgroups across the run, then the other gates (``--min-score``).
GitHub renders it as is; it stays readable as plain text.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from evalsuite.comparison import GroupComparison, benchmarks_only, worst_first
from evalsuite.gates import GateResult
from evalsuite.reports.records import model_name
from evalsuite.types import RunRecord

STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
"""Environment variable GitHub Actions sets to the file a step's Markdown summary is appended to."""


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _delta(c: GroupComparison) -> str:
    t = c.test
    if t is None:
        return "–"
    return f"{t.delta:+.3f} ({t.ci_low:+.3f}, {t.ci_high:+.3f})"


def _p(x: float | None) -> str:
    return "–" if x is None else f"{x:.2g}" if x < 0.001 else f"{x:.3f}"


def _verdict(c: GroupComparison, *, max_drop: float, alpha: float) -> str:
    if c.test is None or c.test.n == 0:
        return "– not compared"
    if c.dropped(max_drop=max_drop, alpha=alpha):
        return "❌ dropped"
    return "✅ ok" if c.gated else "· too small to gate"


def render_markdown(
    gates: Sequence[GateResult],
    comparisons: Sequence[GroupComparison],
    *,
    run: RunRecord | None = None,
    baseline: RunRecord | None = None,
    max_drop: float = 0.02,
    alpha: float = 0.05,
    worst: int = 5,
    title: str = "evalsuite gate",
) -> str:
    """The Markdown summary of one gated run.

    Args:
        gates: Every gate of the run (``check_baseline`` and ``check_min_score`` results).
        comparisons: ``compare_runs_grouped(run, baseline, ...)`` (empty without a baseline).
        run: The candidate run, for its id and model name.
        baseline: The baseline run, for its id and model name.
        max_drop: The gate's largest tolerated drop (to mark dropped subgroups).
        alpha: The gate's significance level after correction.
        worst: Subgroups listed under "Worst subgroups" (those that went down, worst first).
        title: Heading text.

    Returns:
        Markdown text ending with a newline.
    """
    passed = all(g.passed for g in gates)
    lines = [f"### {title}: {'✅ PASSED' if passed else '❌ FAILED'}", ""]
    family = next((c for c in comparisons if c.gated), None)
    head = []
    if run is not None:
        head.append(f"`{run.run_id}` ({_cell(model_name(run.meta))})")
    if baseline is not None:
        head.append(f"vs baseline `{baseline.run_id}` ({_cell(model_name(baseline.meta))})")
    if family is not None:
        head.append(
            f"· metric {family.metric} · {family.correction} correction over {family.family_size} tests "
            f"· fails on a drop > {max_drop:g} with corrected p < {alpha:g}"
        )
    if head:
        lines += [" ".join(head), ""]
    benches = benchmarks_only(comparisons)
    if benches:
        lines += [
            "| Benchmark | Baseline | Candidate | Δ (95% CI) | p (corrected) | Worst subgroup | Verdict |",
            "|---|---:|---:|---:|---:|---|---|",
        ]
        for b in benches:
            subs = [c for c in comparisons if c.benchmark == b.benchmark and c.key is not None]
            down = [
                c for c in worst_first(subs, max_drop=max_drop, alpha=alpha) if c.test and c.test.delta < 0
            ]
            w = f"{down[0].label} {down[0].test.delta:+.3f} (p {_p(down[0].p_adjusted)})" if down else "–"  # type: ignore[union-attr]
            failed = any(c.dropped(max_drop=max_drop, alpha=alpha) for c in (b, *subs))
            verdict = _verdict(b, max_drop=max_drop, alpha=alpha) if not failed else "❌ dropped"
            t = b.test
            base = "–" if t is None else f"{t.base_mean:.3f}"
            cand = "–" if t is None else f"{t.run_mean:.3f}"
            lines.append(
                f"| {_cell(b.benchmark)} | {base} | {cand} | {_delta(b)} | {_p(b.p_adjusted)} | {_cell(w)} | {verdict} |"
            )
        lines.append("")
    subs = [c for c in comparisons if c.key is not None and c.test is not None and c.test.delta < 0]
    shown = worst_first(subs, max_drop=max_drop, alpha=alpha)[: max(worst, 0)]
    if shown:
        lines += [
            "**Worst subgroups**",
            "",
            "| Subgroup | Paired | Baseline | Candidate | Δ (95% CI) | p (raw) | p (corrected) | Flipped ↓/↑ | Verdict |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for c in shown:
            t = c.test
            assert t is not None
            lines.append(
                f"| {_cell(c.name)} | {t.n} | {t.base_mean:.3f} | {t.run_mean:.3f} | {_delta(c)} | {_p(t.p_drop)} "
                f"| {_p(c.p_adjusted)} | {len(c.flipped_down)}/{len(c.flipped_up)} "
                f"| {_verdict(c, max_drop=max_drop, alpha=alpha)} |"
            )
        lines.append("")
    others = [g for g in gates if not g.name.startswith("baseline:")]
    if others:
        lines += ["**Score thresholds**", ""]
        lines += [f"- {'✅' if g.passed else '❌'} {_cell(g.message)}" for g in others]
        lines.append("")
    failed = [g for g in gates if not g.passed and g.name.startswith("baseline:")]
    if failed:
        lines += ["<details><summary>Gate messages</summary>", ""]
        lines += [f"- {_cell(g.message)}" for g in failed]
        lines += ["", "</details>", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def write_markdown(
    text: str, path: Path | None = None, *, environ: Mapping[str, str] | None = None
) -> list[Path]:
    """Write ``text`` to ``path`` (when given) and append it to ``$GITHUB_STEP_SUMMARY`` (when set).

    Returns the files written, in that order.
    """
    env = os.environ if environ is None else environ
    written = []
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    step = env.get(STEP_SUMMARY_ENV)
    if step:
        with open(step, "a", encoding="utf-8") as fh:
            fh.write(text if text.endswith("\n") else text + "\n")
        written.append(Path(step))
    return written
