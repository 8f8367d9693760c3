"""Cold run: the whole ``pytest -n 8`` run's wall time vs a raw ``vllm.LLM`` script on the same prompts.

    python benchmarks/cold_run.py [--model fixtures/models/tiny-r1 | --shape qwen2-0.5b]
                                  [--benchmark gsm8k] [--data-dir DIR] [--items N] [--max-tokens N]
                                  [--workers 8] [--rounds 3] [--ab-preload]

Before anything is timed, the prompts are planned with evalsuite's own ``GenerationLeader.plan``
(the model's chat template, the benchmark's prompt, ``--limit N``, ``--max-tokens`` as given, the
cache keys), deduplicated as the leader deduplicates them, and tokenized as the vLLM engine
tokenizes them. Then, in fresh processes, rounds interleaved (raw, suite, raw, suite...):

1. raw: a standalone script (``import vllm; llm = vllm.LLM(**kwargs); llm.generate(token ids,
   SamplingParams(temperature=0, max_tokens=...))``) with exactly the engine kwargs evalsuite's
   ``VLLMEngine.engine_kwargs()`` gives, wall-timed by this process from spawn to exit; the script
   reports when its imports, load and generation ended;
2. suite: ``python -m pytest -n WORKERS --model=M --engine vllm --benchmark B --limit N
   --max-tokens T`` with a fresh ``--cache-dir`` and ``--report-dir``, wall-timed from spawn to exit;
   its generation seconds and tokens come from ``reports/<run-id>/run.json``;
3. with ``--ab-preload``, the suite twice more, changed by ``-p`` plugins of this script (evalsuite
   has no switch for its preload, and nothing in evalsuite changes): ``no-preload`` stubs out the
   configure-time engine preload (the engine loads once the first worker's collection is in);
   ``load-first`` starts the load at configure time before planning anything (evalsuite's preload
   plans every request first, to skip the load when all is cached, and planning imports
   transformers for the tokenizer on the main thread before xdist starts its workers).

Prints, per measurement, the median and [min-max] of wall seconds, generation seconds and output
tok/s, a time breakdown (medians: before generation, load, generation, after generation, exit),
the ratios suite/raw (wall: target <= 1.05; generation tok/s: target >= 0.97 with --shape,
>= 0.95 otherwise), and how many of the suite's completions (read from its completion cache by
cache key) are identical to raw's texts, plus whether its plan's keys equal the ones raw was given.

``--shape qwen2-0.5b`` builds once (offline, cached in ~/.cache/evalsuite-bench) a random-init
Qwen2ForCausalLM of Qwen2-0.5B's shape (hidden 896, 24 layers, 14 heads, 2 KV heads, intermediate
4864, tied embeddings, context 4096) with the tiny model's tokenizer and vocabulary, saved in bf16
(evalsuite runs it in fp32 on CPU, as vLLM does with these kwargs). Greedy decoding of random
weights rarely meets EOS, so nearly every request generates max_tokens. Its defaults (32 items,
32 tokens) keep one round (raw + suite) to about 3 minutes on 2 quiet CPU cores (vLLM computes the
model on one of them); 5-7 minutes when other jobs load the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # plan with the evalsuite that the suite runs (pytest runs with cwd=ROOT)
TINY = ROOT / "fixtures" / "models" / "tiny-r1"
SHAPES = {
    "qwen2-0.5b": {
        "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14,
        "num_key_value_heads": 2, "max_position_embeddings": 4096, "tie_word_embeddings": True,
        "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
    },
}
SHAPE_DEFAULTS = {"items": 32, "max_tokens": 32}
DEFAULTS = {"items": 300, "max_tokens": 256}
ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "VLLM_CPU_KVCACHE_SPACE": "1"}

RAW = r'''
import json, sys, time
t_start = time.time()


def main():
    spec = json.load(open(sys.argv[1]))
    import vllm
    t_import = time.time()
    llm = vllm.LLM(**spec["engine_kwargs"])
    t_load = time.time()
    prompts = [{"prompt_token_ids": ids} for ids in spec["prompt_token_ids"]]
    params = [vllm.SamplingParams(**p) for p in spec["sampling"]]
    t0 = time.perf_counter()
    outs = llm.generate(prompts, params, use_tqdm=False)
    seconds = time.perf_counter() - t0
    t_gen = time.time()
    texts = [o.outputs[0].text for o in outs]
    tokens = sum(len(o.outputs[0].token_ids) for o in outs)
    json.dump(texts, open(spec["out"], "w"))
    print(json.dumps({"t_start": t_start, "t_import": t_import, "t_load": t_load, "t_gen": t_gen,
                      "seconds": seconds, "tokens": tokens, "requests": len(outs)}), flush=True)


if __name__ == "__main__":  # vLLM spawns its engine core, which imports this file again
    main()
'''
"""The raw script: nothing but vLLM between process start and exit (the spec is read from a file)."""

PLUGINS = {
    "no-preload": '''
"""-p plugin of benchmarks/cold_run.py: evalsuite's configure-time engine preload turned off."""
from evalsuite.generation import GenerationLeader

