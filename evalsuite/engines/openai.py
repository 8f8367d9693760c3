"""The ``openai`` engine: any OpenAI-compatible HTTP server (vLLM, SGLang, TGI, llama.cpp, OpenAI).

All requests of a plan are submitted at once and bounded by a semaphore (``--max-concurrency``),
so a batching server sees as many sequences as the user allows. Responses are streamed to measure
time to first token. Transient failures (connection errors, 429, 5xx) are retried with exponential
backoff and jitter; a request that still fails becomes an error completion, never an exception.
A server that is unreachable at start-up is a configuration error raised when the engine is created.

Prompts: in ``chat`` mode the server applies its own chat template, so ``render`` returns the
canonical JSON of the messages (what the cache keys on). In ``completion`` mode the server gets
``Request.prompt`` verbatim; the plugin renders it with a local tokenizer's chat template when
``--model`` is also given, and otherwise with ``render`` here, a plain ChatML rendering.

Options (``EngineConfig.options``): ``connect_timeout_s`` (liveness wait, default 10),
``max_attempts`` (default 5), ``backoff_base_s`` (default 0.5), ``backoff_max_s`` (default 30),
``request_timeout_s`` (longest silence on a stream, default 600), ``stream`` (default True),
``extra_body`` (a dict merged into every request body, e.g. ``{"ignore_eos": True}`` for vLLM).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
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
from evalsuite.types import Completion, Message, Request

RETRYABLE_STATUS = frozenset({408, 429}) | frozenset(range(500, 600))
_ERROR_TEXT_LIMIT = 300


class _RetryableError(Exception):
    """A failure worth another attempt (connection lost, 429, 5xx)."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class _FatalError(Exception):
    """A failure that another attempt will not fix (4xx other than 429, malformed reply)."""


@dataclass(frozen=True)
class HttpOptions:
    """Transport settings of the HTTP engine, read from ``EngineConfig.options``."""

    connect_timeout_s: float = 10.0
    """How long to wait for the server to answer ``GET /v1/models`` at start-up."""
    max_attempts: int = 5
    """Tries per request (first attempt included) before it becomes an error completion."""
    backoff_base_s: float = 0.5
    """Wait before the second attempt; doubles with each further attempt (with ±50% jitter)."""
    backoff_max_s: float = 30.0
    """Cap on one wait between attempts (also caps a server's ``Retry-After``)."""
    request_timeout_s: float = 600.0
    """Longest silence tolerated while waiting for a response or the next streamed chunk."""
    stream: bool = True
    """Stream responses (needed for time to first token)."""
    extra_body: Mapping[str, Any] | None = None
    """Fields merged into every request body (server-specific sampling options)."""

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> HttpOptions:
        """Typed options, rejecting unknown numbers with a message naming the option."""
        kwargs: dict[str, Any] = {}
        for name in ("connect_timeout_s", "backoff_base_s", "backoff_max_s", "request_timeout_s"):
            if name in options:
                kwargs[name] = _positive(name, options[name], float)
        if "max_attempts" in options:
            kwargs["max_attempts"] = _positive("max_attempts", options["max_attempts"], int)
        if "stream" in options:
            kwargs["stream"] = str(options["stream"]).lower() not in ("0", "false", "no", "off")
        if options.get("extra_body") is not None:
            extra = options["extra_body"]
            if isinstance(extra, str):
                extra = json.loads(extra)
            if not isinstance(extra, Mapping):
                raise EngineConfigError(
                    "option extra_body must be a JSON object, e.g. '{\"ignore_eos\": true}'"
                )
            kwargs["extra_body"] = dict(extra)
        return cls(**kwargs)


def _positive(name: str, value: Any, kind: type) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise EngineConfigError(f"option {name}={value!r}: expected a {kind.__name__}") from None
    if number < 0 or (kind is int and number < 1):
        raise EngineConfigError(f"option {name}={value!r}: must be positive")
    return number


