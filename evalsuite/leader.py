"""The plugin registered only on the process that leads generation (xdist controller, or lone process).

It owns the engine, the ``GenerationLeader`` and the ``Recorder``, and the hooks only the leader
needs: start generation once the selected items are known, collect every result, apply the gates,
write the reports, close the engine. As pytest-xdist registers its ``DSession`` on the controller alone.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Any

import pytest

from evalsuite.cases import Cases
from evalsuite.engine_log import EngineLog
from evalsuite.engines.base import EngineConfigError, EngineError, engines
from evalsuite.generation import GenerationLeader
from evalsuite.recorder import Recorder
from evalsuite.settings import RUN_ID_KEY, Settings
from evalsuite.types import Item

log = logging.getLogger(__name__)


def item_nodeid_from_test(nodeid: str) -> str | None:
    """``path::test_item[math500/algebra/level5/x]`` → ``math500/algebra/level5/x``."""
    if not nodeid.endswith("]") or "[" not in nodeid:
        return None
    return nodeid[nodeid.index("[") + 1 : -1]


class Leader:
    """Engine, generation and recording for one run; see the module docstring."""

    def __init__(self, settings: Settings, cases: Cases, *, rootpath: Any) -> None:
        self.settings = settings
        self.cases = cases
        self.report_error = ""
        """Why the reports could not be written (empty when they were)."""
        report_dir = settings.output.report_dir
        self.engine_log = EngineLog(report_dir / "engine.log", quiet=settings.verbose <= 0)
        try:
            self.engine = engines.get(settings.engine_name)(settings.engine)
        except EngineConfigError as exc:
            raise pytest.UsageError(str(exc)) from exc
        try:
            report_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise pytest.UsageError(
                f"--report-dir {settings.output.report_root}: cannot create the run directory {report_dir} "
                f"({exc.strerror or exc}); pass a writable --report-dir"
            ) from None
        self.engine_log.start()
        self.generation = GenerationLeader(
            self.engine,
            cases.cache,
            run_id=settings.output.run_id,
            sampling=settings.sampling,
            samples=settings.samples,
            adapter=settings.adapter,
            also_adapters=settings.prefill_adapters,
            max_prompt_tokens=settings.max_prompt_tokens,
            use_cache=settings.output.use_cache,
            generate_missing=not settings.output.rescore,
            progress_log=report_dir / "progress.log",
            schedule=settings.schedule,
            samples_by_benchmark=settings.samples_by_benchmark,
            benchmark_max_tokens={d.name: d.max_tokens for d in cases.data if d.max_tokens is not None},
            max_tokens_given=settings.max_tokens_given,
            think_prefix=settings.think_prefix,
            deadlines=settings.deadlines,
        )
        # The items are known now; which tests run is known only after the workers' collection.
        # Planning and loading the engine meanwhile (in the background) overlap xdist's start-up.
        try:
            self.generation.preload(cases.items)
        except EngineError as exc:  # e.g. --max-tokens beyond the context a server reports
            raise pytest.UsageError(str(exc)) from exc
        self.recorder = Recorder(
            settings, report_dir, benchmarks=cases.data, item_order=[i.nodeid for i in cases.items], rootpath=rootpath,
            shard=cases.shard,
        )

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """The protocol's parameters, and what the user's options changed in it, before anything runs."""
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        for line in self.settings.notes:
            if tr is not None:
                tr.write_line(line)
            else:
                print(line)

    def _start(self, items: list[Item]) -> None:
        if self.generation.started:
            return
        try:
            self.generation.start(items)
        except EngineError as exc:
            raise pytest.UsageError(str(exc)) from exc

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Lone process: the selected tests are known; generate for their items."""
        selected = [
            t.callspec.params["item"]
            for t in session.items
            if hasattr(t, "callspec") and isinstance(t.callspec.params.get("item"), Item)
        ]
        self._start(list({i.nodeid: i for i in selected}.values()))

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist controller: every worker joins this run."""
        node.workerinput[RUN_ID_KEY] = self.settings.output.run_id

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """xdist controller: the first worker's collection tells which items were selected."""
        by_nodeid = self.cases.by_nodeid
        selected = dict.fromkeys(p for p in map(item_nodeid_from_test, ids) if p in by_nodeid)
        self._start([by_nodeid[p] for p in selected])

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Last: other plugins see the result's payload before the recorder takes it off the report."""
        self.recorder.add_report(report)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.generation.join()
        self.engine_log.stop()
        endpoints = getattr(self.engine, "endpoint_stats", None)  # HTTP engines over several --api-url
        try:
            session.exitstatus = self.recorder.finish(
                session.exitstatus,
                stats=self.generation.stats,
                fingerprint=_safe(self.engine.fingerprint),
                endpoints=[dataclasses.asdict(e) for e in endpoints()] if endpoints else None,
            )
        except OSError as exc:  # disk full, directory removed or made read-only mid-run
            where = exc.filename or self.settings.output.report_dir
            self.report_error = (
                f"cannot write the reports to {where}: {exc.strerror or exc}; the completions are in the cache "
                f"({self.settings.output.cache_path}): free space or fix permissions and rerun the same command "
                "(it generates nothing again), or pass --report-dir"
            )
            session.exitstatus = int(pytest.ExitCode.TESTS_FAILED)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> Any:
        """After pytest's own summaries (the list of failed items): the scores end the output."""
        try:
            return (yield)
        finally:
            stats = self.generation.stats
            failed = self.generation.failure is not None or (stats is not None and stats.errors > 0)
            self.recorder.terminal_summary(terminalreporter, stats=stats)
            if self.generation.failure is not None:
                terminalreporter.write_line(f"generation failed: {self.generation.failure}", red=True)
            if self.report_error:
                terminalreporter.write_line(f"error: {self.report_error}", red=True)
            self.engine_log.show_tail(terminalreporter, always=failed)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        _close_within(self.engine, CLOSE_TIMEOUT_S)
        self.engine_log.stop()


CLOSE_TIMEOUT_S = 60.0
"""How long closing the engine may take at the end (a stalled engine may never close)."""


def _close_within(engine: Any, timeout_s: float) -> None:
    """``engine.close()`` in a daemon thread, abandoned after ``timeout_s``: the session must end."""

    def close() -> None:
        try:
            engine.close()
        except Exception:
            log.debug("engine close failed", exc_info=True)

    thread = threading.Thread(target=close, name="evalsuite-engine-close", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        log.warning("engine %s did not close within %.0fs; leaving it behind", engine.name, timeout_s)


def _safe(fn: Any) -> Any:
    try:
        return fn()
    except Exception:
        return None
