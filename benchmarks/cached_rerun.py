"""Cached reruns: the suite re-verifying completions it already has, vs a bare loop doing the same.

    python benchmarks/cached_rerun.py [--items 300,10000] [--workers 2] [--repeat 1]

For each size N: a custom JSONL of N arithmetic questions and a fake-engine script that answers
half of them right are written to a temporary directory; one cold run fills the completion cache;
then, side by side in one process tree:
1. bare: one Python process that plans the same requests, reads every completion from the cache
   and runs the math verifier on each (what re-verifying costs without pytest); its own wall time,
   interpreter start and imports included;
2. rescore: ``pytest -n WORKERS --rescore`` (verifies cached completions, generates nothing);
3. rerun: ``pytest -n WORKERS`` again (everything cached: the engine never starts);
4. floor: pytest itself at the same -n on N parametrized tests that do nothing (the same half fail,
   one line each, as ours do): what one pytest case per item costs before any evalsuite code runs.
Prints wall seconds and the ratios suite/bare and suite/floor, with the issue's targets: <= 5 s at
300 items and <= 2 x bare + 5 s at 10,000 (at -n 2). ``--workers 1,2,8`` shows how it scales with
xdist workers.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BARE = """
import json, sys, time
t0 = time.perf_counter()
from evalsuite.benchmarks import load_benchmark
from evalsuite.benchmarks.base import LoadOptions
from evalsuite.cache import CompletionCache
from evalsuite.engines.base import EngineConfig
from evalsuite.engines.fake import create_fake_engine
from evalsuite.generation import GenerationLeader
from evalsuite.scoring import evaluate_item
from evalsuite.types import SamplingConfig
data, script, cache_path, max_tokens = sys.argv[1:5]
items = load_benchmark("custom", LoadOptions(extra={"data": data, "verifier": "math"})).items
engine = create_fake_engine(EngineConfig(model=script))
cache = CompletionCache(cache_path)
leader = GenerationLeader(engine, cache, run_id="bare", sampling=SamplingConfig(max_tokens=int(max_tokens)), samples=1)
requests = leader.plan(items)
found = cache.get_many([r.key for r in requests])
by_item = {}
for r in requests:
    by_item.setdefault(r.item_nodeid, []).append(found[r.key])
correct = sum(evaluate_item(item, "", by_item[item.nodeid]).passed for item in items)
print(json.dumps({"items": len(items), "correct": correct, "seconds": time.perf_counter() - t0}))
"""


FLOOR = """
import pytest

@pytest.mark.parametrize("i", range({n}), ids=[f"custom/q{{i:06d}}" for i in range({n})])
def test_item(i):
    if i % 2:
        pytest.fail("wrong", pytrace=False)
"""


def floor_run(root: Path, n: int, workers: int) -> float:
    """pytest alone: N do-nothing cases, half failing with one line, plugins as in this project's runs."""
    folder = root / "floor"
    folder.mkdir(exist_ok=True)
    (folder / "test_floor.py").write_text(FLOOR.format(n=n), encoding="utf-8")
    (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    from evalsuite.invocation import LEAN_PYTEST_ARGS

    cmd = [sys.executable, "-m", "pytest", "-q", "--tb=no", *LEAN_PYTEST_ARGS,
           *(["-n", str(workers)] if workers > 1 else []), "test_floor.py"]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=folder, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 1:
        raise SystemExit(f"floor run failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return wall


def write_inputs(root: Path, n: int) -> tuple[Path, Path]:
    rng = random.Random(n)
    rows, responses = [], {}
    for i in range(n):
        a, b = rng.randrange(1000), rng.randrange(1000)
        question = f"Item {i}: what is {a} + {b}?"
        rows.append({"id": f"q{i:06d}", "prompt": question, "gold": str(a + b)})
        answer = a + b if i % 2 == 0 else a + b + 1
        responses[question] = f"<think>\n{a} plus {b}\n</think>\nThe answer is \\boxed{{{answer}}}."
    data = root / f"items{n}.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    script = root / f"script{n}.json"
    script.write_text(json.dumps({"responses": responses, "default": "no idea"}), encoding="utf-8")
    return data, script


def pytest_run(data: Path, script: Path, root: Path, workers: int, *extra: str) -> float:
    cmd = [
        # --opt=PATH: separate, the temporary paths would become pytest's rootdir (README, "Paths outside").
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--engine", "fake", f"--model={script}",
        f"--data={data}", f"--cache-dir={root / 'cache'}", f"--report-dir={root / 'reports'}",
        "--max-tokens", "64", *(["-n", str(workers)] if workers > 1 else []), *extra,
    ]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return wall


def bare_loop(data: Path, script: Path, root: Path) -> float:
    cache = root / "cache" / "completions.sqlite"
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", BARE, str(data), str(script), str(cache), "64"],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    json.loads(out.stdout.strip().splitlines()[-1])
    return wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", default="300,10000", help="Comma-separated item counts. Default: 300,10000.")
    parser.add_argument("--workers", default="2", help="Comma-separated xdist worker counts. Default: 2.")
    parser.add_argument("--repeat", type=int, default=1, help="Rounds per measurement (medians). Default: 1.")
    args = parser.parse_args(argv)
    env_note = f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
    print(f"cached rerun benchmark ({env_note})")
    print(f"{'items':>7} {'-n':>3} {'bare s':>8} {'floor s':>8} {'rescore s':>10} {'rerun s':>8} "
          f"{'rescore/bare':>13} {'rerun/floor':>12} {'target s':>9}")
    for n in (int(x) for x in args.items.split(",")):
        with tempfile.TemporaryDirectory(prefix="evalsuite-rerun-") as tmp:
            root = Path(tmp)
            data, script = write_inputs(root, n)
            pytest_run(data, script, root, 2)  # cold: fills the cache
            for workers in (int(x) for x in args.workers.split(",")):
                bare, floor, rescore, rerun = [], [], [], []
                for _ in range(args.repeat):
                    bare.append(bare_loop(data, script, root))
                    floor.append(floor_run(root, n, workers))
                    rescore.append(pytest_run(data, script, root, workers, "--rescore"))
                    rerun.append(pytest_run(data, script, root, workers))
                b, f, s, r = (statistics.median(x) for x in (bare, floor, rescore, rerun))
                target = 5.0 if n <= 300 else 2 * b + 5
                print(f"{n:>7} {workers:>3} {b:>8.1f} {f:>8.1f} {s:>10.1f} {r:>8.1f} {s / b:>13.2f} {r / f:>12.2f} "
                      f"{target:>9.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
