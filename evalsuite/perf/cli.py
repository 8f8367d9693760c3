"""``evalsuite perf`` options, and the run: sweep, print the table, write JSON and HTML."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from evalsuite.engines.base import EngineConfig, EngineError
from evalsuite.engines.openai import OpenAIEngine
from evalsuite.options import BY_FLAG
from evalsuite.perf.load import ServerError, Target
from evalsuite.perf.prompts import PromptError, dataset_sources, random_sources
from evalsuite.perf.report import format_table, table_row, to_html, to_json
from evalsuite.perf.stats import LevelResult
from evalsuite.perf.sweep import SweepPlan, run_sweep
from evalsuite.redaction import api_key, redact
from evalsuite.settings import default_data_dir

MAX_REQUESTS = 10_000
"""Most requests per level."""
IGNORE_EOS_SERVERS = frozenset({"vllm", "sglang"})
"""``owned_by`` values of servers that accept ``ignore_eos`` (others may reject unknown fields)."""


def _numbers(kind: type, low: float) -> Any:
    def parse(text: str) -> tuple[Any, ...]:
        try:
            values = tuple(kind(v) for v in text.split(",") if v.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated numbers") from None
        if not values or any(v < low for v in values):
            raise argparse.ArgumentTypeError(f"{text!r}: every value must be at least {low:g}")
        return values

    return parse


SHARED_FLAGS = ("--api-key", "--model-name", "--api-mode", "--temperature", "--data-dir", "--wait-for-server")
"""Options with the same meaning as in an evaluation: declared once, in ``evalsuite.options``."""


def add_shared(parser: argparse.ArgumentParser, flag: str) -> None:
    """Add the evaluation option table's row for ``flag``: its help, default, type, choices and check."""
    option = BY_FLAG[flag]

    def parse(text: str) -> Any:
        value = option.type(text) if option.type is not None else text
        if option.check is not None:
            try:
                option.check(value)
            except ValueError as exc:
                raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
        return value

    kwargs: dict[str, Any] = {"help": option.help, "default": option.default, "type": parse}
    if option.choices is not None:
        kwargs["choices"] = option.choices
    parser.add_argument(option.flag, *option.aliases, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evalsuite perf",
        description="Serving benchmark of an OpenAI-compatible endpoint: a concurrency sweep (closed "
        "loop) and/or Poisson arrival rates (open loop), with TTFT, TPOT, inter-token latency, "
        "latency percentiles and throughput per level.",
    )
    add = parser.add_argument
    add(
        "--api-url",
        help="Base URL of the one OpenAI-compatible server to measure (e.g. http://127.0.0.1:8000/v1). Required.",
    )
    for flag in SHARED_FLAGS:
        add_shared(parser, flag)
    add(
        "--parallel",
        type=_numbers(int, 1),
        help="Comma-separated concurrency levels, each kept exactly in flight. Default: 8 unless --rate.",
    )
    add(
        "--rate",
        type=_numbers(float, 1e-3),
        help="Comma-separated Poisson arrival rates in requests/s. Default: none.",
    )
    add(
        "--requests",
        type=_numbers(int, 1),
        help="Requests per level: one number for all, or one per level, parallel levels first. "
        f"Default: 4 x parallel, at least 16; 64 per rate; at most {MAX_REQUESTS}.",
    )
    add(
        "--dataset",
        default="random",
        help="'random' words, a benchmark name (builtin, gsm8k...) or a JSONL file. Default: random.",
    )
    add(
        "--prompt-len",
        type=int,
        help="Resize each prompt to about this many tokens. Default: 256 for random, else as is.",
    )
    add("--max-tokens", type=int, default=128, help="Output tokens per request. Default: 128.")
    add(
        "--ignore-eos",
        choices=("auto", "on", "off"),
        default="auto",
        help="Send ignore_eos so every request generates --max-tokens; auto: when the server is vLLM or SGLang. Default: auto.",
    )
    add("--seed", type=int, default=0, help="Seed of the random prompts and the arrival times. Default: 0.")
    add(
        "--warmup",
        type=int,
        help="Unmeasured requests leading into each --parallel level, sent without a pause before the "
        "measured ones. Default: the level's --parallel.",
    )
    add("--timeout-s", type=float, default=600.0, help="Deadline of each level in seconds. Default: 600.")
    add("--json", type=Path, help="Write every level's figures to this JSON file. Default: none.")
    add(
        "--html",
        type=Path,
        help="Write a self-contained HTML report (table, latency-vs-throughput curves). Default: none.",
    )
    return parser


