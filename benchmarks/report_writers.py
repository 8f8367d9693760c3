"""Report writers at scale: seconds and peak memory of each writer in ``evalsuite.reports`` on N items.

    python benchmarks/report_writers.py [--items 10000,100000] [--samples 1] [--only xlsx,html]

For each size N, builds N synthetic ``ItemResult`` s (two benchmarks with subgroups, ``--samples``
samples each of a few hundred characters of reasoning; some wrong, truncated, errored, or holding
text that breaks naive writers: markup, ``=`` formulas, control characters) and their ``Summary``,
then runs each writer once in a forked child process so that one writer's garbage does not count
against the next: ``record`` (run.json + items.jsonl), ``details`` (details/*.jsonl), ``meta``
(meta.jsonl), ``json`` (summary.json), ``junit``, ``html``, ``xlsx``, and ``write_reports`` (all of
them, as the plugin calls it at session end).

Prints one line per writer: wall and CPU seconds (CPU is the steadier figure on a busy machine),
and the peak RSS delta in MiB (the child's peak resident set minus its resident set when the writer
started: what the writer held at most, beyond the items every writer shares); then the size of the
xlsx file. The RSS delta misses memory the child reuses from what the parent had freed;
``--tracemalloc`` adds the exact peak of Python allocations during the writer, at the cost of
slower (so not comparable) timings. Linux only (fork, /proc/self/status).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evalsuite.metrics import Summary, summarize  # noqa: E402
from evalsuite.reports import write_reports  # noqa: E402
from evalsuite.reports.html import write_html  # noqa: E402
from evalsuite.reports.junit import write_junit  # noqa: E402
from evalsuite.reports.records import write_details, write_json, write_meta, write_record  # noqa: E402
from evalsuite.reports.xlsx import write_xlsx  # noqa: E402
from evalsuite.types import ItemResult, RunRecord, SampleResult  # noqa: E402

TEXTS = [
    "Let me think step by step. " * 12 + "So the answer is \\boxed{{{ans}}}.",
    "<think>We have $x^2 + 2x + 1 = 0$, so $(x+1)^2 = 0$ & x = -1 < 0.</think> Answer: {ans}",
    "=SUM(A1:A9) is not a formula here; first compute 3 * 4 = 12, then add. Final answer: {ans}",
    "control \x00\x07\x1b chars, emoji 🤖 and ünïcödé — " + "more reasoning " * 20 + "answer {ans}",
]


def synthetic_run(n: int, samples: int, seed: int = 0) -> RunRecord:
    """``n`` items over two benchmarks (subject/level subgroups), ``samples`` samples each."""
    rng = random.Random(seed)
    items = []
    for i in range(n):
        bench = "math500" if i % 3 else "gsm8k"
        gold = str(rng.randint(1, 999))
        out = []
        for k in range(samples):
            r = rng.random()
            if r < 0.03:
                out.append(SampleResult(k, "", False, 0.0, None, "engine error", "error", 0, "HTTP 503"))
            elif r < 0.1:
                text = "Let me think step by step. " * 40
                out.append(SampleResult(k, text, False, 0.0, None, "truncated", "length", 2048))
            else:
                ok = r < 0.6
                ans = gold if ok else str(int(gold) + 1)
                text = rng.choice(TEXTS).format(ans=ans)
                out.append(
                    SampleResult(
                        k,
                        text,
                        ok,
                        float(ok),
                        ans,
                        "equivalent" if ok else "not equivalent",
                        "stop",
                        rng.randint(40, 2047),
                    )
                )
        items.append(
            ItemResult(
                bench,
                f"test/{i:06d}",
                {"subject": ["algebra", "geometry", "counting"][i % 3], "level": str(1 + i % 5)},
                f"Problem {i}: what is {gold} in <b>HTML</b> & $\\LaTeX$? Put the answer in \\boxed{{}}.",
                gold,
                tuple(out),
            )
        )
    meta = {"model": "/models/synthetic-1.5B/", "engine": "fake", "seed": seed}
    return RunRecord(f"bench-{n}", meta, tuple(items))


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _measure(fn: Callable[[], object], traced: bool) -> tuple[float, float, float, float]:
    """Run ``fn`` in a forked child; return (wall seconds, CPU seconds, peak RSS delta in MiB, peak
    Python allocations in MiB: tracemalloc's, when ``traced``, else nan)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # reset the peak RSS to the current RSS (Linux >= 4.0)
        except OSError:
            pass
        before = _rss_kib("VmRSS")
        if traced:
            tracemalloc.start()
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        peak = _rss_kib("VmHWM")
        py_peak = tracemalloc.get_traced_memory()[1] / 2**20 if traced else math.nan
        os.write(w, f"{wall} {cpu} {(peak - before) / 1024} {py_peak}".encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not data:
        raise RuntimeError(f"writer child failed (status {status})")
    wall, cpu, mib, py_mib = data.split()
    return float(wall), float(cpu), float(mib), float(py_mib)


def _writers(d: Path, run: RunRecord, summary: Summary) -> dict[str, Callable[[], object]]:
    """Writer name -> a call that writes its report of ``run`` under ``d``."""
    return {
        "record": lambda: write_record(d, run),
        "details": lambda: write_details(d, run.items),
        "meta": lambda: write_meta(d, summary),
        "json": lambda: write_json(d / "summary.json", {"summary": summary.to_dict()}),
        "junit": lambda: write_junit(d / "junit.xml", run, summary),
        "html": lambda: write_html(d / "report.html", run, summary, []),
        "xlsx": lambda: write_xlsx(d / "scores.xlsx", run.items, summary),
        "write_reports": lambda: write_reports(d / "all", run, summary, []),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", default="10000,100000", help="comma-separated item counts")
    ap.add_argument("--samples", type=int, default=1, help="samples per item")
    ap.add_argument("--only", default="", help="comma-separated writer names (default: all)")
    ap.add_argument(
        "--tracemalloc", action="store_true", help="also print peak Python allocations (slows every writer)"
    )
    args = ap.parse_args()
    only = {x for x in args.only.split(",") if x}
    for n in (int(x) for x in args.items.split(",")):
        t0 = time.perf_counter()
        run = synthetic_run(n, args.samples)
        summary = summarize(run.items)
        print(f"N={n} items x {args.samples} samples (built in {time.perf_counter() - t0:.1f} s)")
        with tempfile.TemporaryDirectory() as tmp:
            for name, fn in _writers(Path(tmp), run, summary).items():
                if not only or name in only:
                    wall, cpu, mib, py_mib = _measure(fn, args.tracemalloc)
                    line = f"  {name:<14} {wall:7.3f} s wall {cpu:7.3f} s CPU   peak RSS +{mib:6.1f} MiB"
                    if args.tracemalloc:
                        line += f"   traced peak {py_mib:6.1f} MiB"
                    print(line, flush=True)
            xlsx = Path(tmp) / "scores.xlsx"  # written by the xlsx child
            if xlsx.exists():
                print(f"  (xlsx file: {xlsx.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
