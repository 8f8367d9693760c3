"""A scripted OpenAI-compatible server on 127.0.0.1 for testing HTTP clients without a model.

It serves ``GET /v1/models``, ``POST /v1/chat/completions`` and ``POST /v1/completions``, streaming
(SSE, with a final usage chunk) or not. Replies are deterministic: ``"tok0 tok1 ..."`` preceded by
``seed=<seed>``, one token per word, ending with ``length`` when ``max_tokens`` cuts it short.

Failures are scripted by markers in the prompt text (last user message or raw prompt):

- ``FAIL500x<N>``: the first N requests carrying this exact prompt get HTTP 500, then success;
- ``RATE429x<N>``: likewise with HTTP 429 (and ``Retry-After: 0``);
- ``BAD400``: always HTTP 400 (the message echoes the Authorization header);
- ``DROPx<N>``: the first N streams are cut after one chunk (no finish_reason, no ``[DONE]``);
- ``SLOW<ms>``: wait that many milliseconds before answering.

The server records every request (path, headers, body) and the peak number in flight, so tests
can check the concurrency bound, the Authorization header and the per-sample seeds. ``crash()``
stops it as a killed process would: the port stops listening and every open connection closes.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    """One request as the server saw it."""

    path: str
    """Request path, e.g. ``/v1/chat/completions``."""
    headers: dict[str, str]
    """Request headers, lower-cased names."""
    body: dict[str, Any]
    """Parsed JSON body (empty for GET)."""


class FakeOpenAIServer:
    """The server; use as a context manager or call ``start``/``stop``.

    Args:
        models: Model ids listed by ``/v1/models`` (the first is the default).
        reply_tokens: Words in a full reply.
        first_token_delay_s: Wait before the first streamed token (simulates prefill).
        token_delay_s: Wait between streamed tokens (simulates decoding).
        api_key: When set, requests without ``Authorization: Bearer <api_key>`` get HTTP 401.
        models_unavailable: The first this many ``GET /v1/models`` get HTTP 503 (still loading).
        port: 0 picks a free port.
    """

    def __init__(
        self,
        *,
        models: tuple[str, ...] = ("fake-model",),
        reply_tokens: int = 8,
        first_token_delay_s: float = 0.0,
        token_delay_s: float = 0.0,
        api_key: str | None = None,
        models_unavailable: int = 0,
        port: int = 0,
    ) -> None:
        self.models_unavailable = models_unavailable
        self.api_key = api_key
        self.models = models
        self.reply_tokens = reply_tokens
        self.first_token_delay_s = first_token_delay_s
        self.token_delay_s = token_delay_s
        self.received: list[Received] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self._hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._httpd = _Server(("127.0.0.1", port), _make_handler(self))
        # A short poll interval: shutdown() waits up to one interval, and tests stop many servers.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL with the ``/v1`` suffix, as users pass it to ``--api-url``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def crash(self) -> None:
        """Stop listening and close every open connection, as the kernel does for a killed process."""
        self.stop()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):  # already gone
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def generation_requests(self) -> list[Received]:
        """Received POSTs (generation requests), in arrival order."""
        with self._lock:
            return [r for r in self.received if r.body]

    def _record(self, received: Received) -> None:
        with self._lock:
            self.received.append(received)

    def _hit(self, key: str) -> int:
        """How many times this key was seen before (0 on the first time)."""
        with self._lock:
            self._hits[key] += 1
            return self._hits[key] - 1

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default 5 would refuse a burst of concurrent connections


def _prompt_text(body: dict[str, Any]) -> str:
    if "messages" in body:
        users = [m["content"] for m in body["messages"] if m.get("role") == "user"]
        return users[-1] if users else ""
    return str(body.get("prompt", ""))


def _make_handler(server: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection; the body ends when it closes

        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def setup(self) -> None:
            super().setup()
            with server._lock:
                server._connections.add(self.connection)

        def finish(self) -> None:
            with server._lock:
                server._connections.discard(self.connection)
            with contextlib.suppress(OSError):  # cut by crash()
                super().finish()

        def _headers(self) -> dict[str, str]:
            return {k.lower(): v for k, v in self.headers.items()}

        def _json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            if server.api_key is None or self.headers.get("Authorization") == f"Bearer {server.api_key}":
                return True
            self._json(401, {"error": {"message": "invalid API key"}})
            return False

        def do_GET(self) -> None:
            server._record(Received(self.path, self._headers(), {}))
            if not self._authorised():
                return
            if server._hit("models-503") < server.models_unavailable:
                self._json(503, {"error": {"message": "loading (scripted)"}})
                return
            if self.path.rstrip("/") != "/v1/models":
                self._json(404, {"error": {"message": f"no route {self.path}"}})
                return
            # Like vLLM, ``created`` is the time of the query: it changes on every call.
            created = int(time.time()) + server._hit("models")
            cards = [
                {"id": m, "object": "model", "created": created, "owned_by": "fake", "root": f"/models/{m}"}
                for m in server.models
            ]
            self._json(200, {"object": "list", "data": cards})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            server._record(Received(self.path, self._headers(), body))
            if not self._authorised():
                return
            server._enter()
            try:
                self._generate(body)
            except OSError:
                pass  # the client went away (cancelled), or crash() cut the connection
            finally:
                server._leave()

        def _generate(self, body: dict[str, Any]) -> None:
            if self.path not in ("/v1/chat/completions", "/v1/completions"):
                self._json(404, {"error": {"message": f"no route {self.path}"}})
                return
            chat = self.path == "/v1/chat/completions"
            if (chat and "messages" not in body) or (not chat and "prompt" not in body):
                self._json(400, {"error": {"message": "missing messages/prompt"}})
                return
            prompt = _prompt_text(body)
            if slow := re.search(r"SLOW(\d+)", prompt):
                time.sleep(int(slow.group(1)) / 1000)
            if "BAD400" in prompt:
                # Echo the Authorization header, as careless servers do, to test that clients redact it.
                auth = self.headers.get("Authorization", "")
                self._json(400, {"error": {"message": f"bad request (scripted) for {auth}"}})
                return
            for marker, status in (("FAIL500", 500), ("RATE429", 429)):
                if (m := re.search(marker + r"x(\d+)", prompt)) and server._hit(marker + prompt) < int(
                    m.group(1)
                ):
                    self._json(status, {"error": {"message": f"scripted {status}"}}, {"Retry-After": "0"})
                    return
            drop = (m := re.search(r"DROPx(\d+)", prompt)) is not None and server._hit("DROP" + prompt) < int(
                m.group(1)
            )
            seed = body.get("seed")
            words = [f"seed={seed}"] + [f"tok{i}" for i in range(server.reply_tokens - 1)]
            max_tokens = int(body.get("max_tokens") or len(words))
            tokens = words[:max_tokens]
            finish = "length" if len(words) > max_tokens else "stop"
            usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": len(tokens)}
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
            if not body.get("stream"):
                time.sleep(server.first_token_delay_s + server.token_delay_s * max(0, len(tokens) - 1))
                text = " ".join(tokens)
                choice: dict[str, Any] = {"index": 0, "finish_reason": finish}
                choice.update({"message": {"role": "assistant", "content": text}} if chat else {"text": text})
                self._json(200, {"object": "completion", "choices": [choice], "usage": usage})
                return
            self._stream(chat, tokens, finish, usage, body, drop)

        def _stream(
            self,
            chat: bool,
            tokens: list[str],
            finish: str,
            usage: dict[str, int],
            body: dict[str, Any],
            drop: bool,
        ) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()

            def send(payload: Any) -> None:
                data = payload if isinstance(payload, str) else json.dumps(payload)
                self.wfile.write(f"data: {data}\n\n".encode())
                self.wfile.flush()

            if chat:  # vLLM opens with an empty role chunk, which must not count as the first token
                send(
                    {
                        "choices": [
                            {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
                        ]
                    }
                )
            time.sleep(server.first_token_delay_s)
            for i, token in enumerate(tokens):
                if i:
                    time.sleep(server.token_delay_s)
                piece = token if i == 0 else " " + token
                last = i == len(tokens) - 1
                choice = {"index": 0, "finish_reason": finish if last else None}
                choice.update({"delta": {"content": piece}} if chat else {"text": piece})
                send({"choices": [choice]})
                if drop:
                    return  # cut the stream: no finish_reason, no [DONE]
            if (body.get("stream_options") or {}).get("include_usage"):
                send({"choices": [], "usage": usage})
            send("[DONE]")

    return Handler
