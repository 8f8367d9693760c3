"""Start-up of the ``openai`` engine: wait until the endpoints list the model, and pick its card.

Every endpoint's ``GET /v1/models`` is polled until it lists the model or ``wait_for_server_s``
ends, with a progress line every ``PROGRESS_EVERY_S`` (long jobs wait for servers that take many
minutes to load). A 5xx or a refused connection counts as "not up yet" (proxies answer 502/503
while the server behind them loads); so does a model list without the wanted model. Endpoints
must serve the same checkpoint: results would mix models otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from evalsuite.engines.base import EngineConfigError
from evalsuite.engines.openai_options import HttpOptions

PROGRESS_EVERY_S = 10.0
"""Seconds between progress lines while start-up waits for a server."""
_POLL_S = 0.25

Card = dict[str, Any]


def wait_for_models(
    urls: Sequence[str],
    *,
    api_url: str,
    model_name: str | None,
    options: HttpOptions,
    client: httpx.Client,
    progress: Callable[[str], None],
    redact: Callable[[str], str],
) -> dict[str, Card]:
    """The model card of every endpoint that was ready in time (at least one), by base URL.

    ``api_url`` is ``--api-url`` as the user gave it, for messages.

    Raises:
        EngineConfigError: no endpoint ready in time, a refused API key, no model listed and no
            ``model_name``, or endpoints serving different models.
    """
    wait_s = options.wait_for_server_s
    start = time.monotonic()
    deadline, next_line = start + wait_s, start + PROGRESS_EVERY_S
    cards: dict[str, Card] = {}
    waiting: dict[str, str] = {url: "no answer" for url in urls}
    with client:
        while True:
            for url in list(waiting):
                outcome = _probe(client, url, model_name, redact)
                if isinstance(outcome, dict):
                    cards[url] = outcome
                    del waiting[url]
                else:
                    waiting[url] = outcome
            now = time.monotonic()
            if not waiting or now >= deadline:
                break
            if now >= next_line:
                progress(
                    f"evalsuite: waiting for the model at {_describe(waiting)} ({now - start:.0f} s of {wait_s:g} s)"
                )
                next_line = now + PROGRESS_EVERY_S
            time.sleep(min(_POLL_S, max(0.0, deadline - now)))
    if not cards:
        raise EngineConfigError(
            f"--api-url {api_url}: server unreachable or model not listed "
            f"({_describe(waiting)}) after {wait_s:g} s; start the server, fix the URL or "
            "--model-name, or wait longer (--wait-for-server)"
        )
    if waiting:
        progress(
            f"evalsuite: starting without {_describe(waiting)}; tried again after {options.cooldown_s:g} s"
        )
    _check_same_model(cards)
    return cards


def _probe(client: httpx.Client, url: str, wanted: str | None, redact: Callable[[str], str]) -> Card | str:
    """The card of the model to use at ``url``, or why it is not ready yet."""
    try:
        response = client.get(f"{url}/v1/models")
    except httpx.TransportError as exc:
        return f"{type(exc).__name__}: {redact(str(exc)) or 'no detail'}"
    if response.status_code in (401, 403):
        raise EngineConfigError(
            f"--api-url {url}: the server refused the API key (HTTP {response.status_code}); "
            "set OPENAI_API_KEY to a key it accepts"
        )
    if response.status_code >= 500:
        return f"GET /v1/models: HTTP {response.status_code}"
    cards: list[Card] = []
    if response.status_code == 200:
        try:
            cards = [c for c in response.json().get("data", []) if isinstance(c, dict) and "id" in c]
        except (ValueError, AttributeError):
            return "GET /v1/models: not a JSON model list"
    if wanted is None:
        if not cards:
            raise EngineConfigError(
                f"--api-url {url}: GET /v1/models listed no model (HTTP {response.status_code}); "
                "pass --model-name"
            )
        return cards[0]
    if cards and wanted not in {c["id"] for c in cards}:
        return f"--model-name {wanted} not listed (the server serves {', '.join(sorted(c['id'] for c in cards))})"
    # A server without a model list (HTTP 404) is taken at its word.
    return next((c for c in cards if c["id"] == wanted), {"id": wanted})


def _check_same_model(cards: dict[str, Card]) -> None:
    first_url, first = next(iter(cards.items()))
    for url, card in cards.items():
        for key in ("id", "root", "max_model_len"):
            if card.get(key) != first.get(key):
                raise EngineConfigError(
                    f"--api-url: {url} serves {key}={card.get(key)!r} but {first_url} serves "
                    f"{first.get(key)!r}; every endpoint must serve the same model"
                )


def _describe(waiting: dict[str, str]) -> str:
    return "; ".join(f"{url}: {why}" for url, why in waiting.items())
