"""The built-in benchmark: seeded, graded-difficulty arithmetic and symbolic tasks.

It needs no data files, so the embedded default (the tiny checkpoint in ``fixtures/``) can be
evaluated offline. Items are generated from a fixed seed; ``VERSION`` changes whenever the
generator does, so cached results of an older definition are never mixed in.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from evalsuite.benchmarks.base import BenchmarkData, LoadOptions, hash_bytes, register_benchmark
from evalsuite.benchmarks.prompts import math_messages
from evalsuite.benchmarks.sources import make_item

VERSION = "1"
TASKS = ("add", "sub", "mul", "linear", "expr")
LEVELS = (1, 2, 3)
ITEMS_PER_CELL = 20
BENCHMARK_SEED = 20261123
MAX_TOKENS = 512
"""Output budget without ``--max-tokens``: every answer fits (short arithmetic, brief thinking)."""


def _operand(rng: random.Random, level: int) -> int:
    """A number with ``level`` digits (level 1 includes 0..9)."""
    lo = 0 if level == 1 else 10 ** (level - 1)
    return rng.randint(lo, 10**level - 1)


def make_problem(rng: random.Random, task: str, level: int) -> tuple[str, int]:
    """One (question, integer answer) pair of the given task and difficulty."""
    a, b = _operand(rng, level), _operand(rng, level)
    if task == "add":
        return f"What is {a} + {b}?", a + b
    if task == "sub":
        a, b = max(a, b), min(a, b)
        return f"What is {a} - {b}?", a - b
    if task == "mul":
        small = rng.randint(2, 9)
        return f"What is {a} * {small}?", a * small
    if task == "linear":
        return f"Solve for x: x + {a} = {a + b}.", b
    if task == "expr":
        c = rng.randint(2, 9)
        return f"What is ({a} + {b}) * {c}?", (a + b) * c
    raise ValueError(f"unknown builtin task {task!r}; known: {', '.join(TASKS)}")


def iter_problems(seed: int = BENCHMARK_SEED) -> Iterator[tuple[str, int, int, str, int]]:
    """(task, level, index, question, answer) for every item of the benchmark, in order."""
    for task in TASKS:
        for level in LEVELS:
            rng = random.Random(f"builtin-v{VERSION}-{seed}-{task}-{level}")
            for index in range(ITEMS_PER_CELL):
                question, answer = make_problem(rng, task, level)
                yield task, level, index, question, answer


@register_benchmark("builtin")
def load_builtin(options: LoadOptions) -> BenchmarkData:
    template = options.template or "r1"
    items = []
    for task, level, index, question, answer in iter_problems():
        items.append(
            make_item(
                "builtin",
                f"{task}/level{level}/{index:04d}",
                math_messages(question, template=template, system_prompt=options.system_prompt),
                gold=str(answer),
                verifier="math",
                groups={"task": task, "level": f"level{level}"},
                meta={},
                options=options,
                template=template,
            )
        )
    digest = hash_bytes(f"{i.id}\t{i.user_prompt}\t{i.gold}\n".encode() for i in items)
    return BenchmarkData(
        name="builtin",
        version=VERSION,
        items=tuple(items),
        data_hash=digest,
        template=template,
        source=f"generated (seed {BENCHMARK_SEED})",
        max_tokens=MAX_TOKENS,
    )
