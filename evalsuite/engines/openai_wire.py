"""The OpenAI wire format: request bodies, streamed and whole replies, and how each failure is classed.

Every way a reply can go wrong ends here as one of two exceptions: ``RetryableError`` (the same
request may well succeed on another attempt or endpoint: connection lost, 429, 5xx, a stream cut
short, garbled JSON) or ``FatalError`` (another attempt will not help: 4xx, an error the server
reports as final). A reply is accepted only when it is complete: a stream must carry a
``finish_reason`` (a stream cut before it is never a short "stop" completion), and a finish the
server reports as aborted is an error, not an answer.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from evalsuite.types import Completion, FinishReason, Request

RETRYABLE_STATUS = frozenset({408, 429}) | frozenset(range(500, 600))
ERROR_TEXT_LIMIT = 300
ABORTED_FINISH = frozenset({"abort", "aborted", "error", "cancelled"})
"""Finish reasons with which servers (vLLM: ``abort``) report that generation did not complete."""


class RetryableError(Exception):
    """A failure worth another attempt: connection lost, 429, 5xx, a reply cut short or garbled.

    Args:
        message: What went wrong, naming the endpoint's path.
        retry_after_s: The server's ``Retry-After``, in seconds, when it sent one.
        endpoint_fault: Whether the failure says the endpoint is unhealthy (connection refused
            or reset, 5xx), as opposed to a rate limit or one odd reply.
        refused: The connection was refused: the request never reached the server.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after_s: float | None = None,
        endpoint_fault: bool = True,
        refused: bool = False,
    ) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.endpoint_fault = endpoint_fault
        self.refused = refused


class FatalError(Exception):
    """A failure that another attempt will not fix (4xx other than 408/429, a final server error)."""


def request_body(
    request: Request,
    *,
    model: str,
    api_mode: str,
    stream: bool,
    extra_body: Mapping[str, Any] | None,
) -> tuple[str, dict[str, Any]]:
    """The path and JSON body of one generation request."""
    s = request.sampling
    body: dict[str, Any] = {
        "model": model,
        "temperature": s.temperature,
        "top_p": s.top_p,
        # One seed per sample: samples differ from each other yet each is reproducible.
        "seed": s.seed + request.sample_index,
    }
    if s.max_tokens is not None:  # None: up to the server's context (vLLM's default)
        body["max_tokens"] = s.max_tokens
    if s.stop:
        body["stop"] = list(s.stop)
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    if extra_body:
        body.update(extra_body)
    if api_mode == "chat":
        body["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
        return "/v1/chat/completions", body
    body["prompt"] = request.prompt
    return "/v1/completions", body


def finish_reason(reason: Any, path: str) -> FinishReason:
    """Our finish reason for the server's; a missing or aborted finish is retryable."""
    if reason is None:
        raise RetryableError(
            f"POST {path}: the reply ended before a finish_reason (stream cut short?)", endpoint_fault=True
        )
    if str(reason).lower() in ABORTED_FINISH:
        raise RetryableError(f"POST {path}: the server ended generation with finish_reason={reason!r}")
    return "length" if reason == "length" else "stop"


class StreamState:
    """What the chunks of one streamed response add up to."""

    def __init__(self) -> None:
        self.reasoning: list[str] = []
        self.content: list[str] = []
        self.ttft_s: float | None = None
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.text_chunks = 0

    def add(self, chunk: dict[str, Any], elapsed_s: float) -> None:
        """Fold one parsed ``data:`` payload in; ``elapsed_s`` since the request was sent."""
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
        """The finished completion; ``RetryableError`` when the stream never finished."""
        reason = finish_reason(self.finish_reason, path)
        usage = self.usage or {}
        return Completion(
            key=request.key,
            text=join_reasoning("".join(self.reasoning), "".join(self.content)),
            finish_reason=reason,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            # Without usage (server ignored stream_options) each text chunk is about one token.
            output_tokens=int(usage.get("completion_tokens") or self.text_chunks),
            latency_s=latency_s,
            ttft_s=self.ttft_s,
        )


def join_reasoning(reasoning: str, content: str) -> str:
    """Servers with a reasoning parser split the thinking off; put it back as the model wrote it."""
    return f"<think>\n{reasoning}\n</think>\n\n{content}" if reasoning else content


def whole_completion(request: Request, path: str, text: str, start: float) -> Completion:
    """The completion in a non-streamed reply body."""
    data = json_object(text, path)
    choices = data.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        raise RetryableError(f"POST {path}: reply has no choices: {text[:ERROR_TEXT_LIMIT]!r}")
    choice = choices[0]
    message = choice.get("message") or {}
    reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
    usage = data.get("usage") or {}
    return Completion(
        key=request.key,
        text=join_reasoning(reasoning, message.get("content") or choice.get("text") or ""),
        finish_reason=finish_reason(choice.get("finish_reason"), path),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
        latency_s=time.perf_counter() - start,
    )


async def sse_chunks(response: httpx.Response, path: str) -> AsyncIterator[dict[str, Any]]:
    """The JSON payloads of a server-sent-events stream, up to ``[DONE]``."""
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue
        payload = line[len("data:") :].strip()
        if payload == "[DONE]":
            return
        chunk = json_object(payload, path)
        if "error" in chunk:
            error = chunk["error"]
            message = error.get("message", error) if isinstance(error, dict) else error
            code = error.get("code") if isinstance(error, dict) else None
            text = f"POST {path}: error in stream: {str(message)[:ERROR_TEXT_LIMIT]}"
            if isinstance(code, int) and code in RETRYABLE_STATUS:
                raise RetryableError(text)
            raise FatalError(text)
        yield chunk


def json_object(text: str, path: str) -> dict[str, Any]:
    """``text`` parsed as a JSON object; garbled JSON is retryable (a proxy or a cut connection)."""
    try:
        data = json.loads(text)
    except ValueError:
        raise RetryableError(
            f"POST {path}: not JSON: {text[:ERROR_TEXT_LIMIT]!r}", endpoint_fault=False
        ) from None
    if not isinstance(data, dict):
        raise RetryableError(
            f"POST {path}: expected a JSON object, got {text[:ERROR_TEXT_LIMIT]!r}", endpoint_fault=False
        )
    return data


def raise_for_status(response: httpx.Response, path: str) -> None:
    """Nothing for 200; ``RetryableError`` (with Retry-After) for 408/429/5xx; ``FatalError`` else."""
    status = response.status_code
    if status == 200:
        return
    message = f"POST {path}: HTTP {status}: {response.text[:ERROR_TEXT_LIMIT]}"
    if status in RETRYABLE_STATUS:
        raise RetryableError(
            message,
            retry_after_s=retry_after_s(response.headers.get("retry-after")),
            endpoint_fault=status >= 500,
        )
    raise FatalError(message)


def retry_after_s(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date; None when absent/bad."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def transport_error(exc: httpx.HTTPError, path: str) -> RetryableError:
    """The retryable form of a transport failure (refused, reset, timed out, broken stream)."""
    detail = str(exc) or "no detail"
    refused = isinstance(exc, httpx.ConnectError)
    return RetryableError(f"POST {path}: {type(exc).__name__}: {detail}", refused=refused)
