"""The generation leader and the consumers that wait for its completions.

Exactly one process leads (the xdist controller, or the lone pytest process): it turns the
selected items into a plan of requests, writes the plan to the cache, and streams every missing
request to the engine at once in a background thread, storing each completion as it finishes.
Tests, in any process, only read: ``wait_for_item`` polls the cache for their item's keys.

When tests verify is the run's *schedule*, chosen by the leader and recorded with its state:
``stream`` verifies each item as soon as its completions land (verification overlaps generation:
right when the engine computes on a GPU or a remote server), ``after`` holds every test until the
whole plan is generated (right when the engine computes on this machine's CPUs, where verifying
alongside would take cores from it and gain no wall time).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from evalsuite.cache import CompletionCache, request_key
from evalsuite.engines.base import Engine, EngineConfigError
from evalsuite.progress import Progress
from evalsuite.types import Completion, Item, Request, SamplingConfig

log = logging.getLogger(__name__)


class GenerationFailed(RuntimeError):
    """The leader could not produce a completion: an infrastructure error, not a wrong answer."""


@dataclass(frozen=True)
class GenerationStats:
    """What one leader did, for the terminal summary and the throughput benchmark."""

    planned: int
    """Requests in the plan."""
    cached: int
    """Requests answered from the cache."""
    generated: int
    """Requests sent to the engine."""
    output_tokens: int
    """Tokens the engine generated this run."""
    seconds: float
    """Wall time of generation proper: the engine's ``generate``, start-up excluded."""
    errors: int
    """Requests that failed."""
    load_seconds: float = 0.0
    """Wall time of the engine's start-up (``load``: imports, weights, connection)."""

    @property
    def tokens_per_second(self) -> float:
        """Output tokens per second of generation (start-up excluded)."""
        return self.output_tokens / self.seconds if self.seconds > 0 else 0.0


