"""The load generator: a streaming HTTP client and the two ways of pacing it.

Closed loop (``--parallel N``): N workers share one queue of requests; each sends its next request
the moment its previous one ends, so exactly N are in flight: warm-up requests lead into the
measured ones without a pause, and filler requests follow them until the last measured one ends. Open loop
(``--rate R``): requests start at seeded Poisson arrival times whatever the server's state, so
queueing at the server shows up as latency instead of slowing the client down.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from evalsuite.perf.stats import RequestRecord
from evalsuite.types import Message

_ERROR_TEXT_LIMIT = 200
MAX_FILLERS_PER_SLOT = 1000
"""Bound on the filler requests of a closed loop, per slot (they stop when the measured ones end)."""


@dataclass(frozen=True)
class Prompt:
    """One prompt, in both forms the two endpoints take."""

    text: str
    """The raw prompt (``/v1/completions``)."""
    messages: tuple[Message, ...]
    """The chat messages (``/v1/chat/completions``)."""


@dataclass(frozen=True)
class Target:
    """Where requests go and what every request body holds besides its prompt."""

    base_url: str
    """``http://host:port`` without ``/v1``."""
    api_mode: str
    """``completion`` or ``chat``."""
    body: Mapping[str, Any]
    """Model, sampling and streaming fields of every request."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """HTTP headers of every request (the API key)."""

    @property
    def path(self) -> str:
        """The endpoint's path."""
        return "/v1/chat/completions" if self.api_mode == "chat" else "/v1/completions"

    def request_body(self, prompt: Prompt, **overrides: Any) -> dict[str, Any]:
        """The JSON body for ``prompt``."""
        body = {**self.body, **overrides}
        if self.api_mode == "chat":
            body["messages"] = [{"role": m.role, "content": m.content} for m in prompt.messages]
        else:
            body["prompt"] = prompt.text
        return body


Send = Callable[[Prompt, float, float, list[RequestRecord]], Awaitable[None]]
"""``send(prompt, origin, until, sink)``: one request timed against ``origin`` (a ``perf_counter``),
cut at ``until``; its record goes to ``sink``, even when the request is cancelled half-way."""


class ServerError(Exception):
    """The server refused a request outright (a length probe); the message has its status and reply."""


class StreamingClient:
    """Sends streamed requests to one ``Target`` and records when each text chunk arrived.

    aiohttp rather than httpx: at 128 connections httpx's pool spent about twice the CPU per
    streamed chunk (it rescans every pooled connection on each request and response), and that
    CPU is taken from the server when both share a machine.

    Args:
        target: Where to send.
        connections: Most TCP connections at once; a closed loop needs one per request in flight.
        timeout_s: Longest silence tolerated on a connection.
    """

    def __init__(self, target: Target, *, connections: int, timeout_s: float) -> None:
        self.target = target
        self._url = target.base_url + target.path
        self._connections = connections
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout_s, sock_read=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> StreamingClient:
        connector = aiohttp.TCPConnector(limit=self._connections, limit_per_host=self._connections)
        self._session = aiohttp.ClientSession(
            connector=connector, headers=dict(self.target.headers), timeout=self._timeout
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("use StreamingClient as an async context manager")
        return self._session

    async def send(self, prompt: Prompt, origin: float, until: float, sink: list[RequestRecord]) -> None:
        """Send ``prompt`` and append its record to ``sink``; a failure is a record with an error, never an exception.

        A cancelled request still leaves its record (the chunks that had arrived), then re-raises.
        """
        start = time.perf_counter()
        state = _Stream()
        try:
            await asyncio.wait_for(self._stream(prompt, origin, state), timeout=max(0.0, until - start))
        except asyncio.CancelledError:
            state.error = "cancelled"
            sink.append(state.record(start - origin, time.perf_counter() - origin))
            raise
        except asyncio.TimeoutError:
            state.error = "not finished before the level's deadline (--timeout-s)"
        except aiohttp.ClientError as exc:
            state.error = f"{type(exc).__name__}: {exc or 'connection failed'}"
        except Exception as exc:  # a malformed stream (not JSON, not objects) fails this request, not the run
            state.error = f"malformed stream: {type(exc).__name__}: {exc}"
        if state.error is None and state.finish_reason is None:
            state.error = "the stream ended before a finish_reason (connection dropped?)"
        sink.append(state.record(start - origin, time.perf_counter() - origin))

    async def _stream(self, prompt: Prompt, origin: float, state: _Stream) -> None:
        async with self.session.post(self._url, json=self.target.request_body(prompt)) as response:
            if response.status != 200:
                text = await response.text(errors="replace")
                state.error = f"HTTP {response.status}: {text[:_ERROR_TEXT_LIMIT]}"
                return
            async for line in response.content:  # read to the end so the connection is reused
                if line.startswith(b"data:") and (payload := line[5:].strip()) != b"[DONE]":
                    state.add(json.loads(payload), time.perf_counter() - origin)

    async def prompt_tokens(self, prompt: Prompt) -> int:
        """How many tokens the server counts in ``prompt`` (one request for one token; 0 without usage)."""
        body = self.target.request_body(prompt, max_tokens=1, stream=False)
        body.pop("stream_options", None)
        async with self.session.post(self._url, json=body) as response:
            text = await response.text(errors="replace")
        if response.status != 200:
            raise ServerError(f"POST {self.target.path}: HTTP {response.status}: {text[:_ERROR_TEXT_LIMIT]}")
        return int((json.loads(text).get("usage") or {}).get("prompt_tokens") or 0)


class _Stream:
    """What the chunks of one response add up to."""

    def __init__(self) -> None:
        self.chunk_times: list[float] = []
        self.usage: dict[str, Any] = {}
        self.finish_reason: str | None = None
        self.error: str | None = None

    def add(self, chunk: dict[str, Any], at_s: float) -> None:
        if "error" in chunk:
            self.error = f"error in stream: {str(chunk['error'])[:_ERROR_TEXT_LIMIT]}"
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            # A chat stream opens with an empty role chunk: only chunks carrying text are tokens.
            if (
                choice.get("text")
                or delta.get("content")
                or delta.get("reasoning_content")
                or delta.get("reasoning")
            ):
                self.chunk_times.append(at_s)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]

    def record(self, start_s: float, end_s: float) -> RequestRecord:
        return RequestRecord(
            start_s=start_s,
            end_s=end_s,
            chunk_times_s=tuple(self.chunk_times),
            prompt_tokens=int(self.usage.get("prompt_tokens") or 0),
            output_tokens=int(self.usage.get("completion_tokens") or len(self.chunk_times)),
            error=self.error,
        )


