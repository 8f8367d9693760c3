"""Transport options of the ``openai`` engine: timeouts, retries, endpoints, and their validation."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from evalsuite.engines.base import EngineConfigError


@dataclass(frozen=True)
class HttpOptions:
    """Transport settings of the HTTP engine, read from ``EngineConfig.options``."""

    wait_for_server_s: float = 10.0
    """How long start-up polls ``GET /v1/models`` until the model is listed (a server still loading)."""
    connect_timeout_s: float = 10.0
    """Longest wait for a TCP connection to an endpoint, per attempt."""
    read_timeout_s: float = 600.0
    """Longest silence tolerated while waiting for a response or the next streamed chunk."""
    request_timeout_s: float = 3600.0
    """Longest time one HTTP attempt may take in total, streaming included."""
    max_retries: int = 4
    """Further attempts after a retryable failure (connection lost, 429, 5xx, cut or garbled reply)."""
    backoff_base_s: float = 0.5
    """Wait before the first retry; doubles with each further retry (with ±50% jitter)."""
    max_retry_delay_s: float = 30.0
    """Cap on one wait between attempts (also caps a server's ``Retry-After``)."""
    cooldown_s: float = 30.0
    """How long a failing endpoint is left out before it is tried again (several endpoints)."""
    stream: bool = True
    """Stream responses (needed for time to first token)."""
    extra_body: Mapping[str, Any] | None = None
    """Fields merged into every request body (server-specific sampling options)."""

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> HttpOptions:
        """Typed options, rejecting bad numbers with a message naming the option."""
        kwargs: dict[str, Any] = {}
        for name in (
            "wait_for_server_s",
            "connect_timeout_s",
            "read_timeout_s",
            "request_timeout_s",
            "backoff_base_s",
            "max_retry_delay_s",
            "cooldown_s",
        ):
            if name in options:
                kwargs[name] = _number(name, options[name], float, low=0.0)
        if "max_retries" in options:
            kwargs["max_retries"] = _number("max_retries", options["max_retries"], int, low=0)
        for name in ("connect_timeout_s", "read_timeout_s", "request_timeout_s"):
            if kwargs.get(name) == 0:
                raise EngineConfigError(f"option {name}=0: must be more than 0 seconds")
        if "stream" in options:
            kwargs["stream"] = str(options["stream"]).lower() not in ("0", "false", "no", "off")
        if options.get("extra_body") is not None:
            extra = options["extra_body"]
            if isinstance(extra, str):
                try:
                    extra = json.loads(extra)
                except ValueError:
                    extra = None
            if not isinstance(extra, Mapping):
                raise EngineConfigError(
                    "option extra_body must be a JSON object, e.g. '{\"ignore_eos\": true}'"
                )
            kwargs["extra_body"] = dict(extra)
        return cls(**kwargs)


def _number(name: str, value: Any, kind: type, *, low: float) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise EngineConfigError(f"option {name}={value!r}: expected a {kind.__name__}") from None
    if isinstance(value, float) and kind is int and value != number:
        raise EngineConfigError(f"option {name}={value!r}: expected a whole number")
    if number < low:
        raise EngineConfigError(f"option {name}={value!r}: must be at least {low:g}")
    return number


def backoff_s(retry: int, options: HttpOptions, retry_after_s: float | None = None) -> float:
    """Wait before retry number ``retry`` (1-based): exponential with ±50% jitter, capped.

    A server's ``Retry-After`` is honoured up to ``max_retry_delay_s``: every wait is bounded.
    """
    if retry_after_s is not None:
        return min(retry_after_s, options.max_retry_delay_s)
    wait = options.backoff_base_s * 2 ** (retry - 1)
    return min(wait * random.uniform(0.5, 1.5), options.max_retry_delay_s)


def normalise_base_url(url: str) -> str:
    """``http://host:port`` from ``http://host:port/v1/`` and friends (the ``/v1`` is added per call)."""
    base = url.strip().rstrip("/")
    if base.endswith("/v1"):
        base = base[: -len("/v1")]
    parsed = httpx.URL(base)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise EngineConfigError(f"--api-url {url}: expected an http(s) URL such as http://127.0.0.1:8000/v1")
    return base


def endpoint_urls(api_url: str | Sequence[str]) -> tuple[str, ...]:
    """The base URLs of ``--api-url``: one URL, several separated by commas, or a sequence of them."""
    given = [api_url] if isinstance(api_url, str) else list(api_url)
    urls = tuple(normalise_base_url(u) for part in given for u in part.split(",") if u.strip())
    if not urls:
        raise EngineConfigError("--api-url is empty; pass a URL such as http://127.0.0.1:8000/v1")
    repeated = sorted({u for u in urls if urls.count(u) > 1})
    if repeated:
        raise EngineConfigError(
            f"--api-url lists {', '.join(repeated)} more than once; give each endpoint once"
        )
    return urls