GenerationLeader.preload = lambda self, items: None
''',
    "load-first": '''
"""-p plugin of benchmarks/cold_run.py: the preload starts the engine load before planning anything.

evalsuite's preload first plans every request in its background thread (rendering needs the
tokenizer) to skip the load when every completion is cached; a cold run cannot be cached, so here
the load starts at once and ``start`` plans on its own.
"""
import threading

from evalsuite.generation import GenerationLeader


def preload(self, items):
    if not self.generate_missing or self._load_thread is not None:
        return
    self._planned_ahead.set()  # nothing planned ahead: start() plans
    self._load_thread = threading.Thread(target=self._load, name="evalsuite-load", daemon=True)
    self._load_thread.start()


GenerationLeader.preload = preload
''',
}
"""Variants of the suite for ``--ab-preload``, as ``-p`` plugins; evalsuite itself is not changed."""


# preparation (untimed) -------------------------------------------------------------------------

def build_shape(name: str) -> Path:
    """A random-init checkpoint of ``name``'s shape with the tiny model's tokenizer, built once."""
    out = Path(os.environ.get("EVALSUITE_BENCH_CACHE", Path.home() / ".cache" / "evalsuite-bench")) / f"{name}-tiny-vocab"
    if (out / "model.safetensors").exists() or (out / "model.safetensors.index.json").exists():
        return out
    import shutil

    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for f in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        shutil.copy(TINY / f, tmp / f)
    tiny = json.loads((TINY / "config.json").read_text())
    config = Qwen2Config(
        vocab_size=tiny["vocab_size"], bos_token_id=tiny["bos_token_id"], eos_token_id=tiny["eos_token_id"],
        pad_token_id=tiny["pad_token_id"], hidden_act="silu", use_sliding_window=False, **SHAPES[name],
    )
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32).to(torch.bfloat16)
    model.save_pretrained(tmp, safe_serialization=True)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def plan(model: str, benchmark: str, data_dir: str | None, items: int, max_tokens: int) -> dict[str, Any]:
    """What evalsuite would send: the engine kwargs, the requests (deduplicated, in plan order), their keys."""
    from evalsuite.benchmarks.base import LoadOptions
    from evalsuite.cache import CompletionCache
    from evalsuite.engines.base import EngineConfig
    from evalsuite.engines.vllm import VLLMEngine
    from evalsuite.generation import GenerationLeader
    from evalsuite.selection import load_benchmarks, select_items
    from evalsuite.settings import Selection
    from evalsuite.types import SamplingConfig

    selection = Selection((benchmark,), LoadOptions(data_dir=data_dir), items, (), False, 0)
    chosen = select_items([i for d in load_benchmarks(selection) for i in d.items], selection)
    engine = VLLMEngine(EngineConfig(model=model))  # the suite's defaults: seed 0, dtype auto
    with tempfile.TemporaryDirectory() as tmp:
        leader = GenerationLeader(engine, CompletionCache(Path(tmp) / "c.sqlite"), run_id="plan",
                                  sampling=SamplingConfig(max_tokens=max_tokens), samples=1, max_tokens_given=True)
        requests = list({r.key: r for r in leader.plan(chosen)}.values())
    return {
        "engine_kwargs": engine.engine_kwargs(),
        "keys": [r.key for r in requests],
        "items": len(chosen),
        "prompt_token_ids": [engine.checkpoint.encode(r.prompt) for r in requests],
        "sampling": [
            {"temperature": r.sampling.temperature, "top_p": r.sampling.top_p, "max_tokens": r.sampling.max_tokens,
             "repetition_penalty": r.sampling.repetition_penalty, "stop": list(r.sampling.stop) or None,
             "skip_special_tokens": False}
            for r in requests
        ],
    }


# measurements ----------------------------------------------------------------------------------

def _env(extra_path: str | None = None) -> dict[str, str]:
    env = {**os.environ, **ENV}
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (extra_path, env.get("PYTHONPATH")) if p)
    return env


def _timed(cmd: Sequence[str], *, cwd: Path, env: Mapping[str, str], tmp: Path) -> tuple[float, int, str, float]:
    """Run ``cmd``: (spawn time, exit status, its output's tail, exit time).

    The output goes to a file, not a pipe: a pipe stays open until every child that inherited it
    (vLLM's engine core, multiprocessing's resource tracker) has exited, which is not the process's exit.
    """
    log = tmp / "output.log"
    with log.open("w") as out:
        t0 = time.time()
        proc = subprocess.Popen(cmd, cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT)
        returncode = proc.wait()
        t_exit = time.time()
    text = log.read_text(errors="replace")
    return t0, returncode, text[-4000:] if returncode else text, t_exit


def raw(spec: Mapping[str, Any], tmp: Path) -> dict[str, Any]:
    script, spec_file = tmp / "raw_vllm.py", tmp / "raw_spec.json"
    script.write_text(RAW)
    spec_file.write_text(json.dumps({**spec, "out": str(tmp / "raw_texts.json")}))
    t0, returncode, output, t_exit = _timed([sys.executable, str(script), str(spec_file)], cwd=tmp, env=_env(), tmp=tmp)
    lines = [line for line in output.splitlines() if line.startswith("{")]
    if returncode != 0 or not lines:
        sys.stderr.write(output)
        raise SystemExit(f"raw vLLM script failed (exit {returncode})")
    r = json.loads(lines[-1])
    texts = json.loads((tmp / "raw_texts.json").read_text())
    return {
        "wall_s": t_exit - t0, "gen_s": r["seconds"], "tokens": r["tokens"], "tok_s": r["tokens"] / r["seconds"],
        # breakdown: interpreter start | import vllm + vllm.LLM() | generate | until exit
        **_phases(t0, t_configured=r["t_start"], load_s=r["t_load"] - r["t_start"], t_gen=r["t_gen"],
                  gen_s=r["seconds"], t_done=r["t_gen"], t_exit=t_exit),
        "texts": dict(zip(spec["keys"], texts, strict=True)),
    }


def suite(model: str, args: argparse.Namespace, tmp: Path, *, variant: str | None = None) -> dict[str, Any]:
    reports, cache = tmp / "reports", tmp / "cache"
    cmd = [sys.executable, "-m", "pytest", "-n", str(args.workers), f"--model={model}", "--engine", "vllm",
           "--benchmark", args.benchmark, "--limit", str(args.items), "--max-tokens", str(args.max_tokens),
           f"--cache-dir={cache}", f"--report-dir={reports}", "--run-id", "bench", "-q", "-p", "no:cacheprovider"]
    if args.data_dir:
        cmd.append(f"--data-dir={args.data_dir}")
    plugin_dir = None
    if variant:
        plugin_dir = tmp / "plugins"
        plugin_dir.mkdir(exist_ok=True)
        module = "cold_run_" + variant.replace("-", "_")
        (plugin_dir / f"{module}.py").write_text(PLUGINS[variant])
        cmd += ["-p", module]
    t0, returncode, output, t_exit = _timed(cmd, cwd=ROOT, env=_env(str(plugin_dir) if plugin_dir else None), tmp=tmp)
    run_json = reports / "bench" / "run.json"
    if not run_json.exists():
        sys.stderr.write(output)
        raise SystemExit(f"suite run wrote no run.json (exit {returncode})")
    gen = json.loads(run_json.read_text())["meta"]["generation"]
    # The progress log's last write is the last completion; run.json is the reports' last file.
    t_gen = (reports / "bench" / "progress.log").stat().st_mtime
    t_reports = run_json.stat().st_mtime
    # Written by the leader at configure time, right before its preload plans and starts the engine's load.
    t_configured = (reports / "bench" / "engine-logging.json").stat().st_mtime
    with sqlite3.connect(cache / "completions.sqlite") as conn:
        keys = [k for (k,) in conn.execute("SELECT key FROM plan WHERE run_id = 'bench' ORDER BY rowid")]
        texts = dict(conn.execute("SELECT key, text FROM completions"))
    return {
        "wall_s": t_exit - t0, "gen_s": gen["seconds"], "tokens": gen["output_tokens"],
        "tok_s": gen["tokens_per_second"],
        **_phases(t0, t_configured=t_configured, load_s=gen["load_seconds"], t_gen=t_gen, gen_s=gen["seconds"],
                  t_done=t_reports, t_exit=t_exit),
        "texts": texts, "plan_keys": keys, "exit": returncode,
    }


def _phases(t0: float, *, t_configured: float, load_s: float, t_gen: float, gen_s: float, t_done: float,
            t_exit: float) -> dict[str, float]:
    """A run's wall time in consecutive phases (epoch times in, seconds out; they sum to the wall).

    start-up: spawn until the run's own code starts (raw: the script's first line; suite: the
    leader's configure, where it starts the engine load); pre-load: then until the load starts
    (the suite plans before it preloads; without the preload, collection comes first); load: the
    engine's (import vllm, ``vllm.LLM()``, tokenizer); gen: the first generation step until the last
    completion; after: then until the results are written (suite: engine close, verification,
    reports); exit: then until the process exited. A load that ends before the workers' collection
    shows its wait in pre-load.
    """
    gen_start = t_gen - gen_s
    return {"startup_s": t_configured - t0, "preload_s": gen_start - load_s - t_configured, "load_s": load_s,
            "gen_s": gen_s, "after_s": t_done - t_gen, "exit_s": t_exit - t_done}


# reporting (pure) ------------------------------------------------------------------------------

def compare_outputs(raw_texts: Mapping[str, str], suite_texts: Mapping[str, str], keys: Sequence[str]) -> tuple[int, int, int]:
    """(identical, differing, missing from the suite) over ``keys``."""
    same = sum(k in suite_texts and suite_texts[k] == raw_texts.get(k) for k in keys)
    missing = sum(k not in suite_texts for k in keys)
    return same, len(keys) - same - missing, missing


def spread(values: Sequence[float], fmt: str = ".1f") -> str:
    """``median [min-max]`` of ``values``; the median alone for one value."""
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:{fmt}}"
    return f"{med:{fmt}} [{min(values):{fmt}}-{max(values):{fmt}}]"


def table(rounds: Sequence[Mapping[str, Mapping[str, Any]]]) -> list[str]:
    """The measurements' table: one row per measurement, medians and ranges over the rounds."""
    names = list(rounds[0])
    lines = [f"{'':10} {'wall s':>20} {'gen s':>20} {'tok/s':>20} {'tokens':>7} {'wall/raw':>17} {'tok/s / raw':>17}"]
    for name in names:
        rows = [r[name] for r in rounds]
        wall_ratio = [r[name]["wall_s"] / r["raw"]["wall_s"] for r in rounds]
        tok_ratio = [r[name]["tok_s"] / r["raw"]["tok_s"] for r in rounds]
        lines.append(
            f"{name:10} {spread([r['wall_s'] for r in rows]):>20} {spread([r['gen_s'] for r in rows], '.2f'):>20} "
            f"{spread([r['tok_s'] for r in rows], '.0f'):>20} {statistics.median(r['tokens'] for r in rows):>7.0f} "
            f"{spread(wall_ratio, '.3f'):>17} {spread(tok_ratio, '.3f'):>17}"
        )
    return lines


def breakdown(rounds: Sequence[Mapping[str, Mapping[str, Any]]]) -> list[str]:
    """Where each measurement's wall time goes (medians)."""
    cols = [("start-up", "startup_s"), ("pre-load", "preload_s"), ("load", "load_s"), ("gen", "gen_s"),
            ("after gen", "after_s"), ("exit", "exit_s"), ("wall", "wall_s")]
    lines = [f"{'':10} " + " ".join(f"{c:>10}" for c, _ in cols)]
    for name in rounds[0]:
        cells = [statistics.median(r[name][k] for r in rounds) for _, k in cols]
        lines.append(f"{name:10} " + " ".join(f"{c:>10.1f}" for c in cells))
    return lines


# main ------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--model", help="Checkpoint directory. Default: fixtures/models/tiny-r1.")
    which.add_argument("--shape", choices=sorted(SHAPES), help="Random-init model of this shape, tiny tokenizer.")
    parser.add_argument("--benchmark", default="gsm8k", help="Benchmark (gsm8k, builtin...). Default: gsm8k.")
    parser.add_argument("--data-dir", help="Benchmark data directory. Default: evalsuite's (../shared/data).")
    parser.add_argument("--items", type=int, help="Items (--limit). Default: 300; 32 with --shape.")
    parser.add_argument("--max-tokens", type=int, help="New tokens per request. Default: 256; 64 with --shape.")
    parser.add_argument("--workers", type=int, default=8, help="xdist workers of the suite. Default: 8.")
    parser.add_argument("--rounds", type=int, default=3, help="Interleaved rounds; medians printed. Default: 3.")
    parser.add_argument("--ab-preload", action="store_true",
                        help="Also run the suite with its configure-time preload off (no-preload) and with the "
                             "preload loading before it plans (load-first).")
    args = parser.parse_args(argv)
    defaults = SHAPE_DEFAULTS if args.shape else DEFAULTS
    args.items = args.items or defaults["items"]
    args.max_tokens = args.max_tokens or defaults["max_tokens"]
    os.environ.update(ENV)
    if args.data_dir is None and args.benchmark != "builtin":
        from evalsuite.settings import default_data_dir

        args.data_dir = default_data_dir(ROOT)
    model = str(build_shape(args.shape)) if args.shape else str(Path(args.model or TINY).resolve())

    spec = plan(model, args.benchmark, args.data_dir, args.items, args.max_tokens)
    print(f"cold run: {Path(model).name}, {args.benchmark} {spec['items']} items -> {len(spec['keys'])} distinct "
          f"prompts, greedy, max_tokens {args.max_tokens}, pytest -n {args.workers}, {args.rounds} round(s)")
    print(f"machine: {os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at start")
    print(f"engine kwargs (raw and suite): {json.dumps(spec['engine_kwargs'])}")
    rounds: list[dict[str, dict[str, Any]]] = []
    checks: list[str] = []
    for i in range(args.rounds):
        row: dict[str, dict[str, Any]] = {}
        with tempfile.TemporaryDirectory(prefix="evalsuite-cold-") as tmp:
            row["raw"] = raw(spec, Path(tmp))
        for name in ["suite", *(PLUGINS if args.ab_preload else ())]:
            with tempfile.TemporaryDirectory(prefix="evalsuite-cold-") as tmp:
                row[name] = suite(model, args, Path(tmp), variant=None if name == "suite" else name)
            s = row[name]
            same, differ, missing = compare_outputs(row["raw"]["texts"], s["texts"], spec["keys"])
            plan_ok = "equal" if list(dict.fromkeys(s["plan_keys"])) == spec["keys"] else "DIFFERENT"
            checks.append(f"round {i + 1} {name}: {same}/{len(spec['keys'])} completions identical to raw "
                          f"({differ} differ, {missing} missing); plan keys {plan_ok}; pytest exit {s['exit']}")
        print(f"round {i + 1}: " + ", ".join(f"{n} {r['wall_s']:.1f} s" for n, r in row.items()), flush=True)
        rounds.append(row)
    print()
    print(f"{args.rounds} round(s): median [min-max]; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at end")
    print("\n".join(table(rounds)))
    print()
    print("time breakdown, medians (s): start-up = spawn until the raw script's first line / the suite's")
    print("configure (pytest, plugins, options, benchmark data); pre-load = then until the engine load starts")
    print("(suite: the preload plans every request first; without it, the workers' collection); load = import vllm")
    print("+ vllm.LLM() (+ tokenizer); gen = generation; after gen = last completion until the results are written")
    print("(suite: engine close, verification, reports); exit = then until the process exited")
    print("\n".join(breakdown(rounds)))
    print()
    print("\n".join(checks))
    target_tok = 0.97 if args.shape else 0.95
    med = {n: statistics.median(r[n]["wall_s"] / r["raw"]["wall_s"] for r in rounds) for n in rounds[0] if n != "raw"}
    tok = statistics.median(r["suite"]["tok_s"] / r["raw"]["tok_s"] for r in rounds)
    print(f"suite/raw wall {med['suite']:.3f} (target <= 1.05: {'met' if med['suite'] <= 1.05 else 'NOT met'}); "
          f"generation tok/s {tok:.3f} (target >= {target_tok}: {'met' if tok >= target_tok else 'NOT met'})")
    for name, ratio in med.items():
        if name != "suite":
            print(f"{name}/raw wall {ratio:.3f}")
    to_gen_end = statistics.median(r["suite"]["wall_s"] / (r["raw"]["wall_s"] - r["raw"]["exit_s"]) for r in rounds)
    print(f"suite wall / raw's spawn-to-last-completion (raw without its exit, vLLM's shutdown) {to_gen_end:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
