"""The state of one evaluation run in one pytest process, registered as a plugin object.

Every process (lone, xdist controller, xdist worker) resolves the same options and loads the same
items, so parametrization agrees everywhere. Only the leader (controller or lone process) creates
the engine, plans and generates, records results and writes reports; workers only read the cache.
"""

from __future__ import annotations

import atexit
import functools
import gc
import logging
import os
from typing import Any

import pytest

from evalsuite import session as _session
from evalsuite.benchmarks import BenchmarkData
from evalsuite.cache import CompletionCache
from evalsuite.engines.base import EngineConfigError, EngineError, engines
from evalsuite.evaluate import evaluate_item, failed_item, record_result
from evalsuite.recorder import Recorder
from evalsuite.registry import UnknownNameError
from evalsuite.runner import GenerationFailed, GenerationLeader, wait_for_item
from evalsuite.types import Completion, Item, ItemResult

log = logging.getLogger(__name__)

RUN_ID_KEY = "evalsuite_run_id"


def item_nodeid_from_test(nodeid: str) -> str | None:
    """``path::test_item[math500/algebra/level5/x]`` → ``math500/algebra/level5/x``."""
    if not nodeid.endswith("]") or "[" not in nodeid:
        return None
    return nodeid[nodeid.index("[") + 1 : -1]


class EvalRun:
    KEY = pytest.StashKey["EvalRun"]()

    def __init__(self, config: pytest.Config, settings: _session.RunSettings, data: list[BenchmarkData],
                 items: list[Item], run_id: str, is_worker: bool) -> None:
        self.config = config
        self.settings = settings
        self.data = data
        self.items = items
        self.by_nodeid = {i.nodeid: i for i in items}
        self.run_id = run_id
        self.is_worker = is_worker
        self.engine: Any = None
        self.leader: GenerationLeader | None = None
        self.recorder: Recorder | None = None
        self.prompts: dict[str, str] = {}

    @functools.cached_property
    def cache(self) -> CompletionCache:
        """Opened on first use, so a run refused for bad options creates nothing on disk."""
        return CompletionCache(self.settings.cache_path)

    # construction -----------------------------------------------------------------------------

    @classmethod
    def from_config(cls, config: pytest.Config) -> EvalRun:
        settings = _session.resolve(config)
        data = _session.load_benchmarks(settings)
        items = _session.select_items(
            [i for d in data for i in d.items],
            limit=config.getoption("es_limit"),
            patterns=config.getoption("es_items"),
            shuffle=config.getoption("es_shuffle"),
            seed=settings.sampling.seed,
        )
        workerinput = getattr(config, "workerinput", None)
        run_id = workerinput[RUN_ID_KEY] if workerinput else (config.getoption("es_run_id") or _session.new_run_id())
        run = cls(config, settings, data, items, run_id, is_worker=workerinput is not None)
        if run.is_worker:
            # Verification must not starve generation of CPU (vLLM on CPU, or its scheduler and
            # detokenizer on GPU machines); workers and their verifier processes yield to it.
            os.nice(int(config.getoption("es_worker_nice")))
        elif not config.option.collectonly:
            run._start_leader()
        return run

    def _start_leader(self) -> None:
        s = self.settings
        report_dir = s.report_root / self.run_id
        if not (s.engine.model or s.engine.api_url or s.engine_name == "fake"):
            raise pytest.UsageError("nothing to evaluate: pass --model PATH (a checkpoint) or --api-url URL (a server)")
        try:
            self.engine = engines.get(s.engine_name)(s.engine)
        except UnknownNameError as exc:
            raise pytest.UsageError(f"--engine {s.engine_name}: {exc}") from exc
        except EngineConfigError as exc:
            raise pytest.UsageError(str(exc)) from exc
        report_dir.mkdir(parents=True, exist_ok=True)
        self.leader = GenerationLeader(
            self.engine,
            self.cache,
            run_id=self.run_id,
            sampling=s.sampling,
            samples=s.samples,
            adapter=s.engine.adapter,
            use_cache=s.use_cache,
            generate_missing=not s.rescore,
            progress_log=report_dir / "progress.log",
            schedule=self.config.getoption("es_verify_schedule"),
        )
        self.recorder = Recorder(self, report_dir)

    # parametrization -------------------------------------------------------------------------

    def mark_names(self) -> set[str]:
        names = {_session.mark_name(d.name) for d in self.data}
        names.update(_session.mark_name(v) for i in self.items for v in i.groups.values())
        return names

    def params(self) -> list[Any]:
        return [
            pytest.param(
                item,
                marks=[getattr(pytest.mark, _session.mark_name(item.benchmark))]
                + [getattr(pytest.mark, _session.mark_name(v)) for v in item.groups.values()],
                id=item.nodeid,
            )
            for item in self.items
        ]

    # leader hooks -----------------------------------------------------------------------------

    def _start_generation(self, items: list[Item]) -> None:
        if self.leader is None or self.leader.started:
            return
        try:
            self.leader.start(items)
        except EngineError as exc:
            raise pytest.UsageError(str(exc)) from exc

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Lone process: the selected tests are known; generate for their items."""
        # Everything imported so far (sympy, math-verify, torch...) lives to the end: keep it out
        # of the garbage collector's full passes, which otherwise rescan it again and again.
        gc.freeze()
        if self.is_worker:
            return
        selected = [t.callspec.params["item"] for t in session.items if hasattr(t, "callspec") and isinstance(t.callspec.params.get("item"), Item)]
        self._start_generation(list({i.nodeid: i for i in selected}.values()))

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist controller: every worker joins this run."""
        node.workerinput[RUN_ID_KEY] = self.run_id

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """xdist controller: the first worker's collection tells which items were selected."""
        selected = dict.fromkeys(p for p in map(item_nodeid_from_test, ids) if p in self.by_nodeid)
        self._start_generation([self.by_nodeid[p] for p in selected])

    # consumers (any process) ------------------------------------------------------------------

    def completions_for(self, item: Item, request: pytest.FixtureRequest) -> list[Completion]:
        try:
            return wait_for_item(self.cache, self.run_id, item.nodeid)
        except GenerationFailed as exc:
            result = failed_item(item, "", self.settings.samples, str(exc))
            record_result(request.node, result)
            raise

    def evaluate(self, item: Item, completions: list[Completion]) -> ItemResult:
        return evaluate_item(item, self._prompt(item), completions)

    def _prompt(self, item: Item) -> str:
        """The rendered prompt as the leader planned it; the plain messages if it is not known."""
        prompt = self.cache.plan_prompt(self.run_id, item.nodeid)
        if prompt is not None:
            return prompt
        return "\n\n".join(f"[{m.role}]\n{m.content}" for m in item.messages)

    # session end ------------------------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.recorder is not None:
            self.recorder.add_report(report)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.leader is not None:
            self.leader.join()
        # pytest's unraisable-exception check collects garbage five times at exit; what is alive
        # now (vLLM, the engine's imports, every result) would be rescanned each time, per process.
        # Unfrozen again at exit, so that interpreter shutdown frees it as usual.
        gc.freeze()
        atexit.register(gc.unfreeze)
        if self.recorder is not None:
            session.exitstatus = self.recorder.finish(session.exitstatus)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> Any:
        """After pytest's own summaries (the list of failed items): the scores end the output."""
        try:
            return (yield)
        finally:
            if self.recorder is not None:
                self.recorder.terminal_summary(terminalreporter)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.engine is not None:
            try:
                self.engine.close()
            except Exception:
                log.debug("engine close failed", exc_info=True)
        if "cache" in self.__dict__:
            self.cache.close()

