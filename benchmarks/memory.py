"""Controller memory: the xdist controller's peak RSS at 1k, 10k and 100k items, against the engine's own.

    python benchmarks/memory.py [--items 1000,10000,100000] [--workers 2] [--trace 10000]

For each size N a custom JSONL of N arithmetic questions and a fake-engine script that answers
every one of them (half right) are written to a temporary directory (as ``cached_rerun.py`` does),
and ``pytest -n WORKERS --engine fake`` runs cold: every completion is generated. Its memory is
read by ``benchmarks/memory_probe.py``, a plugin loaded into each process with ``-p``: the
controller's own peak RSS (``ru_maxrss`` of that process alone; its workers are children and not
counted), its VmRSS at each phase, and each worker's own peak.

"The engine's own" is the same command at one item: interpreter, pytest, xdist, evalsuite and the
fake engine loaded, nothing per item. Prints per N: the controller's peak, its growth over that
baseline (the target: <= 200 MB at 100,000 items), the growth per item, the RSS at the phases
(items loaded, tests done, reports written), the largest worker peak, wall seconds, and pytest's
floor: its controller's growth on N do-nothing cases (half failing, as ours), ``cached_rerun``'s
floor run, which no pytest-native suite can go below.

``--trace N,...`` reruns those sizes with ``tracemalloc`` on in the controller
(``MEMPROBE_TRACE=1``; slower) and prints where its Python memory grew: allocation sites from
loading the items to the end of the tests, and the peak of each report writer.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from cached_rerun import FLOOR, write_inputs  # noqa: E402

TARGET_MB = 200
TARGET_ITEMS = 100_000


def run(n: int, root: Path, workers: int, *, trace: str = "", census: bool = False) -> dict:
    """One cold run of ``n`` items; the probe's figures for the controller and its workers."""
    data, script = write_inputs(root, n)
    probe = root / f"probe{n}-{time.time_ns()}"
    cache, reports = root / f"cache{n}-{time.time_ns()}", root / f"reports{n}"
    # Path-valued options as --opt=VALUE: pytest's rootdir detection takes a separate value for a path.
    cmd = [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "memory_probe", "-q",
        "--engine", "fake", f"--model={script}", f"--data={data}", f"--cache-dir={cache}",
        f"--report-dir={reports}", "--max-tokens", "64", "-n", str(workers),
    ]
    env = {
        **os.environ, "MEMPROBE_OUT": str(probe), "MEMPROBE_TRACE": trace or "0",
        "MEMPROBE_CENSUS": "1" if census else "0",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "benchmarks"), str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    controller = json.loads((probe / "controller.json").read_text())
    workers_peak = [json.loads(p.read_text())["ru_maxrss_kib"] for p in probe.glob("gw*.json")]
    phases = {p["phase"]: p for p in controller["phases"]}
    return {
        "n": n, "wall": wall, "peak_kib": controller["ru_maxrss_kib"], "phases": phases,
        "worker_peak_kib": max(workers_peak, default=0), "growth": controller.get("growth", {}),
        "profile": controller.get("profile", []), "census": controller.get("census", []),
        "holders": controller.get("holders", {}), "report_attrs": controller.get("report_attrs", {}), "holders_detail": controller.get("holders_detail", {}),
    }


