"""The load generator: a streaming HTTP client and the two ways of pacing it.

Closed loop (``--parallel N``): N workers share one queue of requests; each sends its next request
the moment its previous one ends, so exactly N are in flight until fewer than N are left. Open loop
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

import httpx

from evalsuite.perf.stats import RequestRecord
from evalsuite.types import Message

_ERROR_TEXT_LIMIT = 200


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


Send = Callable[[Prompt, float, float], Awaitable[RequestRecord]]
"""``send(prompt, origin, until)``: one request timed against ``origin`` (a ``perf_counter``), cut at ``until``."""


class StreamingClient:
    """Sends streamed requests to one ``Target`` and records when each text chunk arrived.

    Args:
        target: Where to send.
        connections: Most TCP connections at once; a closed loop needs one per request in flight.
        timeout_s: Longest silence tolerated on a connection.
    """

    def __init__(self, target: Target, *, connections: int, timeout_s: float) -> None:
        self.target = target
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self._client = httpx.AsyncClient(
            base_url=target.base_url,
            headers=dict(target.headers),
            limits=limits,
            timeout=httpx.Timeout(timeout_s),
        )

    async def __aenter__(self) -> StreamingClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def send(self, prompt: Prompt, origin: float, until: float) -> RequestRecord:
        """Send ``prompt``; a failure (or passing ``until``) becomes a record with an error, never an exception."""
        start = time.perf_counter()
        state = _Stream()
        try:
            await asyncio.wait_for(self._stream(prompt, origin, state), timeout=max(0.0, until - start))
        except asyncio.TimeoutError:
            state.error = "not finished before the level's deadline (--timeout-s)"
        except httpx.HTTPError as exc:
            state.error = f"{type(exc).__name__}: {exc or 'connection failed'}"
        except ValueError as exc:  # a chunk that is not JSON
            state.error = f"malformed stream: {exc}"
        if state.error is None and state.finish_reason is None:
            state.error = "the stream ended before a finish_reason (connection dropped?)"
        return RequestRecord(
            start_s=start - origin,
            end_s=time.perf_counter() - origin,
            chunk_times_s=tuple(state.chunk_times),
            prompt_tokens=int(state.usage.get("prompt_tokens") or 0),
            output_tokens=int(state.usage.get("completion_tokens") or len(state.chunk_times)),
            error=state.error,
        )

    async def _stream(self, prompt: Prompt, origin: float, state: _Stream) -> None:
        body = self.target.request_body(prompt)
        async with self._client.stream("POST", self.target.path, json=body) as response:
            if response.status_code != 200:
                text = (await response.aread()).decode(errors="replace")
                state.error = f"HTTP {response.status_code}: {text[:_ERROR_TEXT_LIMIT]}"
                return
            async for line in response.aiter_lines():  # read to the end so the connection is reused
                if line.startswith("data:") and (payload := line[5:].strip()) != "[DONE]":
                    state.add(json.loads(payload), time.perf_counter() - origin)

    async def prompt_tokens(self, prompt: Prompt) -> int:
        """How many tokens the server counts in ``prompt`` (one request for one token; 0 without usage)."""
        body = self.target.request_body(prompt, max_tokens=1, stream=False)
        body.pop("stream_options", None)
        response = await self._client.post(self.target.path, json=body)
        if response.status_code != 200:
            raise httpx.HTTPStatusError(
                f"HTTP {response.status_code}: {response.text[:_ERROR_TEXT_LIMIT]}",
                request=response.request,
                response=response,
            )
        return int((response.json().get("usage") or {}).get("prompt_tokens") or 0)


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


async def closed_loop(
    send: Send, prompts: Sequence[Prompt], *, parallel: int, requests: int, deadline_s: float
) -> list[RequestRecord]:
    """Send ``requests`` prompts (cycling through ``prompts``) with exactly ``parallel`` in flight.

    Requests not sent before ``deadline_s`` are left out; those in flight then end as errors.
    """
    origin = time.perf_counter()
    until = origin + deadline_s
    indices = iter(range(requests))  # shared: the next free worker takes the next index
    records: list[RequestRecord] = []

    async def worker() -> None:
        for i in indices:
            if time.perf_counter() >= until:
                return
            records.append(await send(prompts[i % len(prompts)], origin, until))

    await asyncio.gather(*(worker() for _ in range(min(parallel, requests))))
    return records


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
) -> list[RequestRecord]:
    """Send ``requests`` prompts at seeded Poisson arrival times, not waiting for any to finish."""
    origin = time.perf_counter()
    until = origin + deadline_s
    tasks: list[asyncio.Task[RequestRecord]] = []
    for i, offset in enumerate(poisson_offsets(rate, requests, seed)):
        if offset >= deadline_s:
            break
        delay = origin + offset - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(send(prompts[i % len(prompts)], origin, until)))
    return list(await asyncio.gather(*tasks))
