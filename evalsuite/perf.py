"""``evalsuite perf``: serving speed of an OpenAI-compatible endpoint.

Sends a bounded number of synthetic requests (``--requests``, at most ``--concurrency`` in flight,
all within ``--timeout-s``) to the one URL the user gives, through the ``openai`` engine's own
streaming client, and reports time to first token (TTFT), time per output token after the first
(TPOT), end-to-end latency percentiles, request and output-token throughput, and errors.

Prompts are random common words, different for every request so that a prefix cache cannot
shortcut prefill. One calibration request (also a warm-up, not counted) measures how many tokens
the server's tokenizer makes of them, so prompts come out close to ``--prompt-tokens``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from evalsuite.engines.base import EngineConfig, EngineError
from evalsuite.engines.openai import OpenAIEngine
from evalsuite.types import Completion, Message, Request, SamplingConfig

MAX_REQUESTS = 10_000
_COMMON_WORDS = (
    "time year people way day man thing woman life child world school state family student group "
    "country problem hand part place case week company system program question work government number "
    "night point home water room mother area money story fact month lot right study book eye job word "
    "business issue side kind head house service friend father power hour game line end member law car"
)
WORDS = tuple(_COMMON_WORDS.split())


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
        return cls(
            mean=sum(values) / len(values),
            p50=percentile(values, 50),
            p90=percentile(values, 90),
            p99=percentile(values, 99),
        )


@dataclass(frozen=True)
class PerfReport:
    """What one ``evalsuite perf`` run measured."""

    requests: int
    """Requests sent (calibration excluded)."""
    completed: int
    """Requests that finished without error."""
    errors: int
    """Requests that failed (HTTP errors, connection errors, deadline)."""
    wall_s: float
    """Seconds from the first request sent to the last completion."""
    ttft_s: Distribution | None
    """Time to first token."""
    tpot_s: Distribution | None
    """Time per output token after the first: (latency - TTFT) / (output tokens - 1)."""
    latency_s: Distribution | None
    """End-to-end latency of a request."""
    request_throughput: float
    """Completed requests per second of wall time."""
    output_throughput: float
    """Output tokens per second of wall time (completed requests)."""
    mean_prompt_tokens: float
    """Mean prompt length as the server counted it."""
    mean_output_tokens: float
    """Mean generated length as the server counted it."""
    error_samples: tuple[str, ...] = ()
    """Up to three distinct error messages."""


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile with linear interpolation between order statistics (numpy's default)."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarise(completions: Sequence[Completion], wall_s: float) -> PerfReport:
    """Aggregate per-request timings into a ``PerfReport``."""
    ok = [c for c in completions if c.finish_reason != "error"]
    failed = [c for c in completions if c.finish_reason == "error"]
    ttfts = [c.ttft_s for c in ok if c.ttft_s is not None]
    tpots = [
        (c.latency_s - c.ttft_s) / (c.output_tokens - 1)
        for c in ok
        if c.ttft_s is not None and c.output_tokens > 1
    ]
    output_tokens = sum(c.output_tokens for c in ok)
    samples = tuple(dict.fromkeys(c.error or "unknown error" for c in failed))[:3]
    return PerfReport(
        requests=len(completions),
        completed=len(ok),
        errors=len(failed),
        wall_s=wall_s,
        ttft_s=Distribution.of(ttfts),
        tpot_s=Distribution.of(tpots),
        latency_s=Distribution.of([c.latency_s for c in ok]),
        request_throughput=len(ok) / wall_s if wall_s > 0 else 0.0,
        output_throughput=output_tokens / wall_s if wall_s > 0 else 0.0,
        mean_prompt_tokens=sum(c.prompt_tokens for c in ok) / len(ok) if ok else 0.0,
        mean_output_tokens=output_tokens / len(ok) if ok else 0.0,
        error_samples=samples,
    )


def format_table(report: PerfReport, *, title: str = "") -> str:
    """A plain-text table of the report (timings in milliseconds)."""
    lines = [title] if title else []
    lines.append(f"{'metric':<16}{'mean':>10}{'p50':>10}{'p90':>10}{'p99':>10}")
    for name, dist in (
        ("TTFT (ms)", report.ttft_s),
        ("TPOT (ms)", report.tpot_s),
        ("latency (ms)", report.latency_s),
    ):
        if dist is None:
            lines.append(f"{name:<16}{'n/a':>10}{'n/a':>10}{'n/a':>10}{'n/a':>10}")
        else:
            cells = "".join(f"{1000 * v:>10.1f}" for v in (dist.mean, dist.p50, dist.p90, dist.p99))
            lines.append(f"{name:<16}{cells}")
    lines += [
        f"requests: {report.completed} completed, {report.errors} errors, in {report.wall_s:.2f} s",
        f"request throughput: {report.request_throughput:.2f} req/s",
        f"output throughput: {report.output_throughput:.1f} tok/s",
        f"mean tokens: {report.mean_prompt_tokens:.1f} prompt, {report.mean_output_tokens:.1f} output",
    ]
    lines += [f"error: {e}" for e in report.error_samples]
    return "\n".join(lines)


def synthetic_prompt(rng: random.Random, index: int, words: int) -> str:
    """A prompt of ``words`` random words after a unique request number."""
    return f"{index}: " + " ".join(rng.choice(WORDS) for _ in range(max(1, words)))


def make_request(engine: OpenAIEngine, text: str, key: str, sampling: SamplingConfig) -> Request:
    """A request carrying ``text`` as the user turn (chat mode) or the raw prompt (completion mode)."""
    messages = (Message("user", text),)
    return Request(
        key=key, item_nodeid=f"perf/{key}", sample_index=0, messages=messages, prompt=text, sampling=sampling
    )


def calibrated_words(engine: OpenAIEngine, prompt_tokens: int, sampling: SamplingConfig) -> int:
    """Words per prompt so that the server counts about ``prompt_tokens`` tokens (one warm-up request).

    The probe is at most 64 words long so that it fits any context window, whatever the tokenizer
    makes of a word; the prompt length is then scaled linearly from what the server counted.
    """
    probe_words = min(prompt_tokens, 64)
    probe = make_request(engine, synthetic_prompt(random.Random(-1), 0, probe_words), "calibration", sampling)
    out: list[Completion] = []
    engine.generate([probe], out.append)
    if not out or out[0].finish_reason == "error":
        raise EngineError(f"the calibration request failed: {out[0].error if out else 'no answer'}")
    if out[0].prompt_tokens <= 0:  # the server reports no usage: assume a token per word
        return prompt_tokens
    return max(1, round(probe_words * prompt_tokens / out[0].prompt_tokens))


def run_perf(engine: OpenAIEngine, args: argparse.Namespace) -> PerfReport:
    """Calibrate, send ``args.requests`` requests, and summarise their timings."""
    sampling = SamplingConfig(temperature=args.temperature, max_tokens=args.max_tokens, seed=args.seed)
    words = calibrated_words(engine, args.prompt_tokens, SamplingConfig(max_tokens=1, seed=args.seed))
    rng = random.Random(args.seed)
    requests = [
        make_request(engine, synthetic_prompt(rng, i + 1, words), f"perf-{i}", sampling)
        for i in range(args.requests)
    ]
    completions: list[Completion] = []
    start = time.perf_counter()
    engine.generate(requests, completions.append, deadline_s=args.timeout_s)
    return summarise(completions, time.perf_counter() - start)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evalsuite perf", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--api-url", required=True, help="Base URL of the server, e.g. http://127.0.0.1:8000/v1"
    )
    parser.add_argument("--model-name", help="Model to query (default: the first one the server lists)")
    parser.add_argument(
        "--api-mode",
        choices=("chat", "completion"),
        default="completion",
        help="Endpoint (default: completion)",
    )
    parser.add_argument(
        "--requests", type=int, default=64, help=f"Requests to send, at most {MAX_REQUESTS} (default: 64)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=16, help="Requests in flight at once (default: 16)"
    )
    parser.add_argument(
        "--prompt-tokens", type=int, default=256, help="Approximate prompt length (default: 256)"
    )
    parser.add_argument(
        "--max-tokens", type=int, default=128, help="Output tokens per request (default: 128)"
    )
    parser.add_argument("--temperature", type=float, default=0.0, help="Sampling temperature (default: 0)")
    parser.add_argument("--seed", type=int, default=0, help="Seed of prompts and sampling (default: 0)")
    parser.add_argument(
        "--ignore-eos",
        action="store_true",
        help="Always generate --max-tokens (vLLM's ignore_eos; default: off)",
    )
    parser.add_argument(
        "--timeout-s", type=float, default=600.0, help="Stop waiting after this long (default: 600)"
    )
    parser.add_argument(
        "--connect-timeout-s", type=float, default=10.0, help="Wait for the server (default: 10)"
    )
    parser.add_argument("--json", type=Path, help="Also write the figures to this JSON file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when every request succeeded, 1 when some failed, 2 on bad options."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for name, low in (("requests", 1), ("concurrency", 1), ("prompt_tokens", 1), ("max_tokens", 1)):
        if getattr(args, name) < low:
            parser.error(f"--{name.replace('_', '-')} must be at least {low}")
    if args.requests > MAX_REQUESTS:
        parser.error(f"--requests {args.requests}: at most {MAX_REQUESTS}")
    options: dict[str, object] = {"wait_for_server_s": args.connect_timeout_s, "max_retries": 0}
    if args.ignore_eos:
        options["extra_body"] = {"ignore_eos": True}
    config = EngineConfig(
        api_url=args.api_url,
        model_name=args.model_name,
        api_mode=args.api_mode,
        max_concurrency=args.concurrency,
        options=options,
    )
    try:
        engine = OpenAIEngine(config)  # times each request once: retries would blur the figures
        report = run_perf(engine, args)
    except EngineError as exc:
        print(f"evalsuite perf: error: {exc}", file=sys.stderr)
        return 2
    title = (
        f"{engine.model_name} at {engine.base_url} ({args.api_mode}): {args.requests} requests, "
        f"concurrency {args.concurrency}, ~{args.prompt_tokens} prompt tokens, max {args.max_tokens} output tokens"
    )
    print(format_table(report, title=title))
    if args.json:
        settings = {k: v for k, v in vars(args).items() if k != "json"}
        payload = {
            "settings": settings,
            "model": engine.model_name,
            "fingerprint": engine.fingerprint(),
            **asdict(report),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0 if report.errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
