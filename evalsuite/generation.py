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
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from evalsuite.cache import CompletionCache, request_key
from evalsuite.engines.base import Engine, EngineConfigError
from evalsuite.progress import Progress
from evalsuite.prompt_budget import tokenizing, truncate_prompt
from evalsuite.types import Completion, Item, Request, SamplingConfig
from evalsuite.watchdog import DEFAULT_DEADLINES, Deadlines, Watchdog

log = logging.getLogger(__name__)


class GenerationFailed(RuntimeError):
    """The leader could not produce a completion: an infrastructure error, not a wrong answer."""


class CacheWriteError(RuntimeError):
    """A finished completion could not be stored (disk full, unwritable cache directory)."""


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
    truncated_prompts: int = 0
    """Items whose prompt was cut to ``--max-prompt-tokens``."""

    @property
    def tokens_per_second(self) -> float:
        """Output tokens per second of generation (start-up excluded)."""
        return self.output_tokens / self.seconds if self.seconds > 0 else 0.0


class GenerationLeader:
    """Plans, generates what is missing, and records the run's state in the cache.

    Generation runs in a daemon thread watched by a ``Watchdog``: a stalled engine ends the run
    (``join`` returns) even while that thread stays blocked inside it. Keys another run sharing the
    cache is generating (its claims) are not generated twice: this leader waits for them.
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
        also_adapters: Sequence[str] = (),
        max_prompt_tokens: int | None = None,
        use_cache: bool = True,
        generate_missing: bool = True,
        progress_log: Path | None = None,
        schedule: str = "auto",
        samples_by_benchmark: Mapping[str, int] | None = None,
        benchmark_max_tokens: Mapping[str, int] | None = None,
        max_tokens_given: bool = True,
        think_prefix: str | None = None,
        deadlines: Deadlines = DEFAULT_DEADLINES,
    ) -> None:
        self.engine = engine
        self.cache = cache
        self.run_id = run_id
        self.sampling = sampling
        self.samples = samples
        self.adapter = adapter
        self.also_adapters = tuple(also_adapters)
        """Adapters whose completions of the same items go into the cache too, on this engine load,
        for runs of their own that follow (``evalsuite gate``); this run's tests never wait for them."""
        self.max_prompt_tokens = max_prompt_tokens
        self.truncated_prompts = 0
        """Items whose prompt ``--max-prompt-tokens`` cut (counted by ``plan``)."""
        self.use_cache = use_cache
        self.generate_missing = generate_missing
        self.progress_log = progress_log
        self.schedule = schedule
        self.samples_by_benchmark = dict(samples_by_benchmark or {})
        self.benchmark_max_tokens = dict(benchmark_max_tokens or {})
        self.max_tokens_given = max_tokens_given
        self.think_prefix = think_prefix
        self.deadlines = deadlines
        self.stats: GenerationStats | None = None
        self.failure: str | None = None
        """Why generation failed as a whole (the engine died or stalled); None while it has not."""
        self._thread: threading.Thread | None = None
        self._load_thread: threading.Thread | None = None
        self._load_error: BaseException | None = None
        self._load_seconds = 0.0
        self._load_ran = False
        self._planned_ahead = threading.Event()
        self._ended = threading.Event()
        self._end_lock = threading.Lock()
        self._left: dict[str, Request] = {}
        self._tally = _Tally()
        self._plans: dict[str | None, dict[str, tuple[list[Request], bool]]] = {}
        """Planned requests per adapter name and item (and whether its prompt was cut): ``preload``
        plans every item, ``start`` the selected ones again; rendering and counting once is enough."""
        self.watchdog = Watchdog(
            cache.path, run_id, deadlines, engine=engine.name, left=self.describe_left, on_stall=self._stalled
        )

    def plan(self, items: Sequence[Item], *, adapter_name: str | None = None) -> list[Request]:
        """Every item × sample as a request with its cache key (answered by this run's adapter, or ``adapter_name``)."""
        planned = self._plans.setdefault(adapter_name, {})
        new = [item for item in items if item.nodeid not in planned]
        if new:
            planned.update(self._plan_items(new, adapter_name))
        chosen = [planned[item.nodeid] for item in items]
        if adapter_name is None:
            self.truncated_prompts = sum(cut for _, cut in chosen)
        return [r for requests, _ in chosen for r in requests]

    def _plan_items(
        self, items: Sequence[Item], adapter_name: str | None
    ) -> dict[str, tuple[list[Request], bool]]:
        # The engine is part of the identity: vLLM and transformers kernels differ in numerics.
        fingerprint = f"{self.engine.name}/{self.engine.fingerprint()}"
        context = self._check_max_tokens()
        name = adapter_name or self.adapter
        # An adapter is its own cache entry: its name and weights' fingerprint join the key.
        adapter = self.engine.adapter_identity(name) if name is not None else None
        planned: dict[str, tuple[list[Request], bool]] = {}
        for item in items:
            cut = False
            prompt = item.prompt_text if item.prompt_text is not None else self.engine.render(item.messages)
            # A chat server applies its own template: its prompt cannot be extended (see protocols).
            on_server = item.prompt_text is None and getattr(self.engine, "templates_on_server", False)
            if self.think_prefix and not prompt.endswith(self.think_prefix) and not on_server:
                prompt += self.think_prefix
            if self.max_prompt_tokens is not None:
                prompt, cut = truncate_prompt(tokenizing(self.engine), item, prompt, self.max_prompt_tokens)
            # Completion-mode templates end a turn with their own strings (item.meta["stop"]).
            sampling = dataclasses.replace(self.sampling, max_tokens=self._max_tokens(item, prompt, context))
            if item.meta.get("stop"):
                sampling = dataclasses.replace(sampling, stop=(*sampling.stop, *item.meta["stop"]))
            requests = []
            for index in range(self.samples_by_benchmark.get(item.benchmark, self.samples)):
                key = request_key(
                    fingerprint=fingerprint, adapter=adapter, prompt=prompt,
                    sampling=sampling, sample_index=index,
                )
                if not self.use_cache:
                    # --no-cache: a key of this run alone, so nothing old is read and nothing
                    # written now is reused later.
                    key = hashlib.sha256(f"{key}:{self.run_id}".encode()).hexdigest()
                requests.append(Request(key, item.nodeid, index, item.messages, prompt, sampling, name))
            planned[item.nodeid] = (requests, bool(cut))
        return planned

    def _check_max_tokens(self) -> int | None:
        """The model's context length, once ``--max-tokens`` is known to fit in it."""
        context = self.engine.context_length()
        given = self.sampling.max_tokens if self.max_tokens_given else None
        if given is not None and context is not None and given > context:
            raise EngineConfigError(
                f"--max-tokens {given}: larger than the model's context length {context}; "
                f"pass --max-tokens {context} or less, or leave it out to generate up to the context"
            )
        return context

    def preload(self, items: Sequence[Item]) -> None:
        """Plan ``items`` and, unless every request is cached, load the engine: in the background.

        Called when the run's items are known but not yet which tests were selected (the xdist
        controller waits for its workers' collection). Planning (the tokenizer's import, every
        prompt rendered, the cache asked) and the load then overlap xdist's start-up instead of
        delaying it; ``start`` reuses the plan. A fully cached rerun never starts the engine.
        Raises ``EngineConfigError`` here, before anything starts, for a ``--max-tokens`` past the
        model's context.
        """
        if not self.generate_missing or self._load_thread is not None:
            return
        self._check_max_tokens()
        self._load_thread = threading.Thread(
            target=self._plan_and_load, args=(list(items),), name="evalsuite-load", daemon=True
        )
        self._load_thread.start()

    def _plan_and_load(self, items: list[Item]) -> None:
        try:
            keys = {r.key for r in self.plan(items)}
            needed = not (self.use_cache and len(self.cache.get_many(list(keys))) == len(keys)
                          and not self._also_missing(items))
        except Exception:  # start() plans again on its own thread, and reports what fails there
            log.debug("planning ahead failed", exc_info=True)
            needed = False
        finally:
            self._planned_ahead.set()
        if needed:
            self._load()

    def _load(self) -> None:
        self._load_ran = True
        start = time.perf_counter()
        try:
            self.engine.load()
        except BaseException as exc:  # re-raised in the generation thread, where failures are handled
            self._load_error = exc
        finally:
            self._load_seconds = time.perf_counter() - start

    def _loaded(self) -> float:
        """Load the engine (or wait for ``preload``'s load); its load time in seconds."""
        if self._load_thread is not None:
            self._load_thread.join()
        if not self._load_ran:  # no preload, or it found everything cached (and the cache changed since)
            self._load()
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
        if self._load_thread is not None:
            self._planned_ahead.wait()  # preload's plan is this plan: never render twice, or at once
        self.cache.set_state(self.run_id, "planning")
        self.watchdog.start()  # beats from now on: waiting tests see a live leader while it plans
        try:
            requests = self.plan(items)
            self.cache.write_plan(self.run_id, requests)
        except BaseException as exc:
            self.cache.set_state(self.run_id, "failed", f"planning failed: {exc}")
            self._finish()
            raise
        cached = self.cache.get_many([r.key for r in requests]) if self.use_cache else {}
        n_cached = sum(r.key in cached for r in requests)
        # Two items with the same prompt (benchmarks do repeat questions) share one generation.
        missing = list({r.key: r for r in requests if r.key not in cached}.values())
        if self.use_cache and self.generate_missing:
            missing += self._also_missing(items)
        self._plans.clear()  # the run's plan is written; memory stays flat from here on
        if missing and not self.generate_missing:
            for req in missing:
                self.cache.put(
                    Completion(req.key, "", "error", error="not in the cache (--rescore generates nothing)"),
                    run_id=self.run_id,
                )
            missing = []
        if not missing:
            self.stats = GenerationStats(
                len(requests), n_cached, 0, 0, 0.0, 0, truncated_prompts=self.truncated_prompts
            )
            self.cache.set_state(self.run_id, "done")
            self._finish()
            return
        self.cache.set_state(self.run_id, "generating", schedule=self.resolved_schedule())
        self._left = {r.key: r for r in missing}
        self._tally = _Tally(planned=len(requests), cached=n_cached, missing=len(missing))
        self._thread = threading.Thread(target=self._generate, name="evalsuite-leader", daemon=True)
        self._thread.start()

    def _also_missing(self, items: Sequence[Item]) -> list[Request]:
        """The ``also_adapters``' requests that are not cached yet."""
        extra = [r for name in self.also_adapters for r in self.plan(items, adapter_name=name)]
        cached = self.cache.get_many([r.key for r in extra])
        return list({r.key: r for r in extra if r.key not in cached}.values())

    def _generate(self) -> None:
        try:
            self._generate_and_end()
        finally:
            if not self._ended.is_set():  # whatever went wrong, the run must end and say so
                self._stalled("the generation thread ended without recording how (see the engine log)")

    def _generate_and_end(self) -> None:
        progress = Progress(len(self._left), log_path=self.progress_log)
        # The engine's own thread-local cache connection: SQLite objects stay in their thread.
        cache = CompletionCache(self.cache.path)
        tally = self._tally

        def on_completion(completion: Completion) -> None:
            try:
                cache.put(completion, run_id=self.run_id)
            except sqlite3.Error as exc:  # disk full, cache directory gone: stop, keep what is stored
                raise CacheWriteError(
                    f"cannot store a completion in the cache {cache.path} ({exc}); every completion stored "
                    "before is kept: free disk space (or fix the directory) and rerun the same command"
                ) from exc
            if self._left.pop(completion.key, None) is None:
                return  # answered twice (or after a stall ended the run): stored, counted once
            tally.tokens += completion.output_tokens
            tally.errors += completion.finish_reason == "error"
            progress.update(tokens=completion.output_tokens, error=completion.finish_reason == "error")
            self.watchdog.touch()

        if hasattr(self.engine, "on_progress"):  # engines that see tokens before a request ends
            self.engine.on_progress = self.watchdog.touch  # type: ignore[attr-defined]
        try:
            self._generate_claimed(cache, on_completion, progress)
        except BaseException as exc:  # the engine died: every waiting test must learn it
            log.exception("generation failed")
            self._end(cache, f"{type(exc).__name__}: {exc}")
        else:
            self._end(cache, None)
        finally:
            progress.close()
            cache.close()
            # Nothing generates after this: free the engine's memory and processes now, while the
            # tests verify, rather than after the summary (vLLM takes seconds to shut down).
            try:
                self.engine.close()
            except Exception:
                log.warning("engine close failed", exc_info=True)

    def _generate_claimed(
        self, cache: CompletionCache, on_completion: Callable[[Completion], None], progress: Progress
    ) -> None:
        """Generate the keys this run claims; take the ones other runs claimed from the cache as they land."""
        tally = self._tally
        while self._left and not self._ended.is_set():
            mine = cache.claim(list(self._left), owner=self.run_id, lease_s=self.deadlines.lease_s)
            if mine:
                if tally.loaded is None:
                    self.watchdog.phase("load")  # bounded by --load-timeout from here, preloading or not
                    tally.load_seconds = self._loaded()
                    tally.loaded = time.perf_counter()
                    progress.engine_ready(tally.load_seconds)
                self.watchdog.phase("generate")
                batch = [self._left[k] for k in mine if k in self._left]
                tally.generated += len(batch)
                self.engine.generate(batch, on_completion)
                for req in batch:
                    if req.key in self._left:
                        on_completion(Completion(req.key, "", "error", error=f"engine {self.engine.name} returned without answering"))
                continue
            # Everything left is being generated by another run on this cache: wait for it. Its
            # own watchdog bounds its stalls; if it dies, its lease expires and the keys are ours.
            self.watchdog.phase("wait")
            found = cache.get_many(list(self._left))
            for key in found:
                if self._left.pop(key, None) is not None:
                    tally.shared += 1
                    progress.update(tokens=0)
            if not found:
                time.sleep(min(1.0, self.deadlines.beat_s))

    def _end(self, cache: CompletionCache, failure: str | None) -> bool:
        """Record how generation ended, once (the generation thread and the watchdog may race)."""
        with self._end_lock:
            if self._ended.is_set():
                return False
            if failure is not None:
                self.failure = failure
            try:
                if failure is None:
                    cache.set_state(self.run_id, "done")
                else:
                    cache.fail_unless_ended(self.run_id, failure)
            except Exception:  # a full disk: waiting tests learn it from the silence (--stall-timeout)
                log.exception("could not record the end of generation in the cache")
            t = self._tally
            end = time.perf_counter()
            self.stats = GenerationStats(
                # Requests the engine answered (with a completion or an error); a stall leaves some unanswered.
                t.planned, t.cached + t.shared, t.generated - len(self._left), t.tokens, end - (t.loaded or end), t.errors,
                load_seconds=t.load_seconds, truncated_prompts=self.truncated_prompts,
            )
            self._finish(cache)
            return True

    def _stalled(self, reason: str) -> None:
        """The watchdog's verdict: end the run although the generation thread is still blocked."""
        # ``self.cache`` opens a connection of this thread's own; it is closed right after.
        try:
            self._end(self.cache, reason)
        finally:
            self.cache.close()

    def _finish(self, cache: CompletionCache | None = None) -> None:
        self.watchdog.stop()
        try:
            (cache or self.cache).release(self.run_id)
        except Exception:  # expired leases free them anyway
            log.warning("releasing claims failed", exc_info=True)
        self._ended.set()

    def describe_left(self) -> str:
        """``N of M requests left, e.g. items a, b (...)`` for error messages."""
        left = list(self._left.values())
        items = list(dict.fromkeys(r.item_nodeid for r in left))
        shown = ", ".join(items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")
        return (
            f"{len(left)} of {self._tally.missing} requests left "
            f"({len(items)} items: {shown}); finished completions are in the cache, rerun to generate only the rest"
        )

    def resolved_schedule(self) -> str:
        """``stream`` or ``after``; ``auto`` holds tests when the engine computes on this machine's CPUs."""
        if self.schedule in ("stream", "after"):
            return self.schedule
        return "after" if self.engine.computes_on_cpu() else "stream"

    @property
    def started(self) -> bool:
        """Whether ``start`` ran (generation finished, or is running in the background)."""
        return self.stats is not None or self._thread is not None

    def join(self, timeout: float | None = None) -> bool:
        """Wait until generation ended (finished, failed or stalled); whether it did."""
        if not self.started:
            return True
        return self._ended.wait(timeout)


@dataclass
class _Tally:
    """Counts of the generation thread, read when the run ends (by that thread or the watchdog)."""

    planned: int = 0
    cached: int = 0
    missing: int = 0
    generated: int = 0
    shared: int = 0
    tokens: int = 0
    errors: int = 0
    loaded: float | None = None
    load_seconds: float = 0.0


def wait_for_item(
    cache: CompletionCache,
    run_id: str,
    item_nodeid: str,
    *,
    stall_timeout_s: float = Deadlines.stall_s,
    poll_s: float = 0.05,
    max_poll_s: float = 0.25,
) -> list[Completion]:
    """Block until every sample of ``item_nodeid`` has a completion, the run failed, or its leader went silent.

    The leader beats every few seconds while it lives (``evalsuite.watchdog``); a leader silent
    for ``stall_timeout_s`` (its process was killed, or hangs outside the engine), or a run whose
    state never appears within it, ends the wait with an error rather than never.

    Raises:
        GenerationFailed: the leader failed, went silent, or a sample's request failed.
    """
    keys: list[str] = []
    delay = poll_s
    waiting_since = time.time()
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
        now = time.time()
        if state is None and now - waiting_since > stall_timeout_s:
            raise GenerationFailed(
                f"no generation leader started run {run_id} within {stall_timeout_s:g}s (--stall-timeout); "
                "the process that leads generation (xdist controller or lone pytest) did not start or died"
            )
        if state is not None and now - max(state.updated, waiting_since) > stall_timeout_s:
            raise GenerationFailed(
                f"the generation leader of run {run_id} went silent {now - state.updated:.0f}s ago "
                f"(--stall-timeout {stall_timeout_s:g}): its process died or hangs; completions it stored "
                "are in the cache, rerun the same command to generate only the rest"
            )
        time.sleep(delay)
        delay = min(delay * 1.5, max_poll_s)
