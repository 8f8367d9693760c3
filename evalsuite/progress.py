"""Generation progress: a bar on a terminal, and the same lines in ``progress.log`` for CI logs."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from pathlib import Path
from typing import TextIO


class Progress:
    """Counts finished requests and generated tokens; prints throughput and ETA.

    Updated from the generation thread; printing is throttled to every ``interval_s`` seconds.
    """

    def __init__(self, total: int, *, log_path: Path | None = None, stream: TextIO | None = None,
                 interval_s: float = 2.0) -> None:
        self.total = total
        self.done = 0
        self.tokens = 0
        self.errors = 0
        self.started = time.perf_counter()
        self._last = 0.0
        self._interval = interval_s
        self._lock = threading.Lock()
        self._stream = stream if stream is not None else sys.stderr
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._log: TextIO | None = None
        if log_path is not None:
            try:
                self._log = log_path.open("a", encoding="utf-8")
            except OSError:  # a full or unwritable report directory must not stop generation
                self._log = None

    def engine_ready(self, load_seconds: float) -> None:
        """The engine has started: say how long it took; rates and ETA count from now."""
        with self._lock:
            self.started = time.perf_counter()
            self._emit(f"[evalsuite] engine ready in {load_seconds:.1f}s; generating {self.total} requests", end="\n")

    def update(self, *, tokens: int, error: bool = False) -> None:
        with self._lock:
            self.done += 1
            self.tokens += tokens
            self.errors += int(error)
            now = time.perf_counter()
            if now - self._last >= self._interval or self.done == self.total:
                self._last = now
                self._emit(self.line())

    def line(self) -> str:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        eta_s = f"{eta:.0f}s" if eta != float("inf") else "?"
        return (
            f"[evalsuite] generated {self.done}/{self.total} "
            f"({100 * self.done / max(self.total, 1):.0f}%) {self.tokens / elapsed:.0f} tok/s "
            f"elapsed {elapsed:.0f}s eta {eta_s}" + (f" errors {self.errors}" if self.errors else "")
        )

    def _emit(self, line: str, end: str | None = None) -> None:
        if self._log is not None:
            try:
                self._log.write(f"{time.strftime('%H:%M:%S')} {line}\n")
                self._log.flush()
            except OSError:  # a full or vanished report directory must not stop generation
                self._log = None
        if self._tty:
            if end is None:
                end = "\n" if self.done == self.total else "\r"
            self._stream.write(line + end)
            self._stream.flush()

    def close(self) -> None:
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None
