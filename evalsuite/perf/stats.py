"""Statistics of one load level: per-request timings in, percentiles and throughputs out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise


@dataclass(frozen=True)
class RequestRecord:
    """What the client saw of one request; times in seconds since the level started."""

    start_s: float
    """When the request was sent."""
    end_s: float
    """When its response ended (or failed)."""
    chunk_times_s: tuple[float, ...] = ()
    """Arrival of each streamed chunk that carried text, in order."""
    prompt_tokens: int = 0
    """Prompt length as the server counted it (0 when it reports no usage)."""
    output_tokens: int = 0
    """Generated tokens as the server counted them (text chunks when it reports no usage)."""
    error: str | None = None
    """Why the request failed; ``None`` when it succeeded."""

    @property
    def ok(self) -> bool:
        """Whether the request succeeded."""
        return self.error is None

    @property
    def latency_s(self) -> float:
        """End-to-end latency."""
        return self.end_s - self.start_s

    @property
    def ttft_s(self) -> float | None:
        """Time to the first text chunk, ``None`` when nothing arrived."""
        return self.chunk_times_s[0] - self.start_s if self.chunk_times_s else None


@dataclass(frozen=True)
class Distribution:
    """Summary of one timing, in seconds."""

    mean: float
    """Arithmetic mean."""
    p50: float
    """Median."""
    p90: float
    """90th percentile."""
    p99: float
    """99th percentile."""

    @classmethod
    def of(cls, values: Sequence[float]) -> Distribution | None:
        """The summary of ``values``, or ``None`` when there are none."""
        if not values:
            return None
        ordered = sorted(values)
        return cls(
            mean=sum(ordered) / len(ordered),
            p50=percentile(ordered, 50, presorted=True),
            p90=percentile(ordered, 90, presorted=True),
            p99=percentile(ordered, 99, presorted=True),
        )


@dataclass(frozen=True)
class LevelResult:
    """What one load level (a concurrency or an arrival rate) measured."""

    mode: str
    """``parallel`` (closed loop) or ``rate`` (open-loop Poisson arrivals)."""
    level: float
    """Requests kept in flight (``parallel``) or mean arrivals per second (``rate``)."""
    requests: int
    """Requests sent at this level."""
    completed: int
    """Requests that succeeded."""
    failed: int
    """Requests that failed (HTTP errors, broken streams, the level's deadline)."""
    wall_s: float
    """Seconds from the first request sent to the last one ended."""
    ttft_s: Distribution | None
    """Time to first token."""
    tpot_s: Distribution | None
    """Time per output token after the first, per request: (latency - TTFT) / (output tokens - 1)."""
    itl_s: Distribution | None
    """Inter-token latency: every gap between successive text chunks, pooled over requests."""
    latency_s: Distribution | None
    """End-to-end latency."""
    request_throughput: float
    """Requests completed per second of wall time (warm-up and fillers that ended within it included)."""
    output_throughput: float
    """Output tokens delivered per second of wall time: every token of the completed measured requests,
    plus the warm-up and filler tokens that arrived within it (so that a closed loop's rate is the
    server's at exactly ``parallel`` in flight, not diluted by the load that kept it there)."""
    mean_prompt_tokens: float
    """Mean prompt length of completed requests, as the server counted it."""
    mean_output_tokens: float
    """Mean output length of completed requests, as the server counted it."""
    peak_in_flight: int
    """Most requests the client had in flight at once (warm-up and fillers included) over the wall time."""
    mean_in_flight: float
    """Requests in flight averaged over the wall time (warm-up and fillers included)."""
    not_sent: int = 0
    """Requests planned but not sent because the level's deadline had passed."""
    error_samples: tuple[str, ...] = ()
    """Up to three distinct error messages."""


def percentile(values: Sequence[float], q: float, *, presorted: bool = False) -> float:
    """The ``q``-th percentile with linear interpolation between order statistics (numpy's default)."""
    ordered = values if presorted else sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def in_flight(
    records: Sequence[RequestRecord], window: tuple[float, float] | None = None
) -> tuple[int, float]:
    """Peak and time-weighted mean of the number of requests in flight over ``window``.

    ``window`` defaults to the first start to the last end. A request that ends at the instant
    another starts does not overlap it: ends are counted first.
    """
    if not records:
        return 0, 0.0
    low, high = window or (min(r.start_s for r in records), max(r.end_s for r in records))
    spans = [(max(r.start_s, low), min(r.end_s, high)) for r in records]
    spans = [(a, b) for a, b in spans if a < b or (a == b and low <= a <= high)]
    events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    peak = current = 0
    area = 0.0
    previous = low
    for time_s, step in events:
        area += current * (time_s - previous)
        previous = time_s
        current += step
        peak = max(peak, current)
    return peak, area / (high - low) if high > low else float(peak)


def _background_within(
    background: Sequence[RequestRecord], window: tuple[float, float] | None, ok: Sequence[RequestRecord]
) -> tuple[int, float]:
    """Requests completed, and output tokens delivered, by ``background`` within ``window``.

    A request's tokens are its chunks within the window times its tokens per chunk (servers may
    put several tokens in a chunk); unfinished ones take the measured requests' tokens per chunk.
    """
    if window is None:
        return 0, 0.0
    low, high = window
    chunks = sum(len(r.chunk_times_s) for r in ok)
    per_chunk = sum(r.output_tokens for r in ok) / chunks if chunks else 1.0
    done, tokens = 0, 0.0
    for r in background:
        inside = sum(1 for t in r.chunk_times_s if low <= t <= high)
        ratio = r.output_tokens / len(r.chunk_times_s) if r.ok and r.chunk_times_s else per_chunk
        tokens += inside * ratio
        done += r.ok and low <= r.end_s <= high
    return done, tokens


def summarise(
    records: Sequence[RequestRecord],
    *,
    mode: str,
    level: float,
    planned: int | None = None,
    background: Sequence[RequestRecord] = (),
) -> LevelResult:
    """Aggregate the records of one level into a ``LevelResult``.

    ``planned``: requests meant to be measured; ``background``: the level's warm-up and filler
    requests, which count towards the in-flight figures and the throughputs over the measured
    requests' span (first start to last end), never towards the latencies.
    """
    ok = [r for r in records if r.ok]
    failed = [r for r in records if not r.ok]
    wall_s = max(r.end_s for r in records) - min(r.start_s for r in records) if records else 0.0
    ttfts = [t for r in ok if (t := r.ttft_s) is not None]
    tpots = [
        (r.latency_s - t) / (r.output_tokens - 1)
        for r in ok
        if (t := r.ttft_s) is not None and r.output_tokens > 1
    ]
    gaps = [b - a for r in ok for a, b in pairwise(r.chunk_times_s)]
    output_tokens = sum(r.output_tokens for r in ok)
    window = (min(r.start_s for r in records), max(r.end_s for r in records)) if records else None
    peak, mean = in_flight([*records, *background], window)
    extra_done, extra_tokens = _background_within(background, window, ok)
    return LevelResult(
        mode=mode,
        level=level,
        requests=len(records),
        completed=len(ok),
        failed=len(failed),
        wall_s=wall_s,
        ttft_s=Distribution.of(ttfts),
        tpot_s=Distribution.of(tpots),
        itl_s=Distribution.of(gaps),
        latency_s=Distribution.of([r.latency_s for r in ok]),
        request_throughput=(len(ok) + extra_done) / wall_s if wall_s > 0 else 0.0,
        output_throughput=(output_tokens + extra_tokens) / wall_s if wall_s > 0 else 0.0,
        mean_prompt_tokens=sum(r.prompt_tokens for r in ok) / len(ok) if ok else 0.0,
        mean_output_tokens=output_tokens / len(ok) if ok else 0.0,
        peak_in_flight=peak,
        mean_in_flight=mean,
        not_sent=max(0, (planned or 0) - len(records)),
        error_samples=tuple(dict.fromkeys(r.error or "" for r in failed))[:3],
    )