def normalise_base_url(url: str) -> str:
    """``http://host:port`` from ``http://host:port/v1/`` and friends (the ``/v1`` is added per call)."""
    base = url.strip().rstrip("/")
    if base.endswith("/v1"):
        base = base[: -len("/v1")]
    parsed = httpx.URL(base)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise EngineConfigError(f"--api-url {url}: expected an http(s) URL such as http://127.0.0.1:8000/v1")
    return base


def chatml(messages: Sequence[Message]) -> str:
    """A plain ChatML rendering ending with the assistant's turn opener."""
    turns = "".join(f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in messages)
    return turns + "<|im_start|>assistant\n"


def backoff_s(attempt: int, options: HttpOptions, retry_after_s: float | None = None) -> float:
    """Wait before attempt ``attempt + 1``: exponential with ±50% jitter, capped; honours Retry-After."""
    if retry_after_s is not None:
        return min(retry_after_s, options.backoff_max_s)
    wait = options.backoff_base_s * 2 ** (attempt - 1)
    return min(wait * random.uniform(0.5, 1.5), options.backoff_max_s)


class OpenAIEngine:
    """Client of an OpenAI-compatible server; see the module docstring."""

    name = "openai"

    def __init__(self, config: EngineConfig) -> None:
        if config.api_mode not in API_MODES:
            raise EngineConfigError(f"--api-mode {config.api_mode}: expected 'chat' or 'completion'")
        if config.max_concurrency < 1:
            raise EngineConfigError(f"--max-concurrency {config.max_concurrency}: must be at least 1")
        if config.adapter:
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
        self.base_url = normalise_base_url(config.api_url)
        self._api_key = config.api_key or os.environ.get("OPENAI_API_KEY") or None
        card = self._wait_until_live()
        self.model_name: str = config.model_name or card["id"]
        self._card = card

    # -- start-up -------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    def _wait_until_live(self) -> dict[str, Any]:
        """Poll ``GET /v1/models`` until the server answers; the card of the model to use.

        A 5xx counts as "not up yet": proxies answer 502/503 while the server behind them loads.
        """
        url = f"{self.base_url}/v1/models"
        deadline = time.monotonic() + self.options.connect_timeout_s
        last = "no answer"
        with httpx.Client(
            timeout=max(1.0, self.options.connect_timeout_s), headers=self._headers()
        ) as client:
            while True:
                try:
                    response = client.get(url)
                    if response.status_code < 500:
                        break
                    last = f"GET /v1/models: HTTP {response.status_code}"
                except httpx.TransportError as exc:
                    last = f"{type(exc).__name__}: {self._redact(str(exc)) or 'no detail'}"
                if time.monotonic() >= deadline:
                    raise EngineConfigError(
                        f"--api-url {self.config.api_url}: server unreachable ({last}) after "
                        f"{self.options.connect_timeout_s:g} s; start the server, fix the URL, or raise "
                        "the wait with the connect_timeout_s engine option"
                    )
                time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))
        if response.status_code in (401, 403):
            raise EngineConfigError(
                f"--api-url {self.config.api_url}: the server refused the API key (HTTP {response.status_code}); "
                "set OPENAI_API_KEY to a key it accepts"
            )
        return self._pick_model(response)

    def _pick_model(self, response: httpx.Response) -> dict[str, Any]:
        cards: list[dict[str, Any]] = []
        if response.status_code == 200:
            try:
                cards = [c for c in response.json().get("data", []) if isinstance(c, dict) and "id" in c]
            except (ValueError, AttributeError):
                cards = []
        wanted = self.config.model_name
        if wanted is None:
            if not cards:
                raise EngineConfigError(
                    f"--api-url {self.config.api_url}: GET /v1/models listed no model "
                    f"(HTTP {response.status_code}); pass --model-name"
                )
            return cards[0]
        if cards and wanted not in {c["id"] for c in cards}:
            raise EngineConfigError(
                f"--model-name {wanted}: the server serves {', '.join(sorted(c['id'] for c in cards))}; "
                "pass one of these"
            )
        return next((c for c in cards if c["id"] == wanted), {"id": wanted})

    # -- Engine protocol ------------------------------------------------------------------------

    def computes_on_cpu(self) -> bool:
        return False  # the server's compute is not ours to share (pass --verify-schedule after for a local CPU server)

    def load(self) -> None:
        """Nothing to load: the constructor already waited for the server to answer."""

    def fingerprint(self) -> str:
        """Hash of the base URL, the model name and the server's ``root``/``parent``/``max_model_len``.

        ``created`` is left out on purpose: vLLM stamps it with the time of each ``/v1/models``
        query, which would change the fingerprint (and miss the cache) on every run. The API key
        never enters it.
        """
        identity = {
            "url": self.base_url,
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

    def generate(
        self,
        requests: Sequence[Request],
        on_completion: Callable[[Completion], None],
        *,
        deadline_s: float | None = None,
    ) -> None:
        """Send every request (at most ``max_concurrency`` in flight); ``on_completion`` as each finishes.

        ``on_completion`` runs in the calling thread, one call at a time. ``deadline_s`` (seconds
        from now) turns requests still unfinished by then into error completions.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise EngineError(
                "OpenAIEngine.generate blocks; call it from a thread without a running event loop"
            )
        asyncio.run(self._generate(requests, on_completion, deadline_s))

    def close(self) -> None:
        """Nothing to release: each ``generate`` call owns its HTTP client."""

    # -- the async core -------------------------------------------------------------------------

    async def _generate(
        self,
        requests: Sequence[Request],
        on_completion: Callable[[Completion], None],
        deadline_s: float | None,
    ) -> None:
        semaphore = asyncio.Semaphore(self.config.max_concurrency)
        limits = httpx.Limits(max_connections=self.config.max_concurrency, max_keepalive_connections=None)
        timeout = httpx.Timeout(self.options.request_timeout_s, connect=self.options.connect_timeout_s)
        async with httpx.AsyncClient(
            base_url=self.base_url, headers=self._headers(), limits=limits, timeout=timeout
        ) as client:
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
        async with semaphore:
            last = "no attempt made"
            for attempt in range(1, self.options.max_attempts + 1):
                try:
                    return await self._attempt(client, request)
                except _FatalError as exc:
                    return _error(request, self._redact(str(exc)))
                except _RetryableError as exc:
                    last, retry_after = str(exc), exc.retry_after_s
                except httpx.HTTPError as exc:  # connection refused/reset, timeouts, broken streams
                    last, retry_after = f"{type(exc).__name__}: {exc or 'connection failed'}", None
                except Exception as exc:  # a per-request failure must never end the whole run
                    return _error(request, self._redact(f"{type(exc).__name__}: {exc}"))
                if attempt < self.options.max_attempts:
                    await asyncio.sleep(backoff_s(attempt, self.options, retry_after))
            return _error(request, self._redact(f"failed after {self.options.max_attempts} attempts: {last}"))

    def _body(self, request: Request) -> tuple[str, dict[str, Any]]:
        s = request.sampling
        body: dict[str, Any] = {
            "model": self.model_name,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
            # One seed per sample: samples differ from each other yet each is reproducible.
            "seed": s.seed + request.sample_index,
        }
        if s.stop:
            body["stop"] = list(s.stop)
        if self.options.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        if self.options.extra_body:
            body.update(self.options.extra_body)
        if self.config.api_mode == "chat":
            body["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
            return "/v1/chat/completions", body
        body["prompt"] = request.prompt
        return "/v1/completions", body

    async def _attempt(self, client: httpx.AsyncClient, request: Request) -> Completion:
        path, body = self._body(request)
        start = time.perf_counter()
        async with client.stream("POST", path, json=body) as response:
            if response.status_code != 200:
                await response.aread()
                _raise_for_status(response, path)
            if not self.options.stream:
                await response.aread()
                return _parse_whole(request, path, _json_or_fatal(response.text, path), start)
            acc = _StreamState()
            async for chunk in _sse_chunks(response, path):
                acc.add(chunk, time.perf_counter() - start)
        return acc.completion(request, path, time.perf_counter() - start)

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


class _StreamState:
    """What the chunks of one streamed response add up to."""

    def __init__(self) -> None:
        self.reasoning: list[str] = []
        self.content: list[str] = []
        self.ttft_s: float | None = None
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.text_chunks = 0

    def add(self, chunk: dict[str, Any], elapsed_s: float) -> None:
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning") or ""
            text = delta.get("content") or choice.get("text") or ""
            if reasoning or text:
                self.ttft_s = elapsed_s if self.ttft_s is None else self.ttft_s
                self.text_chunks += 1
            self.reasoning.append(reasoning)
            self.content.append(text)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]

    def completion(self, request: Request, path: str, latency_s: float) -> Completion:
        if self.finish_reason is None:
            raise _RetryableError(
                f"POST {path}: the stream ended before a finish_reason (connection dropped?)"
            )
        usage = self.usage or {}
        return Completion(
            key=request.key,
            text=_join_reasoning("".join(self.reasoning), "".join(self.content)),
            finish_reason="length" if self.finish_reason == "length" else "stop",
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            # Without usage (server ignored stream_options) each text chunk is about one token.
            output_tokens=int(usage.get("completion_tokens") or self.text_chunks),
            latency_s=latency_s,
            ttft_s=self.ttft_s,
        )


def _join_reasoning(reasoning: str, content: str) -> str:
    """Servers with a reasoning parser split the thinking off; put it back as the model wrote it."""
    return f"<think>\n{reasoning}\n</think>\n\n{content}" if reasoning else content


def _parse_whole(request: Request, path: str, data: dict[str, Any], start: float) -> Completion:
    choices = data.get("choices") or []
    if not choices:
        raise _FatalError(f"POST {path}: reply has no choices")
    choice = choices[0]
    message = choice.get("message") or {}
    reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
    text = _join_reasoning(reasoning, message.get("content") or choice.get("text") or "")
    usage = data.get("usage") or {}
    return Completion(
        key=request.key,
        text=text,
        finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
        latency_s=time.perf_counter() - start,
    )


async def _sse_chunks(response: httpx.Response, path: str) -> AsyncIterator[dict[str, Any]]:
    """The JSON payloads of a server-sent-events stream, up to ``[DONE]``."""
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue
        payload = line[len("data:") :].strip()
        if payload == "[DONE]":
            return
        chunk = _json_or_fatal(payload, path)
        if "error" in chunk:
            error = chunk["error"]
            message = error.get("message", error) if isinstance(error, dict) else error
            code = error.get("code") if isinstance(error, dict) else None
            if isinstance(code, int) and code in RETRYABLE_STATUS:
                raise _RetryableError(f"POST {path}: error in stream: {str(message)[:_ERROR_TEXT_LIMIT]}")
            raise _FatalError(f"POST {path}: error in stream: {str(message)[:_ERROR_TEXT_LIMIT]}")
        yield chunk


def _json_or_fatal(text: str, path: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        raise _FatalError(f"POST {path}: not JSON: {text[:_ERROR_TEXT_LIMIT]!r}") from None
    if not isinstance(data, dict):
        raise _FatalError(f"POST {path}: expected a JSON object, got {text[:_ERROR_TEXT_LIMIT]!r}")
    return data


def _raise_for_status(response: httpx.Response, path: str) -> None:
    status = response.status_code
    message = f"POST {path}: HTTP {status}: {response.text[:_ERROR_TEXT_LIMIT]}"
    if status in RETRYABLE_STATUS:
        retry_after: float | None
        try:
            retry_after = float(response.headers["retry-after"])
        except (KeyError, ValueError):
            retry_after = None
        raise _RetryableError(message, retry_after)
    raise _FatalError(message)


def _error(request: Request, message: str) -> Completion:
    return Completion(key=request.key, text="", finish_reason="error", error=message)


@register_engine("openai")
def create_openai_engine(config: EngineConfig) -> Engine:
    """The ``openai`` engine; raises ``EngineConfigError`` at once when the server is unreachable."""
    return OpenAIEngine(config)