def floor_peak(n: int, root: Path, workers: int) -> int:
    """pytest alone (``cached_rerun``'s floor: N do-nothing cases, half failing): its controller's peak RSS, KiB."""
    from evalsuite.invocation import LEAN_PYTEST_ARGS

    folder = root / f"floor{n}"
    folder.mkdir()
    (folder / "test_floor.py").write_text(FLOOR.format(n=n), encoding="utf-8")
    (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    probe = folder / "probe"
    env = {**os.environ, "MEMPROBE_OUT": str(probe), "MEMPROBE_TRACE": "0", "MEMPROBE_CENSUS": "0",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "benchmarks"), os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, "-m", "pytest", "-q", "--tb=no", *LEAN_PYTEST_ARGS, "-p", "memory_probe",
           "-n", str(workers), "test_floor.py"]
    done = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise SystemExit(f"floor run failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return json.loads((probe / "controller.json").read_text())["ru_maxrss_kib"]


def mb(kib: float) -> float:
    return kib / 1024


def print_census(r: dict) -> None:
    print(f"\nwhat the controller holds when the last test ended, {r['n']} items (deep sizes):")
    for name, h in r["holders"].items():
        print(f"  {name:<28} {mb(h['kib']):8.1f} MB  len {h['len']}")
    if r["holders_detail"]:
        print("  " + ", ".join(f"{k}: {v}" for k, v in r["holders_detail"].items()))
    if r["report_attrs"]:
        print("  terminalreporter.stats by report attribute: " + ", ".join(
            f"{a} {mb(k):.1f} MB" for a, k in sorted(r["report_attrs"].items(), key=lambda x: -x[1]) if k >= 10))
    print("  largest types (gc-tracked objects, shallow sizes):")
    for t in r["census"][:10]:
        print(f"    {t['type']:<28} {mb(t['kib']):8.1f} MB {t['count']:>9} objects")


def print_trace(r: dict) -> None:
    print(f"\ntracemalloc, controller, {r['n']} items (Python allocations only):")
    for phase, p in r["phases"].items():
        if "traced_kib" in p:
            print(f"  {phase:>12}: traced {mb(p['traced_kib']):8.1f} MB, peak since last phase {mb(p['traced_peak_kib']):8.1f} MB")
    for span, tops in r["growth"].items():
        print(f"  largest growth {span}:")
        for t in tops[:10]:
            print(f"    {mb(t['kib']):8.1f} MB {t['count']:>9} blocks  {t['site']:<28} via {' < '.join(reversed(t['frames']))}")
    print("  report steps (peak above what was allocated before the call / kept after it):")
    for p in r["profile"]:
        print(f"    {p['call']:<36} peak +{mb(p['peak_above_kib']):7.1f} MB  kept {mb(p['kept_kib']):+7.1f} MB  {p['s']:6.2f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", default="1000,10000,100000", help="Comma-separated item counts. Default: 1000,10000,100000.")
    parser.add_argument("--workers", type=int, default=2, help="xdist workers. Default: 2.")
    parser.add_argument("--trace", default="", help="Comma-separated item counts to rerun with tracemalloc on. Default: none.")
    parser.add_argument("--trace-from", choices=["reports", "start"], default="reports",
                        help="Trace from the end of the tests (default; cheap) or from the start (~30x slower runs).")
    parser.add_argument("--census", default="", help="Comma-separated item counts to rerun with a census of what the "
                        "controller holds when the last test ended (gc objects, deep sizes). Default: none.")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.items.split(",") if x]
    print(f"controller memory benchmark ({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, -n {args.workers})")
    with tempfile.TemporaryDirectory(prefix="evalsuite-memory-") as tmp:
        root = Path(tmp)
        base = run(1, root, args.workers)
        base_kib = base["peak_kib"]
        floor_base = floor_peak(1, root, args.workers)
        print(f"engine's own (1 item): controller peak {mb(base_kib):.1f} MB, worker peak {mb(base['worker_peak_kib']):.1f} MB; "
              f"pytest's floor (1 do-nothing case): {mb(floor_base):.1f} MB")
        print(f"{'items':>7} {'peak MB':>8} {'+base MB':>9} {'B/item':>7} {'items MB':>9} {'tests MB':>9} "
              f"{'reports MB':>11} {'worker MB':>10} {'wall s':>7} {'floor +MB':>10} {'floor B/item':>13}")
        results = []
        for n in sizes:
            r = run(n, root, args.workers)
            results.append(r)
            ph = r["phases"]
            growth = r["peak_kib"] - base_kib
            floor = floor_peak(n, root, args.workers) - floor_base
            print(
                f"{n:>7} {mb(r['peak_kib']):>8.1f} {mb(growth):>9.1f} {growth * 1024 / n:>7.0f} "
                f"{mb(ph['configured']['VmRSS']):>9.1f} {mb(ph['tests_done']['VmHWM']):>9.1f} "
                f"{mb(ph['reports_done']['VmHWM']):>11.1f} {mb(r['worker_peak_kib']):>10.1f} {r['wall']:>7.1f} "
                f"{mb(floor):>10.1f} {floor * 1024 / n:>13.0f}", flush=True
            )
        print("(items MB: RSS once the items are loaded and the engine created; tests MB / reports MB: the "
              "controller's high-water mark when the last test ended / after the reports; floor: pytest's own "
              "controller on N do-nothing cases, above its own at one case)")
        at_target = [r for r in results if r["n"] == TARGET_ITEMS]
        for r in at_target:
            growth_mb = mb(r["peak_kib"] - base_kib)
            verdict = "met" if growth_mb <= TARGET_MB else "NOT met"
            print(f"target: <= {TARGET_MB} MB above the engine's own at {TARGET_ITEMS:,} items: "
                  f"{growth_mb:.1f} MB, {verdict}")
        if not at_target:
            print(f"target: <= {TARGET_MB} MB above the engine's own at {TARGET_ITEMS:,} items (not run; pass --items ...,100000)")
        for n in (int(x) for x in args.census.split(",") if x):
            print_census(run(n, root, args.workers, census=True))
        for n in (int(x) for x in args.trace.split(",") if x):
            print_trace(run(n, root, args.workers, trace="1" if args.trace_from == "start" else "reports"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