def plan_of(args: argparse.Namespace, parser: argparse.ArgumentParser) -> SweepPlan:
    """The sweep the options ask for; ``parser.error`` (exit 2) on inconsistent options."""
    parallel = args.parallel or (() if args.rate else (8,))
    rates = args.rate or ()
    defaults = [max(16, 4 * p) for p in parallel] + [64 for _ in rates]
    if args.requests is None:
        requests = tuple(min(n, MAX_REQUESTS) for n in defaults)
    elif len(args.requests) == 1:
        requests = args.requests * len(defaults)
    elif len(args.requests) == len(defaults):
        requests = args.requests
    else:
        parser.error(
            f"--requests has {len(args.requests)} values for {len(defaults)} levels; give one or one per level"
        )
    if max(requests) > MAX_REQUESTS:
        parser.error(f"--requests {max(requests)}: at most {MAX_REQUESTS} per level")
    for name in ("max_tokens", "prompt_len"):
        if (value := getattr(args, name)) is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if (args.warmup is not None and args.warmup < 0) or args.timeout_s <= 0:
        parser.error("--warmup must be at least 0 and --timeout-s positive")
    prompt_len = args.prompt_len if args.prompt_len or args.dataset != "random" else 256
    return SweepPlan(
        parallel=parallel,
        rates=rates,
        requests=requests,
        prompt_len=prompt_len,
        warmup=args.warmup,
        seed=args.seed,
        timeout_s=args.timeout_s,
    )


def target_of(engine: OpenAIEngine, args: argparse.Namespace, key: str | None) -> Target:
    """Endpoint, headers and body fields of every request (no per-request seed: vLLM on CPU rejects it)."""
    body: dict[str, Any] = {
        "model": engine.model_name,
        "max_tokens": args.max_tokens,
        "temperature": args.temperature,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if args.ignore_eos == "on" or (
        args.ignore_eos == "auto" and engine.card.get("owned_by") in IGNORE_EOS_SERVERS
    ):
        body["ignore_eos"] = True
    return Target(
        base_url=engine.base_url,
        api_mode=args.api_mode,
        body=body,
        headers={"Authorization": f"Bearer {key}"} if key else {},
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when every request succeeded, 1 when some failed, 2 on bad options."""
    parser = build_parser()
    args = parser.parse_args(argv)
    plan = plan_of(args, parser)
    key = api_key(args.api_key)
    if args.api_url is None:
        parser.error("--api-url is required, e.g. --api-url http://127.0.0.1:8000/v1")
    if "," in args.api_url:
        parser.error(f"--api-url {args.api_url}: perf measures one endpoint; run it once per server")
    try:
        if args.dataset == "random":
            # Enough for warm-up and fillers too: every request of the run gets its own prompt.
            sources = random_sources(sum(plan.requests) + 3 * sum(plan.parallel) + 16, seed=args.seed)
        else:
            data_dir = args.data_dir or default_data_dir(Path.cwd())
            sources = dataset_sources(args.dataset, data_dir=data_dir, seed=args.seed)
        config = EngineConfig(
            api_url=args.api_url,
            model_name=args.model_name,
            api_mode=args.api_mode,
            api_key=key,
            options={"wait_for_server_s": 10.0 if args.wait_for_server is None else args.wait_for_server},
        )
        engine = OpenAIEngine(config)  # waits for the server and finds the model; sends nothing itself
        target = target_of(engine, args, key)
    except (EngineError, PromptError) as exc:
        print(f"evalsuite perf: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{engine.model_name} at {engine.base_url} ({args.api_mode}), dataset {args.dataset}, "
        f"prompt ~{plan.prompt_len or 'as is'} tokens, max {args.max_tokens} output tokens, "
        f"ignore_eos {'on' if target.body.get('ignore_eos') else 'off'}"
    )

    def progress(result: LevelResult) -> None:
        cells = table_row(result)
        print(f"  level {cells[0]}: {cells[1]} ok, {cells[2]} failed, {cells[4]} tok/s", flush=True)

    try:
        results = asyncio.run(run_sweep(target, sources, plan, progress))
    except (ServerError, aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
        # A --prompt-len probe failed: the server refuses these requests, there is nothing to measure.
        print(f"evalsuite perf: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(format_table(results))
    meta = {
        "model": engine.model_name,
        "server": engine.base_url,
        "fingerprint": engine.fingerprint(),
        "ignore_eos": bool(target.body.get("ignore_eos")),
        "settings": redact({k: v for k, v in vars(args).items() if k not in ("json", "html")}),
    }
    for path, text in ((args.json, to_json(results, meta)), (args.html, to_html(results, meta))):
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    failed = any(r.failed or r.not_sent for r in results)
    return 1 if failed else 0
