"""Suite vs raw vLLM: generation throughput on the same prompts and sampling params, one process tree.

    python benchmarks/throughput.py [--model fixtures/models/tiny-r1] [--max-tokens 256] [--workers 8]
                                    [--schedules auto,stream] [--repeat N]

Each measurement runs in a fresh child process of this one, so none inherits another's state:
1. raw: ``vllm.LLM.generate`` on every built-in item's prompt (rendered with the model's chat
   template, exactly as the suite renders it), timed without the model load;
2. leader: our vLLM engine wrapper and generation leader alone (cache writes included, no pytest);
3. suite: ``pytest -n WORKERS --model ... --no-cache`` in a subprocess, whose generation leader
   reports its own throughput in ``run.json``.
   The suite runs once per ``--verify-schedule`` in ``--schedules`` (default: auto, which holds
   verification until generation ends when vLLM computes on this machine's CPUs, and stream).
All three time generation alone: the engine's start-up (``Engine.load``: import, weights) is timed
apart and printed as "load s". Prints each one's throughput and its ratio to raw (target >= 0.95),
plus the suite's wall time; ``--repeat`` interleaves rounds and prints medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def raw_vllm(model: str, max_tokens: int) -> dict[str, float]:
    from vllm import SamplingParams

    from evalsuite.benchmarks import load_benchmark
    from evalsuite.engines.base import EngineConfig
    from evalsuite.engines.vllm import VLLMEngine

    engine = VLLMEngine(EngineConfig(model=model))  # same engine kwargs as the suite
    prompts = [{"prompt_token_ids": engine.checkpoint.encode(engine.render(i.messages))}
               for i in load_benchmark("builtin").items]
    t0 = time.perf_counter()
    engine.load()
    load_s = time.perf_counter() - t0
    llm = engine.llm
    params = SamplingParams(temperature=0.0, max_tokens=max_tokens, skip_special_tokens=False)
    t0 = time.perf_counter()
    outs = llm.generate(prompts, params, use_tqdm=False)
    seconds = time.perf_counter() - t0
    tokens = sum(len(o.outputs[0].token_ids) for o in outs)
    engine.close()
    return {"requests": len(prompts), "tokens": tokens, "seconds": seconds, "tok_s": tokens / seconds,
            "load_s": load_s}


def leader_only(model: str, max_tokens: int) -> dict[str, float]:
    """Our engine wrapper and generation leader (cache writes included), without pytest around it."""
    from evalsuite.benchmarks import load_benchmark
    from evalsuite.cache import CompletionCache
    from evalsuite.engines.base import EngineConfig
    from evalsuite.engines.vllm import VLLMEngine
    from evalsuite.generation import GenerationLeader
    from evalsuite.types import SamplingConfig

    engine = VLLMEngine(EngineConfig(model=model))
    with tempfile.TemporaryDirectory() as tmp:
        leader = GenerationLeader(engine, CompletionCache(Path(tmp) / "c.sqlite"), run_id="bench",
                                  sampling=SamplingConfig(max_tokens=max_tokens), samples=1, use_cache=False)
        leader.start(list(load_benchmark("builtin").items))
        leader.join()
    engine.close()
    stats = leader.stats
    assert stats is not None
    return {"requests": stats.generated, "tokens": stats.output_tokens, "seconds": stats.seconds,
            "tok_s": stats.tokens_per_second, "load_s": stats.load_seconds}


def suite(model: str, max_tokens: int, workers: int, schedule: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pytest", "-n", str(workers), "--model", model, "--engine", "vllm",
               "--max-tokens", str(max_tokens), "--no-cache", "--report-dir", tmp, "--run-id", "bench",
               "--verify-schedule", schedule,
               "-q", "-p", "no:cacheprovider", "--cache-dir", tmp]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        run_json = Path(tmp) / "bench" / "run.json"
        if not run_json.exists():
            sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
            raise SystemExit("suite run wrote no run.json")
        gen = json.loads(run_json.read_text())["meta"]["generation"]
        summary = json.loads((Path(tmp) / "bench" / "summary.json").read_text())["summary"]
    return {"requests": gen["generated"], "tokens": gen["output_tokens"], "seconds": gen["seconds"],
            "tok_s": gen["tokens_per_second"], "load_s": gen["load_seconds"], "wall_s": wall,
            "score": summary["benchmarks"]["builtin"]["overall"]["metrics"]["avg@n"]["value"]}


def _child(name: str, model: str, max_tokens: int) -> dict[str, float]:
    """Run ``raw`` or ``leader`` in a fresh Python process; its result comes back as JSON."""
    cmd = [sys.executable, __file__, "--measure", name, "--model", model, "--max-tokens", str(max_tokens)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"{name} measurement failed (exit {proc.returncode})")
    return json.loads(lines[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "fixtures/models/tiny-r1"))
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--schedules", default="auto,stream",
                        help="--verify-schedule values to run the suite with (comma-separated). Default: auto,stream.")
    parser.add_argument("--repeat", type=int, default=1,
                        help="Rounds of every measurement, interleaved; medians are printed. Default: 1.")
    parser.add_argument("--measure", choices=("raw", "leader"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    if args.measure:
        measure = raw_vllm if args.measure == "raw" else leader_only
        print(json.dumps(measure(args.model, args.max_tokens)), flush=True)
        return 0
    rounds: list[dict[str, dict[str, float]]] = []
    for _ in range(args.repeat):
        rows = {name: _child(name, args.model, args.max_tokens) for name in ("raw", "leader")}
        for schedule in args.schedules.split(","):
            rows[f"suite/{schedule}"] = suite(args.model, args.max_tokens, args.workers, schedule)
        for r in rows.values():
            r["ratio"] = r["tok_s"] / rows["raw"]["tok_s"]
        rounds.append(rows)
    print(f"{args.repeat} round(s); medians, ratio range in brackets")
    print(f"{'':14} {'requests':>8} {'tokens':>8} {'gen s':>7} {'tok/s':>7} {'ratio':>6} {'[min-max]':>12} "
          f"{'load s':>7} {'wall s':>7} {'score':>6}")
    for name in rounds[0]:
        r = {k: statistics.median(x[name][k] for x in rounds) for k in rounds[0][name]}
        ratios = [x[name]["ratio"] for x in rounds]
        wall = f"{r['wall_s']:>7.1f}" if "wall_s" in r else f"{'':>7}"
        score = f"{r['score']:>6.3f}" if "score" in r else ""
        print(f"{name:14} {r['requests']:>8.0f} {r['tokens']:>8.0f} {r['seconds']:>7.2f} {r['tok_s']:>7.0f} "
              f"{r['ratio']:>6.3f} {f'[{min(ratios):.2f}-{max(ratios):.2f}]':>12} {r['load_s']:>7.1f} {wall} {score}")
    print(f"ratio = tok/s / raw tok/s of the same round (generation alone; target >= 0.95 for the suite under "
          f"-n {args.workers}); wall s = the whole pytest run (start-up, load, generation, verification, reports)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
