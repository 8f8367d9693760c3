"""``--shard I/N``: which of the selected items one of N CI jobs evaluates.

The split is a range partition of a hash ring, cut by cost:

1. every item gets a key, the SHA-256 of its node id (``benchmark/id``): it depends on the item
   alone, never on the other items, the seed or the machine;
2. the selected items, in key order, are cut into N contiguous runs of equal expected cost: an
   item belongs to shard ``floor(N * midpoint / total)``, where ``midpoint`` is the cost of the
   items before it in key order plus half its own. Every shard is within one item's cost of
   ``total / N``.

Adding items spreads them uniformly over the ring, so the cut points (cost quantiles of the ring)
move only by the sampling noise of where the new items fall: an item changes shard only if it sat
near a cut point. Pure hashing (rendezvous) would move nothing but leaves shards sqrt(n/N) items
apart; cutting the selection order into N chunks would shift every item after the first addition.
``scripts/shard_figures.py`` measures all three on the shipped and shared benchmarks.

Expected cost of an item: ``samples * (prompt tokens + max_tokens)``, prompt tokens estimated as
characters / 4. The decode budget counts whole because it is the only per-run figure known before
generation and reasoning models spend most of it; prompt lengths make the difference between items
(few-shot prompts, long problems). Samples (per benchmark, as a protocol may set them) weigh
benchmarks against each other; within one benchmark they only set the scale of the figures.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from evalsuite.types import Item

KEY_SALT = b"evalsuite-shard-v1/"
"""Prefix of every item's hashed key; changing it reshuffles every split (bump on purpose only)."""

CHARS_PER_TOKEN = 4
"""Prompt characters per token in the cost estimate (English and LaTeX average about 4)."""

AUTO_DECODE_TOKENS = 512
"""Decode budget counted per item when ``--max-tokens`` is auto (context minus prompt: about the same
for every item, so any constant keeps the prompt lengths deciding)."""

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """One of ``count`` shards, numbered from 1 as in ``--shard 2/4`` (Playwright and Jest count so)."""

    index: int
    """1-based shard number, ``1 <= index <= count``."""
    count: int
    """How many shards the selection is split into."""

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(spec: str) -> Shard:
    """``"2/4"`` → ``Shard(2, 4)``.

    Raises:
        ValueError: saying the expected form, when ``spec`` is not ``I/N`` with ``1 <= I <= N``.
    """
    match = _SPEC.match(str(spec))
    if not match:
        raise ValueError("expected I/N, e.g. 2/4 for the second of four shards")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1:
        raise ValueError("N must be at least 1")
    if not 1 <= index <= count:
        raise ValueError(f"I must be between 1 and {count}: shards are numbered 1/{count} .. {count}/{count}")
    return Shard(index, count)


def item_key(nodeid: str) -> int:
    """The item's place on the ring: 64 bits of SHA-256 of its node id."""
    return int.from_bytes(hashlib.sha256(KEY_SALT + nodeid.encode()).digest()[:8], "big")


def item_cost(item: Item, *, max_tokens: int | None, samples: int = 1) -> float:
    """Expected generation cost in tokens: ``samples * (prompt characters / 4 + max_tokens)``."""
    if max_tokens is None:
        max_tokens = AUTO_DECODE_TOKENS
    chars = (
        len(item.prompt_text) if item.prompt_text is not None else sum(len(m.content) for m in item.messages)
    )
    return samples * (chars / CHARS_PER_TOKEN + max_tokens)


def assign(nodeids: Sequence[str], costs: Sequence[float], count: int) -> list[int]:
    """0-based shard of each item (aligned with ``nodeids``): the ring cut into ``count`` equal-cost runs."""
    order = sorted(range(len(nodeids)), key=lambda i: (item_key(nodeids[i]), nodeids[i]))
    total = float(sum(costs))
    shards = [0] * len(nodeids)
    before = 0.0
    for i in order:
        midpoint = before + costs[i] / 2
        shards[i] = min(count - 1, int(count * midpoint / total)) if total > 0 else 0
        before += costs[i]
    return shards


@dataclass(frozen=True)
class ShardPlan:
    """The items of one shard and what a merge needs to know about the whole split."""

    items: tuple[Item, ...]
    """This shard's items, in the order of the full selection."""
    meta: dict[str, Any] | None
    """Recorded in the run's meta under ``shard`` (see ``plan``); None when the run is not sharded."""


def selection_hash(nodeids: Sequence[str]) -> str:
    """Identity of the full ordered selection: shards of one split share it."""
    return hashlib.sha256("\n".join(nodeids).encode()).hexdigest()[:16]


def plan(
    selected: Sequence[Item], shard: Shard, *, max_tokens: int | None, samples: Callable[[str], int] | int = 1
) -> ShardPlan:
    """The items of ``shard`` among ``selected``, and its record for the run's meta.

    The meta holds ``index``/``count``; ``selected`` (items in the whole split) and its
    ``selection_hash``; this shard's ``items`` and ``cost`` against ``total_cost``; and
    ``positions``, each item's place in the full selection (aligned with ``items``), from which
    ``evalsuite merge`` restores the unsharded order.
    """
    nodeids = [i.nodeid for i in selected]
    per = samples if callable(samples) else (lambda benchmark: int(samples))  # samples by benchmark
    costs = [item_cost(i, max_tokens=max_tokens, samples=per(i.benchmark)) for i in selected]
    shards = assign(nodeids, costs, shard.count)
    mine = [p for p, s in enumerate(shards) if s == shard.index - 1]
    meta = {
        "index": shard.index,
        "count": shard.count,
        "selected": len(selected),
        "selection_hash": selection_hash(nodeids),
        "items": len(mine),
        "cost": round(sum(costs[p] for p in mine), 1),
        "total_cost": round(sum(costs), 1),
        "positions": mine,
    }
    return ShardPlan(tuple(selected[p] for p in mine), meta)
