"""Several endpoints serving one model: least-outstanding choice, cool-down of failing ones, statistics.

The pool lives in one event loop and is never shared between threads. Each attempt of a request
takes the usable endpoint with the fewest requests outstanding. An endpoint whose connection is
refused, or that fails ``failures_to_take_out`` attempts in a row (resets, 5xx, timeouts), is taken
out for ``cooldown_s``: its in-flight attempts are cancelled and moved to the other endpoints when
one is usable. After the cool-down it is probed with one request at a time until one succeeds.
When no endpoint is usable the one due back first is tried, so a lone endpoint is never skipped
(the caller's retry budget and backoff bound the attempts).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from evalsuite.types import Completion


@dataclass(frozen=True)
class EndpointStats:
    """What one endpoint did during a run (``OpenAIEngine.endpoint_stats``)."""

    url: str
    """Base URL of the endpoint (without ``/v1``)."""
    completed: int
    """Requests it answered with a completion."""
    failed_attempts: int
    """Attempts that failed on it (each then retried or reported as an error)."""
    moved: int
    """In-flight requests cancelled on it and moved to another endpoint when it was taken out."""
    taken_out: int
    """Times it was taken out for a cool-down."""
    output_tokens: int
    """Tokens it generated in completed requests."""
    busy_s: float
    """Seconds during which it had at least one request outstanding."""

    @property
    def output_tokens_per_s(self) -> float:
        """Generated tokens per busy second (0 when it never worked)."""
        return self.output_tokens / self.busy_s if self.busy_s > 0 else 0.0


class Endpoint:
    """Mutable state of one endpoint inside the pool."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.outstanding = 0
        self.down_until = 0.0
        self.probing = False
        self.consecutive_failures = 0
        self.attempts: set[asyncio.Task[Completion]] = set()
        self.moved_tasks: set[asyncio.Task[Completion]] = set()
        self.completed = 0
        self.failed_attempts = 0
        self.moved = 0
        self.taken_out = 0
        self.output_tokens = 0
        self.busy_s = 0.0
        self._busy_since: float | None = None

    def usable(self, now: float) -> bool:
        """Up, or back from its cool-down and not already busy with its probe."""
        return now >= self.down_until and not (self.probing and self.outstanding > 0)

    def stats(self, now: float) -> EndpointStats:
        busy = self.busy_s + (now - self._busy_since if self._busy_since is not None else 0.0)
        return EndpointStats(
            url=self.url,
            completed=self.completed,
            failed_attempts=self.failed_attempts,
            moved=self.moved,
            taken_out=self.taken_out,
            output_tokens=self.output_tokens,
            busy_s=busy,
        )


class EndpointPool:
    """The endpoints of one engine; see the module docstring.

    Args:
        urls: Base URLs, each at most once.
        cooldown_s: How long an endpoint stays out after it failed.
        failures_to_take_out: Failed attempts in a row (other than a refused connection, which
            takes it out at once) after which an endpoint is taken out.
        clock: Monotonic seconds (tests pass a fake one).
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        cooldown_s: float,
        failures_to_take_out: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not urls:
            raise ValueError("an endpoint pool needs at least one URL")
        if len(set(urls)) != len(urls):
            raise ValueError(f"endpoint URLs repeat: {', '.join(urls)}")
        self.endpoints = [Endpoint(url) for url in urls]
        self.cooldown_s = cooldown_s
        self.failures_to_take_out = failures_to_take_out
        self._clock = clock

    def pick(self) -> Endpoint:
        """The usable endpoint with the fewest outstanding requests, else the one due back first."""
        now = self._clock()
        usable = [e for e in self.endpoints if e.usable(now)]
        if usable:
            return min(usable, key=lambda e: e.outstanding)
        return min(self.endpoints, key=lambda e: (e.down_until, e.outstanding))

    def others_usable(self, endpoint: Endpoint) -> bool:
        """Whether a request leaving ``endpoint`` has somewhere else to go now."""
        now = self._clock()
        return any(e is not endpoint and e.usable(now) for e in self.endpoints)

    def begin(self, endpoint: Endpoint, attempt: asyncio.Task[Completion]) -> None:
        """An attempt starts on ``endpoint``."""
        if endpoint.outstanding == 0:
            endpoint._busy_since = self._clock()
        endpoint.outstanding += 1
        endpoint.attempts.add(attempt)

    def end(self, endpoint: Endpoint, attempt: asyncio.Task[Completion]) -> bool:
        """An attempt left ``endpoint``; True when it was cancelled to be moved elsewhere."""
        endpoint.outstanding -= 1
        endpoint.attempts.discard(attempt)
        if endpoint.outstanding == 0 and endpoint._busy_since is not None:
            endpoint.busy_s += self._clock() - endpoint._busy_since
            endpoint._busy_since = None
        if attempt in endpoint.moved_tasks:
            endpoint.moved_tasks.discard(attempt)
            endpoint.moved += 1
            return True
        return False

    def succeeded(self, endpoint: Endpoint, completion: Completion) -> None:
        """An attempt on ``endpoint`` returned a completion."""
        endpoint.completed += 1
        endpoint.output_tokens += completion.output_tokens
        endpoint.consecutive_failures = 0
        endpoint.probing = False

    def failed(self, endpoint: Endpoint, *, endpoint_fault: bool, refused: bool) -> None:
        """An attempt on ``endpoint`` failed; takes the endpoint out when the failure says it is unwell."""
        endpoint.failed_attempts += 1
        if not endpoint_fault:
            return
        endpoint.consecutive_failures += 1
        if refused or endpoint.probing or endpoint.consecutive_failures >= self.failures_to_take_out:
            self.take_out(endpoint)

    def take_out(self, endpoint: Endpoint) -> None:
        """Out for ``cooldown_s``; its in-flight attempts move when another endpoint is usable."""
        now = self._clock()
        if now < endpoint.down_until:
            return  # already out (several in-flight attempts fail together when a server dies)
        endpoint.down_until = now + self.cooldown_s
        endpoint.probing = True
        endpoint.consecutive_failures = 0
        endpoint.taken_out += 1
        if self.others_usable(endpoint):
            for task in list(endpoint.attempts):
                if not task.done():
                    endpoint.moved_tasks.add(task)
                    task.cancel()

    def stats(self) -> tuple[EndpointStats, ...]:
        """A snapshot per endpoint, in the order given."""
        now = self._clock()
        return tuple(e.stats(now) for e in self.endpoints)
