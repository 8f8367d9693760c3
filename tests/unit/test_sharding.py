"""The ``--shard`` split: a partition, balanced by cost, independent of order, stable when items are added."""

from __future__ import annotations

import random

import pytest

from evalsuite.benchmarks import load_benchmark
from evalsuite.sharding import Shard, assign, item_cost, plan

ITEMS = load_benchmark("builtin").items


@pytest.mark.parametrize("count", [1, 2, 3, 8])
def test_shards_partition_the_selection_in_its_order(count):
    plans = [plan(ITEMS, Shard(i, count), max_tokens=512) for i in range(1, count + 1)]
    positions = sorted(p for sp in plans for p in sp.meta["positions"])
    assert positions == list(range(len(ITEMS)))
    for sp in plans:
        assert [ITEMS[p] for p in sp.meta["positions"]] == list(sp.items)
        assert sp.meta["positions"] == sorted(sp.meta["positions"])
    assert len({sp.meta["selection_hash"] for sp in plans}) == 1


@pytest.mark.parametrize("count", [2, 4, 8])
def test_every_shard_is_within_one_item_of_an_equal_share_of_cost(count):
    rng = random.Random(count)
    costs = [rng.uniform(10, 1000) for _ in ITEMS]  # far more uneven than real prompts
    shards = assign([i.nodeid for i in ITEMS], costs, count)
    loads = [sum(c for c, s in zip(costs, shards, strict=True) if s == k) for k in range(count)]
    assert max(abs(load - sum(costs) / count) for load in loads) <= max(costs)


def test_split_depends_on_the_items_not_their_order_or_the_seed():
    nodeids = [i.nodeid for i in ITEMS]
    costs = [item_cost(i, max_tokens=64) for i in ITEMS]
    shuffled = list(range(len(nodeids)))
    random.Random(1).shuffle(shuffled)
    first = assign(nodeids, costs, 4)
    again = assign([nodeids[j] for j in shuffled], [costs[j] for j in shuffled], 4)
    assert [first[j] for j in shuffled] == again


def test_adding_ten_percent_items_moves_few_of_the_others():
    rng = random.Random(0)
    old = [i for i in ITEMS if rng.random() < 1 / 1.1]

    def shards(items):
        return dict(
            zip(
                (i.nodeid for i in items),
                assign([i.nodeid for i in items], [item_cost(i, max_tokens=512) for i in items], 4),
                strict=True,
            )
        )

    before, after = shards(old), shards(ITEMS)
    moved = sum(before[n] != after[n] for n in before)
    # A cut of the selection order would move about a quarter; only items beside a cut point move here.
    assert moved <= 0.05 * len(old)


def test_cost_counts_the_prompt_and_the_decode_budget_per_sample():
    item = ITEMS[0]
    chars = sum(len(m.content) for m in item.messages)
    assert item_cost(item, max_tokens=100, samples=3) == 3 * (chars / 4 + 100)