@dataclass(frozen=True)
class LevelRecords:
    """What one level sent: the measured requests, and those that only kept the load up."""

    measured: list[RequestRecord]
    """The requests the level's figures come from."""
    background: list[RequestRecord]
    """Warm-up requests before them and filler requests after them: they count towards the in-flight
    figures and the throughputs over the measured requests' span, not towards the latencies."""


async def closed_loop(
    send: Send,
    prompts: Sequence[Prompt],
    *,
    parallel: int,
    requests: int,
    deadline_s: float,
    warmup: int = 0,
) -> LevelRecords:
    """Keep exactly ``parallel`` requests in flight until ``requests`` measured ones have ended.

    ``parallel`` workers take the next prompt (cycling through ``prompts``) the moment their last
    request ends. The first ``warmup`` requests are not measured: the measured ones follow them
    without a pause, into a server already at full load. Once every measured request is sent,
    workers go on sending fillers until the last measured one ends, so the measured requests see
    ``parallel`` in flight from first to last; fillers still in flight then are cancelled.
    Measured requests not sent before ``deadline_s`` are left out; those in flight then end as errors.
    """
    origin = time.perf_counter()
    until = origin + deadline_s
    measured: list[RequestRecord] = []
    background: list[RequestRecord] = []
    all_measured = asyncio.Event()
    counter = iter(range(warmup + MAX_FILLERS_PER_SLOT * parallel + requests))

    async def worker() -> None:
        for i in counter:
            if time.perf_counter() >= until or all_measured.is_set():
                return
            is_measured = warmup <= i < warmup + requests
            await send(prompts[i % len(prompts)], origin, until, measured if is_measured else background)
            if len(measured) == requests:
                all_measured.set()

    workers = [asyncio.ensure_future(worker()) for _ in range(parallel)]
    everyone = asyncio.gather(*workers)
    finished = asyncio.ensure_future(all_measured.wait())
    await asyncio.wait([finished, everyone], return_when=asyncio.FIRST_COMPLETED)
    for task in (*workers, finished):
        task.cancel()
    await asyncio.gather(everyone, finished, return_exceptions=True)
    return LevelRecords(measured, background)


def poisson_offsets(rate: float, count: int, seed: int) -> list[float]:
    """Send times (seconds from the start) of ``count`` Poisson arrivals at ``rate`` per second; the first at 0."""
    rng = random.Random(seed)
    offsets, now = [], 0.0
    for _ in range(count):
        offsets.append(now)
        now += rng.expovariate(rate)
    return offsets


async def open_loop(
    send: Send, prompts: Sequence[Prompt], *, rate: float, requests: int, seed: int, deadline_s: float
) -> LevelRecords:
    """Send ``requests`` prompts at seeded Poisson arrival times, not waiting for any to finish."""
    origin = time.perf_counter()
    until = origin + deadline_s
    records: list[RequestRecord] = []
    tasks: list[asyncio.Task[None]] = []
    for i, offset in enumerate(poisson_offsets(rate, requests, seed)):
        if offset >= deadline_s:
            break
        delay = origin + offset - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(send(prompts[i % len(prompts)], origin, until, records)))
    await asyncio.gather(*tasks)
    return LevelRecords(records, [])
