"""One benchmark run: warm up, then every concurrency level and every arrival rate in turn."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from evalsuite.perf.load import Prompt, StreamingClient, Target, closed_loop, open_loop
from evalsuite.perf.prompts import PromptSource, fit_prompt_length
from evalsuite.perf.stats import LevelResult, summarise

MAX_CONNECTIONS = 1024
"""Most connections an open loop opens at once (arrivals beyond wait for one, and that wait counts as latency)."""


@dataclass(frozen=True)
class SweepPlan:
    """What to measure."""

    parallel: tuple[int, ...] = ()
    """Closed-loop levels: requests kept in flight."""
    rates: tuple[float, ...] = ()
    """Open-loop levels: mean Poisson arrivals per second."""
    requests: tuple[int, ...] = ()
    """Requests per level, in the order parallel levels then rates."""
    prompt_len: int | None = None
    """Resize every prompt's user turn to about this many tokens; ``None`` keeps the prompts."""
    warmup: int | None = None
    """Requests leading into each closed-loop level, not measured; ``None``: as many as the level's ``parallel``."""
    seed: int = 0
    """Seed of the arrival times."""
    timeout_s: float = 600.0
    """Deadline of each level, and the longest silence tolerated on a connection."""

    @property
    def levels(self) -> list[tuple[str, float, int]]:
        """``(mode, level, requests)`` in the order they run."""
        modes = [("parallel", float(p)) for p in self.parallel] + [("rate", r) for r in self.rates]
        return [(mode, level, n) for (mode, level), n in zip(modes, self.requests, strict=True)]


async def run_sweep(
    target: Target,
    sources: Sequence[PromptSource],
    plan: SweepPlan,
    on_level: Callable[[LevelResult], None] = lambda result: None,
) -> list[LevelResult]:
    """Measure every level of ``plan`` against ``target``; ``on_level`` sees each result as it lands."""
    connections = max([*plan.parallel, MAX_CONNECTIONS if plan.rates else 1])
    async with StreamingClient(target, connections=connections, timeout_s=plan.timeout_s) as client:
        prompts: list[Prompt]
        if plan.prompt_len is None:
            prompts = [s.prompt() for s in sources]
        else:
            prompts = await fit_prompt_length(sources, plan.prompt_len, client.prompt_tokens)
        results = []
        used = 0
        for index, (mode, level, requests) in enumerate(plan.levels):
            # Each level continues where the last stopped: fresh prompts as long as the dataset lasts.
            start = used % len(prompts)
            prompts = prompts[start:] + prompts[:start]
            if mode == "parallel":
                warmup = int(level) if plan.warmup is None else plan.warmup
                records = await closed_loop(
                    client.send,
                    prompts,
                    parallel=int(level),
                    requests=requests,
                    deadline_s=plan.timeout_s,
                    warmup=warmup,
                )
                used = len(records.measured) + len(records.background)
            else:
                records = await open_loop(
                    client.send,
                    prompts,
                    rate=level,
                    requests=requests,
                    seed=plan.seed + index,
                    deadline_s=plan.timeout_s,
                )
                used = requests
            result = summarise(
                records.measured, mode=mode, level=level, planned=requests, background=records.background
            )
            on_level(result)
            results.append(result)
    return results
