"""The engine's own logs go to ``reports/<run>/engine.log``, not between pytest's header and the scores.

vLLM configures its loggers from ``VLLM_LOGGING_CONFIG_PATH`` in every process it starts (the engine
core runs in a child), so a logging config pointing at the file is set before the engine is imported.
transformers' and peft's loggers get a file handler in this process. With ``-v`` nothing is redirected;
after a failure the log's tail is printed.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

LOGGERS = ("vllm", "transformers", "peft", "torch")
"""Loggers of engine libraries whose records belong in the engine log."""

TAIL_LINES = 40
"""Lines of the engine log shown after a failure."""

_FORMAT = "%(levelname)s %(asctime)s %(name)s: %(message)s"


class EngineLog:
    """Redirects engine library logs to ``path`` between ``start`` and ``stop``."""

    def __init__(self, path: Path, *, quiet: bool = True) -> None:
        self.path = path
        self.quiet = quiet
        self._saved_env: dict[str, str | None] = {}
        self._handler: logging.Handler | None = None
        self._saved_propagate: dict[str, bool] = {}

    def start(self) -> None:
        if not self.quiet or self._handler is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if "VLLM_LOGGING_CONFIG_PATH" not in os.environ:  # the user's own config wins
            config = self.path.with_name("engine-logging.json")
            config.write_text(json.dumps(_vllm_logging_config(self.path)), encoding="utf-8")
            self._set_env("VLLM_LOGGING_CONFIG_PATH", str(config))
            self._set_env("VLLM_CONFIGURE_LOGGING", "1")
        self._handler = logging.FileHandler(self.path, encoding="utf-8")
        self._handler.setFormatter(logging.Formatter(_FORMAT))
        for name in LOGGERS:
            logger = logging.getLogger(name)
            logger.addHandler(self._handler)
            self._saved_propagate[name] = logger.propagate
            logger.propagate = False

    def stop(self) -> None:
        """Restore the environment and loggers (the engine may still log into the file until it exits)."""
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        if self._handler is None:
            return
        for name in LOGGERS:
            logger = logging.getLogger(name)
            logger.removeHandler(self._handler)
            logger.propagate = self._saved_propagate.get(name, True)
        self._handler.close()
        self._handler = None

    def tail(self, lines: int = TAIL_LINES) -> list[str]:
        if not self.path.is_file():
            return []
        return self.path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]

    def show_tail(self, terminalreporter: Any, *, always: bool) -> None:
        """After a failure, the end of the engine log (the engine said why); else where the log is."""
        if not self.quiet or not self.path.is_file() or self.path.stat().st_size == 0:
            return
        if always:
            terminalreporter.section("engine log (end)")
            for line in self.tail():
                terminalreporter.write_line(line)
        terminalreporter.write_line(f"engine log: {self.path}")

    def _set_env(self, key: str, value: str) -> None:
        self._saved_env.setdefault(key, os.environ.get(key))
        os.environ[key] = value


def _vllm_logging_config(path: Path) -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": _FORMAT}},
        "handlers": {
            "file": {"class": "logging.FileHandler", "formatter": "plain", "filename": str(path), "encoding": "utf-8"}
        },
        "loggers": {"vllm": {"handlers": ["file"], "level": "INFO", "propagate": False}},
    }
