"""``evalsuite run|merge|serve|compare|perf|report|make-tiny``: for when a command line is more natural than pytest."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def _run(argv: Sequence[str]) -> int:
    """``evalsuite run --model PATH [pytest options]``: the packaged evaluation module under pytest."""
    import pytest

    from evalsuite.invocation import LEAN_PYTEST_ARGS, glued

    return int(pytest.main(["--pyargs", "evalsuite.suite.itemtest", *LEAN_PYTEST_ARGS, *glued(argv)]))


def _report(argv: Sequence[str]) -> int:
    """``evalsuite report RUN_DIR``: rewrite a run's reports from its records (e.g. after an upgrade)."""
    parser = argparse.ArgumentParser(prog="evalsuite report", description=_report.__doc__)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--pass-k", default="1", help="Comma-separated k values for pass@k. Default: 1.")
    args = parser.parse_args(argv)
    from evalsuite.metrics import summarize
    from evalsuite.reports import read_run, write_reports

    try:
        run = read_run(args.run_dir)
    except (OSError, ValueError) as exc:
        print(f"evalsuite report: {args.run_dir}: {exc}", file=sys.stderr)
        return 2
    summary = summarize(run.items, ks=tuple(int(k) for k in args.pass_k.split(",")))
    written = write_reports(args.run_dir, run, summary, [])
    print("\n".join(f"{name}: {path}" for name, path in written.items()))
    return 0


def _make_tiny(argv: Sequence[str]) -> int:
    from evalsuite.tiny.__main__ import main as tiny_main

    return int(tiny_main(list(argv)) or 0)


def _compare(argv: Sequence[str]) -> int:
    from evalsuite.compare import main as compare_main

    return compare_main(list(argv))


def _merge(argv: Sequence[str]) -> int:
    from evalsuite.merge import main as merge_main

    return merge_main(argv)


def _serve(argv: Sequence[str]) -> int:
    from evalsuite.serve import main as serve_main

    return serve_main(argv)


def _gate(argv: Sequence[str]) -> int:
    from evalsuite.gaterun import main as gate_main

    return gate_main(list(argv))


def _perf(argv: Sequence[str]) -> int:
    from evalsuite.perf import main as perf_main

    return perf_main(list(argv))


COMMANDS = {
    "run": (_run, "evaluate a model: pytest on the packaged benchmark module (takes every pytest option)"),
    "merge": (_merge, "join the run directories of --shard I/N jobs into one run (metrics, gates, reports)"),
    "serve": (_serve, "start one warm engine behind an OpenAI-compatible endpoint for later --api-url runs"),
    "gate": (_gate, "gate candidates (LoRA adapters, checkpoints) against the base on the same items; one engine load"),
    "compare": (_compare, "compare two runs item by item: deltas, p-values, flipped items, side-by-side HTML"),
    "perf": (_perf, "measure serving speed of an OpenAI-compatible endpoint (TTFT, TPOT, latency, throughput)"),
    "report": (_report, "rewrite the reports of a run directory from its records"),
    "make-tiny": (_make_tiny, "train the embedded tiny checkpoint (fixtures/models/tiny-r1)"),
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        width = max(map(len, COMMANDS))
        lines = [f"  {name:<{width}}  {doc}" for name, (_, doc) in COMMANDS.items()]
        print("usage: evalsuite COMMAND [ARGS]\n\ncommands:\n" + "\n".join(lines))
        if argv and argv[0] not in ("-h", "--help"):
            print(f"\nevalsuite: unknown command {argv[0]!r}", file=sys.stderr)
            return 2
        return 0
    command, _ = COMMANDS[argv[0]]
    return command(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
