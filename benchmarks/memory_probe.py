"""A pytest plugin for ``benchmarks/memory.py``: each process's memory, phase by phase.

Loaded with ``-p memory_probe`` (``benchmarks/`` on ``PYTHONPATH``) into the controller and, through
xdist, into every worker. ``$MEMPROBE_OUT`` names a directory; at exit each process writes
``controller.json`` or ``<worker id>.json`` there: its peak RSS (``ru_maxrss`` of itself alone, never
its children) and, on the controller, VmRSS/VmHWM at each phase of the run.

``$MEMPROBE_TRACE=1`` also traces Python allocations on the controller (``tracemalloc``): the
largest growth between phases by allocation site, and the peak of each report writer, summary and
the recorder's steps measured around the call (``profile`` in the JSON).
"""

from __future__ import annotations

import atexit
import collections
import functools
import gc
import json
import os
import resource
import sys
import time
import tracemalloc
import types
from pathlib import Path
from typing import Any

import pytest

OUT = os.environ.get("MEMPROBE_OUT")
TRACE = os.environ.get("MEMPROBE_TRACE") in ("1", "reports")
TRACE_FROM_START = os.environ.get("MEMPROBE_TRACE") == "1"
"""``reports``: trace from the end of the tests only (tracing the whole run slows the controller ~30x)."""
CENSUS = os.environ.get("MEMPROBE_CENSUS") == "1"
FRAMES = 8

_state: dict[str, Any] = {"phases": [], "profile": [], "growth": {}}
_snapshots: dict[str, tracemalloc.Snapshot] = {}
_role = "controller"


def _status() -> dict[str, int]:
    """VmRSS and VmHWM of this process, in KiB."""
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    return out