class GenerationLeader:
    """Plans, generates what is missing, and records the run's state in the cache.

    The engine is closed as soon as generation ends (``close`` is idempotent; its owner may call it again).
    """

    def __init__(
        self,
        engine: Engine,
        cache: CompletionCache,
        *,
        run_id: str,
        sampling: SamplingConfig,
        samples: int,
        adapter: str | None = None,
        use_cache: bool = True,
        generate_missing: bool = True,
        progress_log: Path | None = None,
        schedule: str = "auto",
        samples_by_benchmark: Mapping[str, int] | None = None,
        benchmark_max_tokens: Mapping[str, int] | None = None,
        max_tokens_given: bool = True,
        think_prefix: str | None = None,
    ) -> None:
        self.engine = engine
        self.cache = cache
        self.run_id = run_id
        self.sampling = sampling
        self.samples = samples
        self.adapter = adapter
        self.use_cache = use_cache
        self.generate_missing = generate_missing
        self.progress_log = progress_log
        self.schedule = schedule
        self.samples_by_benchmark = dict(samples_by_benchmark or {})
        self.benchmark_max_tokens = dict(benchmark_max_tokens or {})
        self.max_tokens_given = max_tokens_given
        self.think_prefix = think_prefix
        self.stats: GenerationStats | None = None
        self.failure: str | None = None
        """Why generation failed as a whole (the engine died); None while it has not."""
        self._thread: threading.Thread | None = None
        self._load_thread: threading.Thread | None = None
        self._load_error: BaseException | None = None
        self._load_seconds = 0.0

    def plan(self, items: Sequence[Item]) -> list[Request]:
        """Every item × sample as a request with its cache key."""
        # The engine is part of the identity: vLLM and transformers kernels differ in numerics.
        fingerprint = f"{self.engine.name}/{self.engine.fingerprint()}"
        context = self.engine.context_length()
        given = self.sampling.max_tokens if self.max_tokens_given else None
        if given is not None and context is not None and given > context:
            raise EngineConfigError(
                f"--max-tokens {given}: larger than the model's context length {context}; "
                f"pass --max-tokens {context} or less, or leave it out to generate up to the context"
            )
        requests = []
        for item in items:
            prompt = item.prompt_text if item.prompt_text is not None else self.engine.render(item.messages)
            # A chat server applies its own template: its prompt cannot be extended (see protocols).
            on_server = item.prompt_text is None and getattr(self.engine, "templates_on_server", False)
            if self.think_prefix and not prompt.endswith(self.think_prefix) and not on_server:
                prompt += self.think_prefix
            # Completion-mode templates end a turn with their own strings (item.meta["stop"]).
            sampling = dataclasses.replace(self.sampling, max_tokens=self._max_tokens(item, prompt, context))
            if item.meta.get("stop"):
                sampling = dataclasses.replace(sampling, stop=(*sampling.stop, *item.meta["stop"]))
            for index in range(self.samples_by_benchmark.get(item.benchmark, self.samples)):
                key = request_key(
                    fingerprint=fingerprint, adapter=self.adapter, prompt=prompt,
                    sampling=sampling, sample_index=index,
                )
                if not self.use_cache:
                    # --no-cache: a key of this run alone, so nothing old is read and nothing
                    # written now is reused later.
                    key = hashlib.sha256(f"{key}:{self.run_id}".encode()).hexdigest()
                requests.append(Request(key, item.nodeid, index, item.messages, prompt, sampling))
        return requests

    def preload(self, items: Sequence[Item]) -> bool:
        """Start loading the engine in the background now if any request of ``items`` is not cached.

        Called when the run's items are known but not yet which tests were selected (the xdist
        controller waits for its workers' collection): the load then overlaps that start-up. A
        fully cached rerun never starts the engine. Returns whether the load started.
        """
        if not self.generate_missing or self._load_thread is not None:
            return False
        keys = {r.key for r in self.plan(items)}
        if self.use_cache and len(self.cache.get_many(list(keys))) == len(keys):
            return False
        self._load_thread = threading.Thread(target=self._load, name="evalsuite-load", daemon=True)
        self._load_thread.start()
        return True

    def _load(self) -> None:
        start = time.perf_counter()
        try:
            self.engine.load()
        except BaseException as exc:  # re-raised in the generation thread, where failures are handled
            self._load_error = exc
        finally:
            self._load_seconds = time.perf_counter() - start

    def _loaded(self) -> float:
        """Load the engine (or wait for ``preload``'s load); its load time in seconds."""
        if self._load_thread is None:
            self._load()
        else:
            self._load_thread.join()
        if self._load_error is not None:
            raise self._load_error
        return self._load_seconds

    def _max_tokens(self, item: Item, prompt: str, context: int | None) -> int | None:
        """``--max-tokens`` as given; else the benchmark's own budget or the protocol's cap, never past
        the context minus the prompt; else (auto) exactly the context minus the prompt."""
        if self.max_tokens_given:
            return self.sampling.max_tokens
        budget = self.benchmark_max_tokens.get(item.benchmark) if self.sampling.max_tokens is None else self.sampling.max_tokens
        tokens = self.engine.count_tokens(prompt) if context is not None else None
        if tokens is None:
            return budget  # unknown context or a server that counts: it stops at its own limit
        room = max(1, context - tokens)  # type: ignore[operator]
        return room if budget is None else min(budget, room)

    def start(self, items: Sequence[Item]) -> None:
        """Write the plan and start generating what is missing in a background thread."""
        self.cache.set_state(self.run_id, "planning")
        try:
            requests = self.plan(items)
            self.cache.write_plan(self.run_id, requests)
        except BaseException as exc:
            self.cache.set_state(self.run_id, "failed", f"planning failed: {exc}")
            raise
        cached = self.cache.get_many([r.key for r in requests]) if self.use_cache else {}
        n_cached = sum(r.key in cached for r in requests)
        # Two items with the same prompt (benchmarks do repeat questions) share one generation.
        missing = list({r.key: r for r in requests if r.key not in cached}.values())
        if missing and not self.generate_missing:
            for req in missing:
                self.cache.put(
                    Completion(req.key, "", "error", error="not in the cache (--rescore generates nothing)"),
                    run_id=self.run_id,
                )
            missing = []
        if not missing:
            self.stats = GenerationStats(len(requests), n_cached, 0, 0, 0.0, 0)
            self.cache.set_state(self.run_id, "done")
            return
        self.cache.set_state(self.run_id, "generating", schedule=self.resolved_schedule())
        self._thread = threading.Thread(
            target=self._generate, args=(missing, len(requests), n_cached), name="evalsuite-leader", daemon=True
        )
        self._thread.start()

    def _generate(self, missing: list[Request], planned: int, cached: int) -> None:
        progress = Progress(len(missing), log_path=self.progress_log)
        tokens = errors = 0
        # The engine's own thread-local cache connection: SQLite objects stay in their thread.
        cache = CompletionCache(self.cache.path)

        def on_completion(completion: Completion) -> None:
            nonlocal tokens, errors
            cache.put(completion, run_id=self.run_id)
            tokens += completion.output_tokens
            errors += completion.finish_reason == "error"
            progress.update(tokens=completion.output_tokens, error=completion.finish_reason == "error")

        loaded: float | None = None
        load_seconds = 0.0
        try:
            load_seconds = self._loaded()
            loaded = time.perf_counter()
            progress.engine_ready(load_seconds)
            self.engine.generate(missing, on_completion)
        except BaseException as exc:  # the engine died: every waiting test must learn it
            log.exception("generation failed")
            self.failure = f"{type(exc).__name__}: {exc}"
            cache.set_state(self.run_id, "failed", self.failure)
        else:
            cache.set_state(self.run_id, "done")
        finally:
            end = time.perf_counter()
            self.stats = GenerationStats(
                planned, cached, len(missing), tokens, end - (loaded or end), errors,
                load_seconds=load_seconds if loaded is not None else self._load_seconds,
            )
            progress.close()
            cache.close()
            # Nothing generates after this: free the engine's memory and processes now, while the
            # tests verify, rather than after the summary (vLLM takes seconds to shut down).
            try:
                self.engine.close()
            except Exception:
                log.warning("engine close failed", exc_info=True)

    def resolved_schedule(self) -> str:
        """``stream`` or ``after``; ``auto`` holds tests when the engine computes on this machine's CPUs."""
        if self.schedule in ("stream", "after"):
            return self.schedule
        return "after" if self.engine.computes_on_cpu() else "stream"

    @property
    def started(self) -> bool:
        """Whether ``start`` ran (generation finished, or is running in the background)."""
        return self.stats is not None or self._thread is not None

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


