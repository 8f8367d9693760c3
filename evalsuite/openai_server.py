"""A small OpenAI-compatible HTTP endpoint in front of one of our engines (``evalsuite serve --engine hf``).

``GET /v1/models``, ``POST /v1/chat/completions`` and ``POST /v1/completions``, streamed (server-sent
events) or whole, on the standard library's threading HTTP server. One worker thread owns the
engine: requests that arrive together (each within ``batch_wait_s`` of the last, for at most
``max_batch_wait_s``) and share their sampling parameters
go to the engine as one ``generate`` call, so concurrent clients are batched as an evaluation run
batches its plan. The engine hands back whole completions, so a stream carries the text in one chunk
once its batch finishes (the client's time to first token is its batch's latency).
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from evalsuite.engines.base import Engine
from evalsuite.types import Completion, Message, Request, SamplingConfig

DEFAULT_MAX_TOKENS = 512
"""``max_tokens`` of a request that names none (our ``--max-tokens`` default)."""


class BadRequest(ValueError):
    """A request the endpoint cannot serve; answered with HTTP 400 and this message."""


@dataclass
class _Pending:
    """One request waiting for its completion."""

    request: Request
    """What the engine generates."""
    done: threading.Event = field(default_factory=threading.Event)
    """Set once ``completion`` is."""
    completion: Completion | None = None
    """The engine's answer."""


class EngineServer:
    """An OpenAI-compatible endpoint serving ``engine`` (already loaded) under ``model_name``."""

    def __init__(
        self,
        engine: Engine,
        *,
        model_name: str,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        max_batch: int = 256,
        batch_wait_s: float = 0.05,
        max_batch_wait_s: float = 0.5,
        card: Mapping[str, Any] | None = None,
    ) -> None:
        self.engine = engine
        self.model_name = model_name
        self.seed = seed
        self.max_batch = max_batch
        self.batch_wait_s = batch_wait_s
        self.max_batch_wait_s = max_batch_wait_s
        self.card = {
            "id": model_name,
            "object": "model",
            "created": 0,
            "owned_by": "evalsuite",
            **(card or {}),
        }
        self._queue: queue.Queue[_Pending] = queue.Queue()
        self._stop = threading.Event()
        self._http = ThreadingHTTPServer((host, port), _handler(self))
        self._http.daemon_threads = True
        self._threads = [
            threading.Thread(target=self._work, name="evalsuite-serve-engine", daemon=True),
            threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True),
        ]

    @property
    def url(self) -> str:
        """Base URL with ``/v1``, as ``--api-url`` takes it."""
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> EngineServer:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._http.shutdown()
        self._http.server_close()
        for thread in self._threads:
            thread.join(timeout=30)

    def complete(self, request: Request) -> Completion:
        """Queue ``request`` for the engine thread and wait for its completion."""
        pending = _Pending(request)
        self._queue.put(pending)
        while not pending.done.wait(timeout=1.0):
            if self._stop.is_set():
                raise RuntimeError("the server is shutting down")
        assert pending.completion is not None
        return pending.completion

    # -- the engine thread ----------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                batch = [self._queue.get(timeout=0.2)]
            except queue.Empty:
                continue
            # Gather while requests keep coming (a client's burst arrives over some milliseconds,
            # one connection thread each), at most max_batch_wait_s after the first.
            cap = time.monotonic() + self.max_batch_wait_s
            while (
                len(batch) < self.max_batch and (left := min(self.batch_wait_s, cap - time.monotonic())) > 0
            ):
                try:
                    batch.append(self._queue.get(timeout=left))
                except queue.Empty:
                    break
            groups: dict[SamplingConfig, list[_Pending]] = {}
            for pending in batch:  # the engine decodes a whole batch with one set of parameters
                groups.setdefault(pending.request.sampling, []).append(pending)
            for group in groups.values():
                self._generate(group)

    def _generate(self, group: list[_Pending]) -> None:
        by_key = {p.request.key: p for p in group}

        def deliver(completion: Completion) -> None:
            pending = by_key.get(completion.key)
            if pending is not None:
                pending.completion = completion
                pending.done.set()

        try:
            self.engine.generate([p.request for p in group], deliver)
        except Exception as exc:  # the engine failed as a whole: every waiting request learns why
            for pending in group:
                if not pending.done.is_set():
                    deliver(
                        Completion(pending.request.key, "", "error", error=f"{type(exc).__name__}: {exc}")
                    )

    # -- requests -------------------------------------------------------------------------------

    def parse(self, path: str, body: Mapping[str, Any]) -> Request:
        """The engine request a chat or completion body asks for."""
        if body.get("model") not in (None, self.model_name):
            raise BadRequest(
                f"model {body.get('model')!r} is not served here; this server serves {self.model_name!r}"
            )
        if int(body.get("n") or 1) != 1:
            raise BadRequest("n must be 1: send one request per sample")
        if path.endswith("/chat/completions"):
            raw = body.get("messages")
            if not isinstance(raw, list) or not raw:
                raise BadRequest("'messages' must be a non-empty list of {role, content}")
            try:
                messages = tuple(Message(str(m["role"]), str(m["content"])) for m in raw)  # type: ignore[arg-type]
            except (KeyError, TypeError):
                raise BadRequest("each message needs 'role' and 'content'") from None
            prompt = self.engine.render(messages)
        else:
            raw_prompt = body.get("prompt")
            if not isinstance(raw_prompt, str):
                raise BadRequest("'prompt' must be one string")
            prompt = raw_prompt
            messages = (Message("user", prompt),)
        stop = body.get("stop") or ()
        try:
            sampling = SamplingConfig(
                temperature=float(body.get("temperature", 1.0)),
                top_p=float(body.get("top_p", 1.0)),
                max_tokens=int(
                    body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS
                ),
                seed=int(body["seed"]) if body.get("seed") is not None else self.seed,
                stop=(stop,) if isinstance(stop, str) else tuple(str(s) for s in stop),
            )
        except (TypeError, ValueError) as exc:
            raise BadRequest(f"bad sampling parameter: {exc}") from None
        return Request(uuid.uuid4().hex, "", 0, messages, prompt, sampling)


