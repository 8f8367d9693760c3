"""A fault-injecting HTTP proxy on 127.0.0.1, in front of an OpenAI-compatible server.

It forwards each request to the upstream server (asking it to close the connection after the
reply), de-chunks the reply and hands it to the client as a close-delimited body, and on the
requests its ``plan`` picks it injects one fault:

- ``http500``: answers HTTP 500 itself;
- ``http429``: answers HTTP 429 with ``Retry-After`` (``retry_after_s``);
- ``reset``: forwards the start of the reply, then resets the connection (RST);
- ``read_timeout``: forwards the start of the reply, then goes silent for ``stall_s`` and closes;
- ``slow``: forwards the reply piece by piece, ``slow_delay_s`` apart (it must still succeed);
- ``truncate``: forwards a stream up to the event carrying the ``finish_reason`` and closes cleanly
  (a non-streamed body: its first half, without Content-Length) — the reply looks complete at
  the byte level but is not;
- ``invalid_json``: a stream gets a garbled ``data:`` event before its first one; a body is garbled;
- ``restart``: the endpoint disappears — every open connection is reset and new connections are
  refused (the listening socket closes) for ``down_s`` — and then comes back on the same port.

``plan(body, attempt)`` decides: it gets the JSON body of a generation request and how many
times the same body came before (0 on the first attempt), and returns a fault kind or None.
``injected`` counts faults by kind; ``faults_of`` records which faults each body received.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import struct
import threading
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from typing import Any

FAULT_KINDS = ("http500", "http429", "reset", "read_timeout", "slow", "truncate", "invalid_json", "restart")
Plan = Callable[[dict[str, Any], int], "str | None"]
_FINISH = re.compile(rb'"finish_reason":\s*"')


def body_key(body: dict[str, Any]) -> str:
    """A stable key of a request body (retries of one request send the same body)."""
    return json.dumps(body, sort_keys=True)


class FaultProxy:
    """The proxy; ``start()`` runs it in a thread with its own event loop, ``stop()`` ends it.

    Args:
        upstream_port: Port of the server on 127.0.0.1.
        plan: Which fault (if any) each generation request gets; see the module docstring.
        stall_s: Silence of a ``read_timeout`` fault.
        slow_delay_s: Pause before each forwarded piece of a ``slow`` reply.
        retry_after_s: ``Retry-After`` of a ``http429`` fault.
        down_s: How long a ``restart`` keeps the endpoint away.
    """

    def __init__(
        self,
        upstream_port: int,
        plan: Plan,
        *,
        stall_s: float = 2.0,
        slow_delay_s: float = 0.02,
        retry_after_s: float = 0.05,
        down_s: float = 0.3,
    ) -> None:
        self.upstream_port = upstream_port
        self.plan = plan
        self.stall_s = stall_s
        self.slow_delay_s = slow_delay_s
        self.retry_after_s = retry_after_s
        self.down_s = down_s
        self.injected: Counter[str] = Counter()
        self.faults_of: dict[str, list[str]] = defaultdict(list)
        self.posts = 0
        self._attempts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._live: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._restarting = False
        self.port = 0

    @property
    def url(self) -> str:
        """Base URL with ``/v1``, as users pass it to ``--api-url``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FaultProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._live):
                writer.transport.abort()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            await self._loop.shutdown_asyncgens()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- inside the proxy's loop -----------------------------------------------------------------

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True, backlog=256
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _restart(self) -> None:
        if self._restarting:  # already going down: this connection is one of its victims
            return
        assert self._server is not None
        self._restarting = True
        self._server.close()  # new connections are refused from now on
        for writer in list(self._live):
            _reset(writer)
        await asyncio.sleep(self.down_s)
        await self._listen()
        self._restarting = False

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._live.add(writer)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            _reset(writer)
        except asyncio.CancelledError:  # the proxy is stopping: drop the connection, end quietly
            _reset(writer)
        finally:
            self._live.discard(writer)
            if not writer.transport.is_closing():
                writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
        headers = [
            h for h in header_lines if h and h.split(":", 1)[0].lower() not in ("connection", "keep-alive")
        ]
        length = next(
            (int(h.split(":", 1)[1]) for h in headers if h.lower().startswith("content-length:")), 0
        )
        raw_body = await reader.readexactly(length) if length else b""
        fault = self._fault(request_line, raw_body)
        if fault == "restart":
            _reset(writer)
            await self._restart()
            return
        if fault in ("http500", "http429"):
            status = 500 if fault == "http500" else 429
            extra = f"Retry-After: {self.retry_after_s:g}\r\n" if status == 429 else ""
            payload = json.dumps({"error": {"message": f"injected {fault}", "code": status}}).encode()
            writer.write(
                f"HTTP/1.1 {status} Injected\r\nContent-Type: application/json\r\n{extra}"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        try:
            forwarded = "\r\n".join([request_line, *headers, "Connection: close"]) + "\r\n\r\n"
            up_writer.write(forwarded.encode("latin-1") + raw_body)
            await up_writer.drain()
            await self._relay(up_reader, writer, fault)
        finally:
            up_writer.close()

    def _fault(self, request_line: str, raw_body: bytes) -> str | None:
        if not request_line.startswith("POST"):
            return None
        try:
            body = json.loads(raw_body or b"{}")
        except ValueError:
            return None
        key = body_key(body)
        with self._lock:
            self.posts += 1
            attempt = self._attempts[key]
            self._attempts[key] += 1
        fault = self.plan(body, attempt)
        if fault is not None:
            if fault not in FAULT_KINDS:
                raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULT_KINDS)}")
            with self._lock:
                self.injected[fault] += 1
                self.faults_of[key].append(fault)
        return fault

    async def _relay(self, up: asyncio.StreamReader, writer: asyncio.StreamWriter, fault: str | None) -> None:
        head = await up.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
        names = {h.split(":", 1)[0].lower(): h for h in header_lines if h}
        chunked = "chunked" in names.get("transfer-encoding", "").lower()
        streamed = "text/event-stream" in names.get("content-type", "")
        keep = [h for n, h in names.items() if n not in ("transfer-encoding", "connection", "content-length")]
        if not chunked and "content-length" in names and fault not in ("truncate", "invalid_json"):
            keep.append(names["content-length"])
        writer.write(("\r\n".join([status_line, *keep, "Connection: close"]) + "\r\n\r\n").encode("latin-1"))
        body = _body(up, chunked)
        if not streamed:
            data = b"".join([piece async for piece in body])
            await self._whole(writer, data, fault)
            return
        await self._stream(writer, body, fault)

    async def _whole(self, writer: asyncio.StreamWriter, data: bytes, fault: str | None) -> None:
        half = data[: len(data) // 2]
        if fault == "read_timeout":
            await writer.drain()
            await asyncio.sleep(self.stall_s)
        elif fault == "reset":
            writer.write(half)
            await writer.drain()
            _reset(writer)
            return
        elif fault in ("truncate", "invalid_json"):
            data = half
        elif fault == "slow":
            for i in range(0, len(data), 64):
                await asyncio.sleep(self.slow_delay_s)
                writer.write(data[i : i + 64])
                await writer.drain()
            return
        writer.write(data)
        await writer.drain()

    async def _stream(
        self, writer: asyncio.StreamWriter, body: AsyncIterator[bytes], fault: str | None
    ) -> None:
        buffer = b""
        events_sent = 0
        async for piece in body:
            buffer += piece
            while b"\n\n" in buffer:
                event, buffer = buffer.split(b"\n\n", 1)
                if fault == "truncate" and _FINISH.search(event):
                    return  # a clean close just before the event that finishes the reply
                if fault == "invalid_json" and events_sent == 0:
                    writer.write(b'data: {"choices": [{"delta": {"content": "gar\n\n')
                if fault == "slow":
                    await asyncio.sleep(self.slow_delay_s)
                writer.write(event + b"\n\n")
                await writer.drain()
                events_sent += 1
                if events_sent == 1 and fault == "reset":
                    _reset(writer)
                    return
                if events_sent == 1 and fault == "read_timeout":
                    await asyncio.sleep(self.stall_s)
                    return
        writer.write(buffer)
        await writer.drain()


async def _body(reader: asyncio.StreamReader, chunked: bool) -> AsyncIterator[bytes]:
    """The reply body, de-chunked when it came in chunked transfer encoding."""
    if not chunked:
        while data := await reader.read(65536):
            yield data
        return
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers
            return
        yield await reader.readexactly(size)
        await reader.readexactly(2)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0), as a crashed peer does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