def _phase(name: str, *, snapshot: bool = False) -> None:
    if _role != "controller":
        return
    entry: dict[str, Any] = {"phase": name, "t": time.time(), **_status()}
    if TRACE and tracemalloc.is_tracing():
        current, peak = tracemalloc.get_traced_memory()
        entry.update(traced_kib=current // 1024, traced_peak_kib=peak // 1024)
        tracemalloc.reset_peak()
        if snapshot:
            _snapshots[name] = tracemalloc.take_snapshot().filter_traces(
                [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap*")]
            )
    _state["phases"].append(entry)


def _top(after: str, before: str, limit: int = 15) -> list[dict[str, Any]]:
    """The allocation sites (innermost evalsuite/pytest frames shown) that grew most from ``before`` to ``after``."""
    stats = _snapshots[after].compare_to(_snapshots[before], "traceback")
    out = []
    for s in stats[:limit]:
        frames = [f"{Path(f.filename).name}:{f.lineno}" for f in s.traceback if "site-packages/_pytest" in f.filename
                  or "evalsuite" in f.filename or "xdist" in f.filename or "execnet" in f.filename]
        out.append({"kib": s.size_diff // 1024, "count": s.count_diff,
                    "site": f"{Path(s.traceback[-1].filename).name}:{s.traceback[-1].lineno}",
                    "frames": frames[-6:]})
    return out


_peaks: list[int] = []
"""Absolute traced peaks of the watched calls in progress (a call nested in another resets the peak)."""


def _watch(module: str, attr: str) -> None:
    """Measure the traced peak of every call of ``module.attr`` above what was allocated before it."""
    mod = sys.modules.get(module) or __import__(module, fromlist=[attr])
    fn = getattr(mod, attr)

    @functools.wraps(fn)
    def watched(*args: Any, **kwargs: Any) -> Any:
        before, outer_peak = tracemalloc.get_traced_memory()
        if _peaks:
            _peaks[-1] = max(_peaks[-1], outer_peak)
        tracemalloc.reset_peak()
        _peaks.append(before)
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            after, peak = tracemalloc.get_traced_memory()
            peak = max(peak, _peaks.pop())
            _state["profile"].append({"call": f"{module}.{attr}", "peak_above_kib": (peak - before) // 1024,
                                      "kept_kib": (after - before) // 1024, "s": round(time.perf_counter() - start, 2)})
            if _peaks:
                _peaks[-1] = max(_peaks[-1], peak)

    setattr(mod, attr, watched)


WATCHED = [
    ("evalsuite.reports", "write_record"),
    ("evalsuite.reports", "write_details"),
    ("evalsuite.reports", "write_meta"),
    ("evalsuite.reports", "write_json"),
    ("evalsuite.reports", "write_junit"),
    ("evalsuite.reports", "write_html"),
    ("evalsuite.reports", "write_xlsx"),
    ("evalsuite.reports", "write_reports"),
    ("evalsuite.metrics", "summarize"),
    ("evalsuite.recorder", "position_biases"),
    ("evalsuite.recorder", "conclude"),
]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Before evalsuite's own configure (which loads the items and creates the engine)."""
    global _role
    if hasattr(config, "workerinput"):
        _role = config.workerinput.get("workerid", "worker")
        return
    if TRACE_FROM_START:
        tracemalloc.start(FRAMES)
    if TRACE:
        import evalsuite.recorder  # noqa: F401  (the leader's modules, to wrap before the run)
        import evalsuite.reports  # noqa: F401

        for module, attr in WATCHED:
            _watch(module, attr)
    _phase("start", snapshot=True)


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    # After every plugin's configure: items loaded, engine created (and its preload started).
    _phase("configured", snapshot=True)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    if not any(p["phase"] == "collected" for p in _state["phases"]):
        _phase("collected")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> Any:
    _phase("tests_done", snapshot=True)  # every result recorded, no report written yet
    if CENSUS and _role == "controller":
        _census(session.config)
    if TRACE and _role == "controller" and not tracemalloc.is_tracing():
        tracemalloc.start(1)  # peaks around the report writers only: no tracebacks needed
    try:
        return (yield)
    finally:
        _phase("reports_done")


def deep_size(obj: Any, seen: set[int] | None = None) -> int:
    """Bytes of ``obj`` and everything it holds (containers, instances' attributes), each object once."""
    seen = set() if seen is None else seen
    total, stack = 0, [obj]
    while stack:
        o = stack.pop()
        if id(o) in seen or isinstance(o, (type, types.ModuleType, types.FunctionType, types.MethodType)):
            continue
        seen.add(id(o))
        total += sys.getsizeof(o)
        if isinstance(o, dict):
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, (list, tuple, set, frozenset)):
            stack.extend(o)
        else:
            d = getattr(o, "__dict__", None)
            if isinstance(d, dict):
                stack.append(d)
            for slot in getattr(type(o), "__slots__", ()):
                if hasattr(o, slot):
                    stack.append(getattr(o, slot))
    return total


def _census(config: pytest.Config) -> None:
    """What the controller holds when the last test ended: the largest types, and the known holders."""
    gc.collect()
    by_type: collections.Counter[str] = collections.Counter()
    count: collections.Counter[str] = collections.Counter()
    for o in gc.get_objects():
        name = type(o).__qualname__
        by_type[name] += sys.getsizeof(o)
        count[name] += 1
    _state["census"] = [{"type": t, "kib": b // 1024, "count": count[t]} for t, b in by_type.most_common(15)]
    holders: dict[str, Any] = {}
    tr = config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        holders["terminalreporter.stats"] = tr.stats
    leader = config.pluginmanager.get_plugin("evalsuite-leader")
    if leader is not None:
        holders["recorder.results"] = leader.recorder.results
        holders["leader.generation"] = leader.generation
        holders["cases.items"] = leader.cases.items
    dsession = config.pluginmanager.get_plugin("dsession")
    if dsession is not None:
        holders["dsession.sched"] = getattr(dsession, "sched", None)
    for name, plugin in config.pluginmanager.list_name_plugin():
        if name in ("junitxml", "logging-plugin", "warnings"):
            holders[f"plugin {name}"] = plugin
    # Shared roots are not counted into any holder (an xdist report's ``node`` leads to the config, i.e. to everything).
    roots = [config, config.pluginmanager, tr, leader, dsession, *getattr(dsession, "nodes", [])]
    roots += [p for _, p in config.pluginmanager.list_name_plugin()]
    _state["holders"] = {
        name: {"kib": deep_size(obj, {id(r) for r in roots if r is not obj}) // 1024,
               "len": len(obj) if hasattr(obj, "__len__") else None}
        for name, obj in holders.items()
    }
    if tr is not None:
        _state["holders_detail"] = {f"stats[{k!r}]": len(v) for k, v in tr.stats.items()}
        reports = [r for v in tr.stats.values() for r in v]
        attrs = sorted({a for r in reports for a in getattr(r, "__dict__", {})})
        seen = {id(r) for r in roots}
        values = {a: [getattr(r, a, None) for r in reports] for a in attrs}  # alive: ids are not reused
        _state["report_attrs"] = {a: deep_size(v, seen) // 1024 for a, v in values.items()}


def pytest_unconfigure(config: pytest.Config) -> None:
    _phase("unconfigure")


def _write() -> None:
    if OUT is None:
        return
    _phase("exit")
    _state["role"] = _role
    _state["pid"] = os.getpid()
    _state["ru_maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _state["packages"] = sorted({m.split(".")[0] for m in sys.modules})
    if TRACE and _role == "controller":
        for before, after in (("start", "configured"), ("configured", "tests_done")):
            if {before, after} <= _snapshots.keys():
                _state["growth"][f"{before}->{after}"] = _top(after, before)
    Path(OUT).mkdir(parents=True, exist_ok=True)
    (Path(OUT) / f"{_role}.json").write_text(json.dumps(_state, indent=1))


atexit.register(_write)
