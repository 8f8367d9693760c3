"""The benchmark protocol: a registered loader returns a versioned, hashed list of items."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from evalsuite.registry import Registry
from evalsuite.types import Item


class BenchmarkError(ValueError):
    """Bad benchmark data or options; the message names the file and line or the option."""


@dataclass(frozen=True)
class LoadOptions:
    """How to find and format a benchmark's data; plain values so xdist can ship them."""

    data_dir: str | None = None
    """Directory searched for local data files (``--data-dir``)."""
    paths: Mapping[str, str] = field(default_factory=dict)
    """Per-benchmark file paths, ``{"gpqa_diamond": "/data/gpqa_diamond.csv"}``."""
    seed: int = 0
    """Seed for anything random in item construction (choice shuffles)."""
    template: str | None = None
    """Prompt template override (``r1``, ``qwen``, ``chatml``, ...); None keeps the benchmark's."""
    system_prompt: str | None = None
    """System prompt added to every item."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Benchmark-specific options (``choice_rotations``, ``release_version``, ...)."""


@dataclass(frozen=True)
class BenchmarkData:
    """What a loader returns."""

    name: str
    """Registry name."""
    version: str
    """Version of the benchmark definition (prompt format, item construction)."""
    items: tuple[Item, ...]
    """The items, in a stable order."""
    data_hash: str
    """sha256 of the source data (recorded with every run)."""
    template: str
    """Prompt template used."""
    source: str = ""
    """Where the data came from (file path, hub id, generator)."""
    max_tokens: int | None = None
    """The benchmark's own output budget when ``--max-tokens`` is not given; None: up to the context."""


class BenchmarkLoader(Protocol):
    def __call__(self, options: LoadOptions) -> BenchmarkData: ...


benchmarks: Registry[BenchmarkLoader] = Registry(
    "benchmark",
    [
        "evalsuite.benchmarks.builtin",
        "evalsuite.benchmarks.math",
        "evalsuite.benchmarks.gpqa",
        "evalsuite.benchmarks.livecodebench",
        "evalsuite.benchmarks.bootcamp",
        "evalsuite.benchmarks.custom",
    ],
)
register_benchmark = benchmarks.register


def load_benchmark(name: str, options: LoadOptions | None = None) -> BenchmarkData:
    """Load a registered benchmark by name (raises ``UnknownNameError`` listing known names)."""
    return benchmarks.get(name)(options or LoadOptions())


def hash_bytes(chunks: Iterable[bytes]) -> str:
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()
