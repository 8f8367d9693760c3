"""Settings to items: load the selected benchmarks, then ``--items``, ``--mix``, ``--shuffle``, ``--limit``, ``--shard``.

``--shard`` comes last: the N shards of a split partition exactly the items an unsharded run with
the same options evaluates (``--limit 50 --shard 1/2`` is half of 50 items, not 50 of half), which
is what lets ``evalsuite merge`` rebuild that run.
"""

from __future__ import annotations

import fnmatch
import random
from collections.abc import Callable, Mapping, Sequence

import pytest

from evalsuite.benchmarks import BenchmarkData, BenchmarkError, benchmarks
from evalsuite.benchmarks.sources import slug
from evalsuite.registry import UnknownNameError
from evalsuite.settings import Selection
from evalsuite.sharding import Shard, ShardPlan, plan
from evalsuite.types import Item


def load_benchmarks(selection: Selection) -> list[BenchmarkData]:
    """Every selected benchmark's data; a loader's complaint is a usage error naming the benchmark."""
    out = []
    for name in selection.benchmarks:
        try:
            out.append(benchmarks.get(name)(selection.load))
        except (BenchmarkError, UnknownNameError) as exc:
            raise pytest.UsageError(f"--benchmark {name}: {exc}") from exc
    return out


def select_items(items: Sequence[Item], selection: Selection) -> list[Item]:
    """``--items`` glob patterns, then ``--mix``, then ``--shuffle --seed``, then ``--limit`` per benchmark."""
    selected = list(items)
    if selection.patterns:
        selected = [
            i for i in selected
            if any(fnmatch.fnmatchcase(i.nodeid, g) or fnmatch.fnmatchcase(i.id, g) for g in selection.patterns)
        ]
    if selection.mix and selection.mix_size:
        selected = mix_items(selected, selection.mix, selection.mix_size, seed=selection.seed)
    if selection.shuffle:
        random.Random(selection.seed).shuffle(selected)
    if selection.limit is not None:
        per: dict[str, int] = {}
        kept = []
        for item in selected:
            if per.get(item.benchmark, 0) < selection.limit:
                per[item.benchmark] = per.get(item.benchmark, 0) + 1
                kept.append(item)
        selected = kept
    return selected


def mix_counts(weights: Mapping[str, float], size: int) -> dict[str, int]:
    """Items per benchmark of a mix of ``size``: EvalScope's ``WeightedSampler`` (each but the last gets
    ``int(size * weight / total)``, the last what remains)."""
    total = sum(weights.values())
    counts: dict[str, int] = {}
    remaining = size
    names = list(weights)
    for name in names[:-1]:
        counts[name] = int(size * weights[name] / total)
        remaining -= counts[name]
    counts[names[-1]] = remaining
    return counts


def mix_items(items: Sequence[Item], weights: Mapping[str, float], size: int, *, seed: int) -> list[Item]:
    """A seeded weighted sample across benchmarks, in benchmark order then drawn order (a benchmark
    with fewer items than its share gives all of them, as EvalScope's sampler does)."""
    by_benchmark: dict[str, list[Item]] = {}
    for item in items:
        by_benchmark.setdefault(item.benchmark, []).append(item)
    out: list[Item] = []
    for name, count in mix_counts(weights, size).items():
        pool = by_benchmark.get(name, [])
        out += random.Random(f"mix/{seed}/{name}").sample(pool, min(count, len(pool)))
    return out


def select_shard(
    selected: Sequence[Item], shard: Shard | None, *, max_tokens: int | None, samples: Callable[[str], int] | int
) -> ShardPlan:
    """``--shard I/N`` over the selected items (see ``evalsuite.sharding``); all of them without it."""
    if shard is None:
        return ShardPlan(tuple(selected), None)
    return plan(selected, shard, max_tokens=max_tokens, samples=samples)


def mark_name(value: str) -> str:
    """A benchmark or group value as a pytest mark: its ``slug``, led by ``_`` when it starts with a digit."""
    name = slug(value)
    return f"_{name}" if name[0].isdigit() else name


def item_marks(item: Item) -> list[str]:
    """The marks of an item's test: its benchmark and each of its group values."""
    return [mark_name(item.benchmark), *(mark_name(v) for v in item.groups.values())]
