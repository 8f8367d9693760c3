"""Balance and stability of ``--shard I/N`` on the built-in benchmark and MATH-500.

    python scripts/shard_figures.py [--data-dir ../shared/data] [--max-tokens 512]

For N = 2, 4, 8: items and expected cost per shard (and the largest shard's cost over the mean),
then, for each benchmark, the items that change shard when 10% more items are added (the old set is
a seeded 1/1.1 subset of the new one), for three splits: ours (the cost-cut hash ring), plain
rendezvous hashing, and contiguous chunks of the selection order.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
from collections.abc import Callable, Sequence

from evalsuite.benchmarks import LoadOptions, load_benchmark
from evalsuite.sharding import assign, item_cost
from evalsuite.types import Item

Split = Callable[[Sequence[str], Sequence[float], int], list[int]]


def rendezvous(nodeids: Sequence[str], costs: Sequence[float], count: int) -> list[int]:
    """Highest-random-weight hashing: each item to the shard whose hash with it is largest."""
    return [
        max(range(count), key=lambda s, n=n: hashlib.sha256(f"{s}/{n}".encode()).digest()) for n in nodeids
    ]


def chunks(nodeids: Sequence[str], costs: Sequence[float], count: int) -> list[int]:
    """Contiguous chunks of the selection order, equal in cost."""
    total, before, out = sum(costs), 0.0, []
    for c in costs:
        out.append(min(count - 1, int(count * (before + c / 2) / total)))
        before += c
    return out


SPLITS: dict[str, Split] = {"ring (ours)": assign, "rendezvous": rendezvous, "order chunks": chunks}


def balance(
    items: Sequence[Item], max_tokens: int, count: int, split: Split
) -> tuple[list[int], list[float]]:
    costs = [item_cost(i, max_tokens=max_tokens) for i in items]
    shards = split([i.nodeid for i in items], costs, count)
    sizes, loads = [0] * count, [0.0] * count
    for s, c in zip(shards, costs, strict=True):
        sizes[s] += 1
        loads[s] += c
    return sizes, loads


def moved(
    items: Sequence[Item], max_tokens: int, count: int, split: Split, seed: int | None
) -> tuple[int, int]:
    """Items of the old set whose shard differs in the new set (``items``, 10% more than the old set).

    ``seed``: the added items are a seeded random ~9.1% of ``items``; None: the last 9.1% (appended).
    """
    if seed is None:
        old = list(items[: round(len(items) / 1.1)])
    else:
        rng = random.Random(seed)
        old = [i for i in items if rng.random() < 1 / 1.1]
    before = dict(zip((i.nodeid for i in old), _split(old, max_tokens, count, split), strict=True))
    after = dict(zip((i.nodeid for i in items), _split(items, max_tokens, count, split), strict=True))
    return sum(before[n] != after[n] for n in before), len(old)


def _split(items: Sequence[Item], max_tokens: int, count: int, split: Split) -> list[int]:
    return split([i.nodeid for i in items], [item_cost(i, max_tokens=max_tokens) for i in items], count)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--seeds", type=int, default=20, help="Seeded additions averaged over.")
    args = parser.parse_args()
    sets = {"builtin": load_benchmark("builtin").items}
    try:
        sets["math500"] = load_benchmark("math500", LoadOptions(data_dir=args.data_dir)).items
    except Exception as exc:  # noqa: BLE001 - the figure is optional without the shared data
        print(f"math500 skipped: {exc}")
    for name, items in sets.items():
        print(f"\n{name}: {len(items)} items, max_tokens {args.max_tokens}")
        for count in (2, 4, 8):
            for label, split in SPLITS.items():
                sizes, loads = balance(items, args.max_tokens, count, split)
                mean = statistics.fmean(loads)
                print(
                    f"  N={count} {label:<13} sizes {sizes}  cost/1k {[round(x / 1000, 1) for x in loads]}"
                    f"  max/mean {max(loads) / mean:.3f}"
                )
        for count in (2, 4, 8):
            for label, split in SPLITS.items():
                runs = [moved(items, args.max_tokens, count, split, seed) for seed in range(args.seeds)]
                share = statistics.fmean(m / n for m, n in runs)
                tail, n_old = moved(items, args.max_tokens, count, split, None)
                print(
                    f"  +10% items, N={count} {label:<13} moved {share:.1%} of old items when scattered "
                    f"(mean of {args.seeds} seeded additions), {tail}/{n_old} = {tail / n_old:.1%} when appended"
                )


if __name__ == "__main__":
    main()
