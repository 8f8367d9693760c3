"""A loopback HTTP proxy that counts the POST requests in flight through it (for perf_vs_evalscope.py).

    python benchmarks/inflight_proxy.py --port 9000 --upstream http://127.0.0.1:8000

Streams every response through chunk by chunk (no connection limit of its own). A request is in
flight from the moment its headers arrive until the last byte of its response is passed on.
``GET /__inflight`` returns the peak, the time-weighted mean and the seconds spent at each count
since the last ``POST /__inflight`` (which resets them), from the first request's arrival to the
last one's end.
"""

from __future__ import annotations

import argparse
import time

import aiohttp
from aiohttp import web

_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding"}


class Counter:
    """In-flight count with peak and time integral since the last reset."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.current = self.peak = self.requests = 0
        self.area = 0.0
        self.seconds_at: dict[int, float] = {}
        self.first: float | None = None
        self.last = 0.0

    def _advance(self) -> float:
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        else:
            self.area += self.current * (now - self.last)
            self.seconds_at[self.current] = self.seconds_at.get(self.current, 0.0) + now - self.last
        self.last = now
        return now

    def enter(self) -> None:
        self._advance()
        self.requests += 1
        self.current += 1
        self.peak = max(self.peak, self.current)

    def leave(self) -> None:
        self._advance()
        self.current -= 1

    def summary(self) -> dict[str, float]:
        span = self.last - self.first if self.first is not None else 0.0
        return {
            "peak": self.peak,
            "requests": self.requests,
            "mean": self.area / span if span > 0 else 0.0,
            "span_s": span,
            "seconds_at": {str(k): v for k, v in sorted(self.seconds_at.items())},
        }


def make_app(upstream: str) -> web.Application:
    counter = Counter()
    session: aiohttp.ClientSession | None = None

    async def start(app: web.Application) -> None:
        nonlocal session
        connector = aiohttp.TCPConnector(limit=0)  # never the bottleneck: no cap on connections
        session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None))

    async def stop(app: web.Application) -> None:
        if session is not None:
            await session.close()

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path == "/__inflight":
            if request.method == "POST":
                counter.reset()
            return web.json_response(counter.summary())
        counted = request.method == "POST"
        if counted:
            counter.enter()
        try:
            body = await request.read()
            headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
            assert session is not None
            async with session.request(
                request.method, upstream + request.path_qs, data=body, headers=headers
            ) as up:
                response = web.StreamResponse(
                    status=up.status, headers={k: v for k, v in up.headers.items() if k.lower() not in _HOP}
                )
                try:
                    await response.prepare(request)
                    async for chunk in up.content.iter_any():
                        await response.write(chunk)
                    await response.write_eof()
                except ConnectionResetError:  # the client hung up (a cancelled request): stop relaying
                    pass
                return response
        finally:
            if counted:
                counter.leave()

    app = web.Application(client_max_size=64 * 1024**2)
    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT (no /v1)")
    args = parser.parse_args()
    web.run_app(make_app(args.upstream.rstrip("/")), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
