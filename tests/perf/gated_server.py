"""A loopback OpenAI-style server that answers streamed requests only when enough are in flight.

It proves a load generator's concurrency without timing anything: it holds every streamed request
until ``target`` are in flight at once (or every one of ``total`` has arrived), then answers the
oldest, counting it out *before* writing its reply, and waits again. A client that keeps exactly
``target`` in flight never makes it wait; one that keeps fewer stalls it (after ``wait_s`` it
answers anyway and counts a stall); one that sends more raises ``peak_in_flight`` above ``target``.
Non-streamed requests (prompt-length probes) are answered at once and not counted.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class GatedServer:
    """The server; use as a context manager.

    Args:
        target: Requests that must be in flight before one is answered.
        total: Streamed requests the test will send (the tail is answered without waiting).
        reply_tokens: Tokens streamed per reply (one word each).
        owned_by: ``owned_by`` of the model card (``vllm`` makes ``--ignore-eos auto`` send it).
        wait_s: How long to wait for ``target`` before answering anyway and counting a stall.
    """

    def __init__(
        self, *, target: int, total: int, reply_tokens: int = 3, owned_by: str = "vllm", wait_s: float = 10.0
    ) -> None:
        self.target, self.total, self.reply_tokens = target, total, reply_tokens
        self.owned_by, self.wait_s = owned_by, wait_s
        self.arrived = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self.stalls = 0
        self.in_flight_at_answer: list[int] = []
        self.bodies: list[dict[str, Any]] = []
        self._held: deque[threading.Event] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._httpd.request_queue_size = 512
        self._threads = [
            threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True),
            threading.Thread(target=self._gatekeeper, daemon=True),
        ]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> GatedServer:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._stopping = True
            for event in self._held:
                event.set()
            self._cond.notify_all()
        self._httpd.shutdown()
        self._httpd.server_close()

    def _arrive(self, body: dict[str, Any]) -> threading.Event:
        event = threading.Event()
        with self._cond:
            self.bodies.append(body)
            self.arrived += 1
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            self._held.append(event)
            self._cond.notify_all()
        return event

    def _gatekeeper(self) -> None:
        answered = 0
        with self._cond:
            while answered < self.total and not self._stopping:
                ready = self._cond.wait_for(
                    lambda: (
                        self._stopping
                        or (self._held and (self.in_flight >= self.target or self.arrived >= self.total))
                    ),
                    timeout=self.wait_s,
                )
                if self._stopping:
                    return
                if not ready:
                    if not self._held:
                        continue  # nothing sent yet: the client is still starting
                    self.stalls += 1
                self.in_flight_at_answer.append(self.in_flight)
                self.in_flight -= 1  # counted out before its reply is written: the client cannot beat it
                self._held.popleft().set()
                answered += 1


def _handler(server: GatedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers: clients reuse connections

        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._send(200, {"data": [{"id": "gated-model", "object": "model", "owned_by": server.owned_by}]})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            prompt = body.get("prompt") or body.get("messages", [{}])[-1].get("content", "")
            usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": server.reply_tokens}
            if not body.get("stream"):
                self._send(200, {"choices": [{"text": "x", "finish_reason": "length"}], "usage": usage})
                return
            if not server._arrive(body).wait(timeout=4 * server.wait_s):
                return  # stopped: nothing to answer
            # A filler the client cancelled once its measured requests had ended finds the socket closed.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._answer(usage)

        def _answer(self, usage: dict[str, int]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(server.reply_tokens):
                finish = "length" if i == server.reply_tokens - 1 else None
                self._chunk({"choices": [{"index": 0, "text": f" w{i}", "finish_reason": finish}]})
            self._chunk({"choices": [], "usage": usage})
            self._chunk("[DONE]")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _chunk(self, payload: Any) -> None:
            data = f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n".encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    return Handler
