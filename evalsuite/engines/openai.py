"""The ``openai`` engine: any OpenAI-compatible HTTP server (vLLM, SGLang, TGI, llama.cpp, OpenAI).

All requests of a plan are submitted at once and bounded by a semaphore (``--max-concurrency``),
so a batching server sees as many sequences as the user allows. Responses are streamed to measure
time to first token. Every request ends as a completion or as an error completion, never as an
exception and never as a silent wrong answer: a reply is accepted only when complete
(``openai_wire``), retryable failures (connection refused or reset, 429, 5xx, timeouts, cut or
garbled replies) are retried at most ``max_retries`` times with exponential backoff and jitter
(honouring ``Retry-After``), and each attempt has a total deadline besides the silence timeout.
A refused connection when no endpoint is reachable (a server restarting) is waited out for up to
``wait_for_server_s``, as at start-up, before refusals count as failed attempts.

``--api-url`` may name several endpoints serving the same model (comma-separated): each attempt
goes to the endpoint with the fewest requests outstanding, and a failing endpoint is taken out for
a cool-down while its in-flight requests move to the others (``openai_pool``).

Start-up polls every endpoint's ``GET /v1/models`` for up to ``wait_for_server_s`` until the model
is listed, with a progress line now and then (``openai_models``); no endpoint ready by then is a
configuration error raised when the engine is created. Endpoints not ready by then start out taken
out and are tried after their cool-down.

Prompts: in ``chat`` mode the server applies its own chat template, so ``render`` returns the
canonical JSON of the messages (what the cache keys on). In ``completion`` mode the server gets
``Request.prompt`` verbatim; the plugin renders it with a local tokenizer's chat template when
``--model`` is also given, and otherwise with ``render`` here, a plain ChatML rendering.

Options (``EngineConfig.options``): see ``HttpOptions`` (``wait_for_server_s``,
``connect_timeout_s``, ``read_timeout_s``, ``request_timeout_s``, ``max_retries``,
``backoff_base_s``, ``max_retry_delay_s``, ``cooldown_s``, ``stream``, ``extra_body``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from evalsuite.engines.base import (
    API_MODES,
    Engine,
    EngineConfig,
    EngineConfigError,
    EngineError,
    messages_json,
    register_engine,
)
from evalsuite.engines.openai_models import wait_for_models
from evalsuite.engines.openai_options import HttpOptions, backoff_s, endpoint_urls
from evalsuite.engines.openai_pool import EndpointPool, EndpointStats
from evalsuite.engines.openai_wire import (
    FatalError,
    RetryableError,
    StreamState,
    raise_for_status,
    request_body,
    sse_chunks,
    transport_error,
    whole_completion,
)
from evalsuite.types import Completion, Message, Request


def _stderr_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class OpenAIEngine:
    """Client of one or more OpenAI-compatible endpoints; see the module docstring.

    Args:
        config: The engine configuration (``api_url``: one URL or several, comma-separated).
        progress: Receives one line at a time while start-up waits for a server (default: stderr).
    """

    name = "openai"
    on_progress: Callable[[], None] | None = None
    """Called as tokens stream in (the leader's watchdog: a long stream is progress, not a stall)."""

    def __init__(self, config: EngineConfig, *, progress: Callable[[str], None] = _stderr_line) -> None:
        if config.api_mode not in API_MODES:
            raise EngineConfigError(f"--api-mode {config.api_mode}: expected 'chat' or 'completion'")
        if config.max_concurrency < 1:
            raise EngineConfigError(f"--max-concurrency {config.max_concurrency}: must be at least 1")
        if config.adapters:
            raise EngineConfigError(
                "--adapter cannot be loaded through --api-url; serve it with the server "
                "(vLLM: --enable-lora --lora-modules NAME=PATH) and pass --model-name NAME"
            )
        if not config.api_url:
            raise EngineConfigError(
                "--api-url is required for the openai engine (e.g. http://127.0.0.1:8000/v1)"
            )
        self.config = config
        self.options = HttpOptions.from_options(config.options)
        self.urls = endpoint_urls(config.api_url)
        self.base_url = self.urls[0]
        self._progress = progress
        self._api_key = config.api_key or os.environ.get("OPENAI_API_KEY") or None
        self.pool = EndpointPool(self.urls, cooldown_s=self.options.cooldown_s)
        cards = wait_for_models(
            self.urls,
            api_url=str(config.api_url),
            model_name=config.model_name,
            options=self.options,
            client=httpx.Client(
                timeout=max(1.0, min(self.options.connect_timeout_s, self.options.wait_for_server_s)),
                headers=self._headers(),
            ),
            progress=progress,
            redact=self._redact,
        )
        for endpoint in self.pool.endpoints:
            if endpoint.url not in cards:
                self.pool.take_out(endpoint)
        self._card = next(iter(cards.values()))
        self.model_name: str = config.model_name or self._card["id"]

    # -- start-up -------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    @property
    def card(self) -> Mapping[str, Any]:
        """The server's ``/v1/models`` entry for the model (``owned_by`` names vLLM, SGLang...)."""
        return dict(self._card)

    # -- Engine protocol ------------------------------------------------------------------------

    def computes_on_cpu(self) -> bool:
        return False  # the server's compute is not ours to share (pass --verify-schedule after for a local CPU server)

    @property
    def templates_on_server(self) -> bool:
        """Chat mode: the server applies the chat template, so a rendered prompt cannot be extended."""
        return self.config.api_mode == "chat"

    def context_length(self) -> int | None:
        """The ``max_model_len`` the server lists for the model (vLLM does), else None."""
        value = self._card.get("max_model_len")
        return int(value) if isinstance(value, int) else None

    def count_tokens(self, prompt: str) -> None:
        """The server counts: a request without ``max_tokens`` may generate up to its context."""
        return None

    def load(self) -> None:
        """Nothing to load: the constructor already waited for the server to answer."""

    def adapter_identity(self, name: str) -> str:
        raise EngineConfigError(f"adapter {name!r}: the openai engine loads no adapters (the server serves them)")

    def fingerprint(self) -> str:
        """Hash of the endpoint URL(s), the model name and the server's ``root``/``parent``/``max_model_len``.

        ``created`` is left out on purpose: vLLM stamps it with the time of each ``/v1/models``
        query, which would change the fingerprint (and miss the cache) on every run. The API key
        never enters it.
        """
        identity = {
            "url": self.base_url if len(self.urls) == 1 else sorted(self.urls),
            "model": self.model_name,
            "mode": self.config.api_mode,
            **{
                k: self._card.get(k)
                for k in ("root", "parent", "max_model_len")
                if self._card.get(k) is not None
            },
        }
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]

    def render(self, messages: Sequence[Message]) -> str:
        """Chat mode: canonical messages JSON (the server templates). Completion mode: ChatML."""
        return messages_json(messages) if self.config.api_mode == "chat" else chatml(messages)

    def endpoint_stats(self) -> tuple[EndpointStats, ...]:
        """Per-endpoint completions, failures, moves, tokens and busy time so far, in ``--api-url`` order."""
        return self.pool.stats()

    def generate(
        self,
        requests: Sequence[Request],
        on_completion: Callable[[Completion], None],
        *,
        deadline_s: float | None = None,
    ) -> None:
        """Blocking form of ``agenerate``, for a thread without a running event loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise EngineError(
                "OpenAIEngine.generate blocks; call it from a thread without a running event loop "
                "(or await agenerate)"
            )
        asyncio.run(self.agenerate(requests, on_completion, deadline_s=deadline_s))

    def close(self) -> None:
        """Nothing to release: each ``generate`` call owns its HTTP client."""

    # -- the async core -------------------------------------------------------------------------

    async def agenerate(
        self,
        requests: Sequence[Request],
        on_completion: Callable[[Completion], None],
        *,
        deadline_s: float | None = None,
    ) -> None:
        """Send every request (at most ``max_concurrency`` in flight); ``on_completion`` as each finishes.

        ``on_completion`` runs in the event loop's thread, one call at a time; an exception from
        it cancels the remaining requests and propagates. ``deadline_s`` (seconds from now) turns
        requests still unfinished by then into error completions.
        """
        semaphore = asyncio.Semaphore(self.config.max_concurrency)
        limits = httpx.Limits(max_connections=self.config.max_concurrency, max_keepalive_connections=None)
        o = self.options
        timeout = httpx.Timeout(o.read_timeout_s, connect=o.connect_timeout_s)
        async with httpx.AsyncClient(headers=self._headers(), limits=limits, timeout=timeout) as client:
            # Finished tasks queue up; waiting on the queue costs O(1) per completion where
            # asyncio.wait over all pending tasks would cost O(plan size) each time.
            finished: asyncio.Queue[asyncio.Task[Completion]] = asyncio.Queue()
            tasks: dict[asyncio.Task[Completion], Request] = {}
            for request in requests:
                task = asyncio.ensure_future(self._one(client, semaphore, request))
                task.add_done_callback(finished.put_nowait)
                tasks[task] = request
            delivered: set[asyncio.Task[Completion]] = set()
            end = None if deadline_s is None else time.monotonic() + deadline_s
            try:
                while len(delivered) < len(tasks):
                    left = None if end is None else max(0.0, end - time.monotonic())
                    try:
                        task = await asyncio.wait_for(finished.get(), timeout=left)
                    except asyncio.TimeoutError:
                        break
                    delivered.add(task)
                    on_completion(task.result())
                for task, request in tasks.items():  # only left over when the deadline passed
                    if task in delivered:
                        continue
                    if task.done() and not task.cancelled():
                        on_completion(task.result())
                    else:
                        task.cancel()
                        on_completion(_error(request, f"not finished within the {deadline_s:g} s deadline"))
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _one(
        self, client: httpx.AsyncClient, semaphore: asyncio.Semaphore, request: Request
    ) -> Completion:
        """One request to its end: attempts over the endpoints, bounded retries, never an exception."""
        o = self.options
        max_moves = len(self.urls) * (o.max_retries + 1)
        async with semaphore:
            retries = moves = refusals = 0
            away_since: float | None = None
            while True:
                endpoint = self.pool.pick()
                attempt = asyncio.ensure_future(self._attempt(client, endpoint.url, request))
                self.pool.begin(endpoint, attempt)
                try:
                    await asyncio.wait({attempt})
                finally:
                    if not attempt.done():  # we are being cancelled ourselves
                        attempt.cancel()
                    moved = self.pool.end(endpoint, attempt)
                if attempt.cancelled():
                    if moved and moves < max_moves:
                        moves += 1
                        continue
                    return _error(
                        request, f"moved between failing endpoints {moves} times; last: {endpoint.url}"
                    )
                exc = attempt.exception()
                if exc is None:
                    completion = attempt.result()
                    self.pool.succeeded(endpoint, completion)
                    return completion
                if not isinstance(exc, RetryableError):
                    self.pool.failed(endpoint, endpoint_fault=False, refused=False)
                    detail = str(exc) if isinstance(exc, FatalError) else f"{type(exc).__name__}: {exc}"
                    return _error(request, self._redact(f"{endpoint.url}: {detail}"))
                self.pool.failed(endpoint, endpoint_fault=exc.endpoint_fault, refused=exc.refused)
                if exc.refused:
                    if moves < max_moves and self.pool.others_usable(endpoint):
                        moves += 1  # it never reached the server: go elsewhere at once, at no retry's cost
                        continue
                    # Every endpoint is away (restarting?): wait for one as start-up does, up to
                    # wait_for_server_s, before refusals start to use up retries.
                    away_since = time.monotonic() if away_since is None else away_since
                    if time.monotonic() - away_since < o.wait_for_server_s:
                        refusals += 1
                        await asyncio.sleep(backoff_s(refusals, o))
                        continue
                else:
                    away_since = None
                if retries >= o.max_retries:
                    return _error(
                        request,
                        self._redact(f"failed after {retries + 1} attempts; last at {endpoint.url}: {exc}"),
                    )
                retries += 1
                await asyncio.sleep(backoff_s(retries, o, exc.retry_after_s))

    async def _attempt(self, client: httpx.AsyncClient, url: str, request: Request) -> Completion:
        """One HTTP exchange within ``request_timeout_s``; failures as ``RetryableError``/``FatalError``."""
        path, body = request_body(
            request,
            model=self.model_name,
            api_mode=self.config.api_mode,
            stream=self.options.stream,
            extra_body=self.options.extra_body,
        )
        try:
            return await asyncio.wait_for(
                self._exchange(client, url, path, body, request), timeout=self.options.request_timeout_s
            )
        except asyncio.TimeoutError:
            raise RetryableError(
                f"POST {path}: no complete reply within the {self.options.request_timeout_s:g} s "
                "request timeout (request_timeout_s)"
            ) from None
        except httpx.TimeoutException as exc:
            raise RetryableError(
                f"POST {path}: {type(exc).__name__}: no data for {self.options.read_timeout_s:g} s "
                "(read_timeout_s) or no connection within connect_timeout_s"
            ) from None
        except httpx.HTTPError as exc:
            raise transport_error(exc, path) from None

    async def _exchange(
        self, client: httpx.AsyncClient, url: str, path: str, body: dict[str, Any], request: Request
    ) -> Completion:
        start = time.perf_counter()
        async with client.stream("POST", url + path, json=body) as response:
            if response.status_code != 200:
                await response.aread()
                raise_for_status(response, path)
            if not self.options.stream:
                await response.aread()
                return whole_completion(request, path, response.text, start)
            acc = StreamState()
            async for chunk in sse_chunks(response, path):
                acc.add(chunk, time.perf_counter() - start)
                if self.on_progress is not None:
                    self.on_progress()  # tokens are arriving: a long stream is no stall
        return acc.completion(request, path, time.perf_counter() - start)

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


def chatml(messages: Sequence[Message]) -> str:
    """A plain ChatML rendering ending with the assistant's turn opener."""
    turns = "".join(f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in messages)
    return turns + "<|im_start|>assistant\n"


def _error(request: Request, message: str) -> Completion:
    return Completion(key=request.key, text="", finish_reason="error", error=message)


@register_engine("openai")
def create_openai_engine(config: EngineConfig) -> Engine:
    """The ``openai`` engine; raises ``EngineConfigError`` at once when no endpoint is ready in time."""
    return OpenAIEngine(config)