def wait_for_item(
    cache: CompletionCache, run_id: str, item_nodeid: str, *, poll_s: float = 0.05, max_poll_s: float = 1.0
) -> list[Completion]:
    """Block until every sample of ``item_nodeid`` has a completion (or the run failed).

    Raises:
        GenerationFailed: the leader failed or a sample's request failed.
    """
    keys: list[str] = []
    delay = poll_s
    while True:
        # State first: once it reads done/failed, every completion the leader stored is visible below.
        state = cache.state(run_id)
        ended = state is not None and state.state in ("done", "failed")
        if not keys:
            keys = cache.plan_keys(run_id, item_nodeid)
        if keys:
            found = cache.get_many(keys)
            failed = cache.failures(run_id, [k for k in keys if k not in found])
            if failed:
                raise GenerationFailed(next(iter(failed.values())))
            held = state is not None and state.schedule == "after" and not ended
            if len(found) == len(keys) and not held:
                return [found[k] for k in keys]
        if state is not None and state.state == "failed":
            raise GenerationFailed(f"generation failed: {state.message}")
        if state is not None and state.state == "done":
            if keys:
                raise GenerationFailed("generation finished without a completion for this item")
            raise GenerationFailed(f"{item_nodeid} is not in this run's plan (was it deselected on the leader?)")
        time.sleep(delay)
        delay = min(delay * 1.5, max_poll_s)
