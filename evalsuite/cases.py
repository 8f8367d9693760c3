"""The evaluation's test cases in one pytest process (lone, xdist controller or worker).

Every process resolves the same settings and loads the same items, so parametrization agrees
everywhere. Here: the parameters and marks, waiting for an item's completions, and verifying them.
What only the process that leads generation does lives in ``evalsuite.leader``.
"""

from __future__ import annotations

import atexit
import functools
import gc
from typing import Any

import pytest

from evalsuite.benchmarks import BenchmarkData
from evalsuite.cache import CompletionCache
from evalsuite.generation import GenerationFailed, wait_for_item
from evalsuite.scoring import evaluate_item, failed_item, record_result, ship_once
from evalsuite.selection import item_marks, load_benchmarks, select_items, select_shard
from evalsuite.settings import Settings
from evalsuite.types import Completion, Item, ItemResult

SHIPPED_KEY = pytest.StashKey[set[int]]()
"""Per test: ids of the result payloads one of its reports already carries (``scoring.ship_once``)."""


class Cases:
    """Parametrizes ``item``, hands each test its completions and verdict; registered in every process."""

    def __init__(self, settings: Settings, data: list[BenchmarkData], items: list[Item],
                 shard: dict[str, Any] | None = None) -> None:
        self.settings = settings
        self.data = data
        self.items = items
        self.shard = shard  # --shard's record for the run's meta (sharding.plan); None when not sharded
        self.by_nodeid = {i.nodeid: i for i in items}

    @classmethod
    def load(cls, settings: Settings) -> Cases:
        data = load_benchmarks(settings.selection)
        selected = select_items([i for d in data for i in d.items], settings.selection)
        shard = select_shard(selected, settings.selection.shard,
                             max_tokens=settings.sampling.max_tokens, samples=settings.samples_for)
        return cls(settings, data, list(shard.items), shard.meta)

    @functools.cached_property
    def cache(self) -> CompletionCache:
        """Opened on first use, so a run refused for bad options creates nothing on disk."""
        return CompletionCache(self.settings.output.cache_path)

    @property
    def run_id(self) -> str:
        return self.settings.output.run_id

    # parametrization -------------------------------------------------------------------------

    def mark_names(self) -> set[str]:
        return {mark for item in self.items for mark in item_marks(item)}

    def params(self) -> list[Any]:
        return [
            pytest.param(item, marks=[getattr(pytest.mark, m) for m in item_marks(item)], id=item.nodeid)
            for item in self.items
        ]

    # one test ---------------------------------------------------------------------------------

    def completions_for(self, item: Item, request: pytest.FixtureRequest) -> list[Completion]:
        try:
            return wait_for_item(
                self.cache, self.run_id, item.nodeid, stall_timeout_s=self.settings.deadlines.stall_s
            )
        except GenerationFailed as exc:
            record_result(request.node, failed_item(item, "", self.settings.samples_for(item.benchmark), str(exc)))
            raise

    def evaluate(self, item: Item, completions: list[Completion]) -> ItemResult:
        return evaluate_item(item, self._prompt(item), completions, strict_format=self.settings.strict_format)

    def _prompt(self, item: Item) -> str:
        """The rendered prompt as the leader planned it; the plain messages if it is not known."""
        prompt = self.cache.plan_prompt(self.run_id, item.nodeid)
        if prompt is not None:
            return prompt
        return "\n\n".join(f"[{m.role}]\n{m.content}" for m in item.messages)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report = yield
        ship_once(report, item.stash.setdefault(SHIPPED_KEY, set()))
        return report

    # process lifetime -------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # Everything imported so far (sympy, math-verify, torch...) lives to the end: keep it out
        # of the garbage collector's full passes, which otherwise rescan it again and again.
        gc.freeze()

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # pytest's unraisable-exception check collects garbage five times at exit; what is alive
        # now (vLLM, the engine's imports, every result) would be rescanned each time, per process.
        # Unfrozen again at exit, so that interpreter shutdown frees it as usual.
        gc.freeze()
        atexit.register(gc.unfreeze)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if "cache" in self.__dict__:
            self.cache.close()
