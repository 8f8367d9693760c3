"""Bounds on generation: the leader's heartbeat, and the stall and start-up timeouts.

The leader's generation thread can block forever inside an engine (a wedged vLLM, a killed engine
core, a server that accepts and never answers). A watchdog thread beside it

- beats: writes the leader's heartbeat into the cache every ``beat_s`` seconds and renews the
  run's claims, so tests waiting in other processes tell a live leader from a dead one
  (``evalsuite.generation.wait_for_item`` gives up on a leader silent for the stall timeout);
- watches: when the engine made no progress (no completion stored, no token counted) for the
  stall timeout, or its start-up outlasts the load timeout, it ends the run with a message that
  names the engine and the requests left. The blocked thread is a daemon; the session ends
  without it, and every completion stored before stays in the cache.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Deadlines:
    """How long generation may go without progress before the run ends with errors."""

    stall_s: float = 300.0
    """Seconds the engine may go without a completion or token (``--stall-timeout``)."""
    load_s: float = 1800.0
    """Seconds the engine's start-up (weights, connection) may take (``--load-timeout``)."""

    @property
    def beat_s(self) -> float:
        """Seconds between two heartbeats: a quarter of the stall timeout, at most 5."""
        return min(5.0, self.stall_s / 4)

    @property
    def lease_s(self) -> float:
        """Seconds a claim outlives its claimer's last heartbeat (a killed run's keys free up after it)."""
        return 6 * self.beat_s


DEFAULT_DEADLINES = Deadlines()
"""The option table's defaults."""

PHASES = {"plan": None, "load": "load_s", "generate": "stall_s", "wait": None}
"""Which deadline each phase of the leader runs under (None: none of its own, see ``Watchdog.phase``)."""


class Watchdog:
    """Beats and watches for one run's leader; see the module docstring."""

    def __init__(
        self,
        cache_path: Path,
        run_id: str,
        deadlines: Deadlines,
        *,
        engine: str,
        left: Callable[[], str],
        on_stall: Callable[[str], None],
    ) -> None:
        self.cache_path = cache_path
        self.run_id = run_id
        self.deadlines = deadlines
        self.engine = engine
        self._left = left
        self._on_stall = on_stall
        self._phase = "plan"
        self._since = time.monotonic()
        self._last_progress = self._since
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="evalsuite-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def phase(self, name: str) -> None:
        """Enter a phase: ``plan`` (our own code), ``load`` (engine start-up, bounded by the load
        timeout), ``generate`` (bounded by the stall timeout), ``wait`` (for completions another
        run claimed: bounded by that run's own watchdog and lease)."""
        now = time.monotonic()
        self._phase, self._since, self._last_progress = name, now, now

    def touch(self) -> None:
        """Progress: a completion was stored or a token generated."""
        self._last_progress = time.monotonic()

    def stop(self) -> None:
        self._stop.set()

    def overdue(self) -> str | None:
        """Why the current phase is over its deadline; None while it is not."""
        now = time.monotonic()
        if self._phase == "load" and now - self._since > self.deadlines.load_s:
            return (
                f"engine {self.engine} did not finish starting within {self.deadlines.load_s:g}s "
                f"(--load-timeout); {self._left()}"
            )
        if self._phase == "generate" and now - self._last_progress > self.deadlines.stall_s:
            return (
                f"engine {self.engine} made no progress for {now - self._last_progress:.0f}s "
                f"(--stall-timeout {self.deadlines.stall_s:g}); {self._left()}"
            )
        return None

    def _run(self) -> None:
        from evalsuite.cache import CompletionCache

        cache = CompletionCache(self.cache_path)
        try:
            while not self._stop.wait(self.deadlines.beat_s):
                try:
                    cache.beat(self.run_id, lease_s=self.deadlines.lease_s)
                except Exception:  # a busy or full disk: waiting tests judge the silence
                    log.warning("heartbeat failed", exc_info=True)
                reason = self.overdue()
                if reason is not None:
                    log.error("%s", reason)
                    self._on_stall(reason)
                    return
        finally:
            cache.close()