def _chunks(kind: str, model: str, completion: Completion, include_usage: bool) -> list[dict[str, Any]]:
    """The server-sent events of one finished completion: text, finish reason, usage."""
    head = {
        "id": f"cmpl-{completion.key}",
        "object": f"{kind}.chunk",
        "created": int(time.time()),
        "model": model,
    }
    usage = _usage(completion)
    if kind == "chat.completion":
        events = [
            {"index": 0, "delta": {"role": "assistant", "content": completion.text}, "finish_reason": None},
            {"index": 0, "delta": {}, "finish_reason": completion.finish_reason},
        ]
    else:
        events = [
            {"index": 0, "text": completion.text, "finish_reason": None},
            {"index": 0, "text": "", "finish_reason": completion.finish_reason},
        ]
    chunks = [{**head, "choices": [event]} for event in events]
    if include_usage:
        chunks.append({**head, "choices": [], "usage": usage})
    return chunks


def _whole(kind: str, model: str, completion: Completion) -> dict[str, Any]:
    if kind == "chat.completion":
        choice = {"index": 0, "message": {"role": "assistant", "content": completion.text}}
    else:
        choice = {"index": 0, "text": completion.text}
    return {
        "id": f"cmpl-{completion.key}",
        "object": kind,
        "created": int(time.time()),
        "model": model,
        "choices": [{**choice, "finish_reason": completion.finish_reason}],
        "usage": _usage(completion),
    }


def _usage(completion: Completion) -> dict[str, int]:
    return {
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.output_tokens,
        "total_tokens": completion.prompt_tokens + completion.output_tokens,
    }


def _handler(server: EngineServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "evalsuite-serve"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass  # one line per request would drown the terminal during an evaluation

        def _json(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str) -> None:
            self._json(
                status, {"error": {"message": message, "type": "invalid_request_error", "code": status}}
            )

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?")[0].rstrip("/")
            if path in ("/v1/models", "/models"):
                self._json(200, {"object": "list", "data": [server.card]})
            elif path in ("/health", "/v1/health"):
                self._json(200, {"status": "ok"})
            else:
                self._error(404, f"no such endpoint: GET {path}; this server has /v1/models")

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?")[0].rstrip("/")
            if path not in ("/v1/chat/completions", "/v1/completions"):
                self._error(
                    404, f"no such endpoint: POST {path}; use /v1/chat/completions or /v1/completions"
                )
                return
            kind = "chat.completion" if path.endswith("/chat/completions") else "text_completion"
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if not isinstance(body, dict):
                    raise BadRequest("the body must be a JSON object")
                request = server.parse(path, body)
            except (BadRequest, json.JSONDecodeError) as exc:
                self._error(400, str(exc))
                return
            completion = server.complete(request)
            if completion.finish_reason == "error":
                self._error(500, f"generation failed: {completion.error}")
                return
            if not body.get("stream"):
                self._json(200, _whole(kind, server.model_name, completion))
                return
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            for chunk in _chunks(kind, server.model_name, completion, include_usage):
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

    return Handler
