"""How far the math verifier can be trusted, measured on MATH-500's own reference solutions.

For every problem: its reference ``solution`` verified against its own ``answer`` (should be
correct: target >= 99%) and against the answer of another problem with a different answer (should
be wrong: target <= 0.5%). Each in three forms of the text: as written (``boxed``), with the last
``\\boxed{X}`` replaced by ``X`` (``plain``: the answer only in prose, as models often leave it),
and ``plain`` followed by an empty ``\\boxed{}`` copied from the instruction (``empty-box``). The same pairs go through the math-verify library used directly (its
documented ``parse``/``verify``, main thread, its own signal timeouts) to report agreement, and both
are timed. Also the per-call overhead of the worker process that enforces the hard time limit.

Run: ``python benchmarks/verify_agreement.py [--data PATH] [--show N]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from evalsuite.verify.math import compare_answers, normalize, verify_math  # noqa: E402
from evalsuite.verify.timeout import pool_for  # noqa: E402

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "math500.jsonl"


def other_index(rows: list[dict], i: int) -> int:
    """The next problem (cyclically) whose answer differs from problem ``i``'s after normalisation."""
    own = normalize(rows[i]["answer"])
    for step in range(1, len(rows)):
        j = (i + step) % len(rows)
        if normalize(rows[j]["answer"]) != own:
            return j
    raise ValueError("every answer is the same")


def unboxed(solution: str) -> str:
    """The solution with its last ``\\boxed{X}`` written as plain ``X``."""
    start = solution.rfind("\\boxed{")
    if start < 0:
        return solution
    depth = 0
    for j in range(start + len("\\boxed"), len(solution)):
        depth += {"{": 1, "}": -1}.get(solution[j], 0)
        if depth == 0:
            return solution[:start] + solution[start + len("\\boxed{") : j] + solution[j + 1 :]
    return solution


FORMS = {
    "boxed": lambda s: s,
    "plain": unboxed,
    "empty-box": lambda s: unboxed(s) + "\n\nPut your final answer within \\boxed{}.",
}


def library_verdict(solution: str, answer: str) -> bool:
    """math-verify as its README uses it."""
    from math_verify import parse, verify

    return bool(verify(parse(f"${answer}$"), parse(solution)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help=f"MATH-500 JSONL (default {DEFAULT_DATA})"
    )
    parser.add_argument("--show", type=int, default=20, help="Failures to print per kind (default 20)")
    args = parser.parse_args()
    if not args.data.exists():
        print(f"no data at {args.data}; pass --data", file=sys.stderr)
        return 2
    rows = [json.loads(line) for line in args.data.open()]
    pairs = []
    for form, rewrite in FORMS.items():
        pairs += [(rewrite(r["solution"]), r["answer"], f"{form}/own", i) for i, r in enumerate(rows)]
        pairs += [
            (rewrite(r["solution"]), rows[other_index(rows, i)]["answer"], f"{form}/other", i)
            for i, r in enumerate(rows)
        ]

    pool = pool_for(["evalsuite.verify.math"])
    t0 = time.perf_counter()
    pool.call("evalsuite.verify.math:compare_answers", "1", "1", timeout_s=5)  # starts the worker
    startup_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    ours = [verify_math(sol, ans) for sol, ans, _, _ in pairs]
    ours_s = time.perf_counter() - t0

    import logging

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    t0 = time.perf_counter()
    lib = [library_verdict(sol, ans) for sol, ans, _, _ in pairs]
    lib_s = time.perf_counter() - t0

    n_calls = 300
    t0 = time.perf_counter()
    for _ in range(n_calls):
        pool.call("evalsuite.verify.math:compare_answers", "x+1", "1+x", timeout_s=5)
    worker_call_s = (time.perf_counter() - t0) / n_calls
    t0 = time.perf_counter()
    for _ in range(n_calls):
        compare_answers("x+1", "1+x")
    inline_call_s = (time.perf_counter() - t0) / n_calls

    for kind in dict.fromkeys(p[2] for p in pairs):
        idx = [k for k, p in enumerate(pairs) if p[2] == kind]
        n_correct = sum(ours[k].correct for k in idx)
        n_lib = sum(lib[k] for k in idx)
        agree = sum(ours[k].correct == lib[k] for k in idx)
        errors = sum(ours[k].error is not None for k in idx)
        target = ">= 99%" if kind.endswith("/own") else "<= 0.5%"
        print(
            f"solution ({kind.split('/')[0]}) vs {kind.split('/')[1]:5s} answer: evalsuite {n_correct}/{len(idx)} correct "
            f"({100 * n_correct / len(idx):.1f}%, target {target}), errors {errors}; "
            f"math-verify {n_lib}/{len(idx)} ({100 * n_lib / len(idx):.1f}%); "
            f"agreement {100 * agree / len(idx):.1f}%"
        )
        bad = [k for k in idx if ours[k].correct != kind.endswith("/own")]
        for k in bad[: args.show]:
            sol, ans, _, i = pairs[k]
            v = ours[k]
            print(f"  [{i}] gold={ans!r} extracted={v.extracted!r} reason={v.reason} lib={lib[k]}")
    print(
        f"speed: evalsuite {len(pairs) / ours_s:.0f} verifications/s, math-verify {len(pairs) / lib_s:.0f}/s; "
        f"worker start {startup_s:.2f} s, comparison in worker {1000 * worker_call_s:.2f} ms/call "
        f"vs in-process {1000 * inline_call_s:.2f} ms/call"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
