"""``evalsuite merge RUN_DIR... --out DIR``: the run directories of ``--shard I/N`` jobs joined into one run.

A reader of run records (``reports.read_run``) and the recorder's own ending (``recorder.conclude``:
metrics, ``--min-score``/``--baseline`` gates, every report), so the merged directory is what an
unsharded run on the same completions writes. The shards must be one split of one run: same model,
engine, sampling and benchmark data, same selection (``selection_hash``), every shard once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalsuite.types import RunRecord

SAME_META = ("engine", "model_name", "model_fingerprint", "adapter", "sampling", "seed", "benchmarks")
"""Meta keys that change completions or items: every shard must agree on them."""

SPLIT_KEYS = ("count", "selected", "selection_hash")
"""Keys of ``meta["shard"]`` that identify the split: every shard must agree on them."""


class MergeError(ValueError):
    """The run directories are not the complete shards of one run; the message names them."""


def merge_records(shards: Sequence[tuple[Path, RunRecord]], run_id: str) -> RunRecord:
    """One run from the records of its shards: items in the unsharded order, meta of the whole run.

    Raises:
        MergeError: a directory that is no shard, shards of different runs or splits, a shard
            given twice or missing, a shard that recorded fewer items than it planned.
    """
    if not shards:
        raise MergeError("no run directories given; pass the run directory of every shard")
    for path, run in shards:
        if not isinstance(run.meta.get("shard"), Mapping):
            raise MergeError(
                f"{path} is not a shard run (its meta has no 'shard'); pass directories of --shard I/N runs"
            )
    for key in SPLIT_KEYS:
        _same(
            shards,
            f"shard.{key}",
            lambda run, key=key: run.meta["shard"].get(key),
            "they are shards of different selections; rerun every shard with the same options",
        )
    for key in SAME_META:
        _same(
            shards,
            key,
            lambda run, key=key: run.meta.get(key),
            "they evaluated different models, sampling or data; merge shards of one run only",
        )
    by_index: dict[int, Path] = {}
    for path, run in shards:
        index = int(run.meta["shard"]["index"])
        if index in by_index:
            raise MergeError(
                f"overlapping shards: {by_index[index]} and {path} are both shard "
                f"{index}/{run.meta['shard']['count']}; pass each shard once"
            )
        by_index[index] = path
    count = int(shards[0][1].meta["shard"]["count"])
    missing = [f"{i}/{count}" for i in range(1, count + 1) if i not in by_index]
    if missing:
        given = ", ".join(f"{p} ({r.meta['shard']['index']}/{count})" for p, r in shards)
        raise MergeError(
            f"missing shard(s) {', '.join(missing)}; given: {given}; pass the run directory of every shard"
        )
    placed: dict[int, Any] = {}
    seen: dict[str, Path] = {}
    for path, run in shards:
        positions = run.meta["shard"].get("positions") or []
        if len(run.items) != len(positions):
            raise MergeError(
                f"{path} recorded {len(run.items)} of the {len(positions)} items of shard "
                f"{run.meta['shard']['index']}/{count} (interrupted, or deselected with -k/-m?); rerun that shard"
            )
        for position, item in zip(positions, run.items, strict=True):
            if item.nodeid in seen:
                raise MergeError(
                    f"overlapping shards: {seen[item.nodeid]} and {path} both hold {item.nodeid}"
                )
            seen[item.nodeid] = path
            placed[int(position)] = item
    return RunRecord(
        run_id=run_id, meta=_merged_meta(shards, run_id), items=tuple(placed[p] for p in sorted(placed))
    )


def _same(shards: Sequence[tuple[Path, RunRecord]], name: str, value: Any, why: str) -> None:
    first_path, first = shards[0]
    for path, run in shards[1:]:
        if value(run) != value(first):
            raise MergeError(
                f"{name} differs: {first_path} has {value(first)!r}, {path} has {value(run)!r}; {why}"
            )


def _merged_meta(shards: Sequence[tuple[Path, RunRecord]], run_id: str) -> dict[str, Any]:
    ordered = sorted(shards, key=lambda s: int(s[1].meta["shard"]["index"]))
    # Per-job figures (the shard, its HTTP endpoints) stay with each shard in merged_from.
    meta = {k: v for k, v in ordered[0][1].meta.items() if k not in ("shard", "endpoints")}
    meta["run_id"] = run_id
    meta["options"] = {**meta.get("options", {}), "shard": None, "run_id": run_id}
    meta["started"] = min(str(r.meta.get("started", "")) for _, r in shards)
    meta["finished"] = max(str(r.meta.get("finished", "")) for _, r in shards)
    meta["generation"] = _merged_generation([r.meta.get("generation") for _, r in ordered])
    meta["merged_from"] = [
        {
            "dir": str(path),
            "run_id": run.run_id,
            "shard": f"{run.meta['shard']['index']}/{run.meta['shard']['count']}",
            "items": len(run.items),
            "cost": run.meta["shard"].get("cost"),
            "generation": run.meta.get("generation"),
            **({"endpoints": run.meta["endpoints"]} if run.meta.get("endpoints") else {}),
        }
        for path, run in ordered
    ]
    return meta


def _merged_generation(parts: Sequence[Mapping[str, Any] | None]) -> dict[str, Any] | None:
    """Counts summed; seconds are the slowest shard's (the jobs ran side by side)."""
    known = [p for p in parts if p]
    if not known:
        return None
    out: dict[str, Any] = {
        k: sum(p.get(k) or 0 for p in known)
        for k in ("planned", "cached", "generated", "output_tokens", "errors")
    }
    out["seconds"] = max(p.get("seconds") or 0.0 for p in known)
    out["load_seconds"] = max(p.get("load_seconds") or 0.0 for p in known)
    out["tokens_per_second"] = out["output_tokens"] / out["seconds"] if out["seconds"] > 0 else 0.0
    return out


def build_parser() -> argparse.ArgumentParser:
    from evalsuite import options

    parser = argparse.ArgumentParser(
        prog="evalsuite merge",
        description="Join the run directories of --shard I/N jobs into one run: metrics, gates and reports "
        "as an unsharded run writes them. Exit status 0 when the gates pass, 1 when one fails or items "
        "errored, 2 when the directories are not the complete shards of one run.",
    )
    parser.add_argument(
        "run_dirs", nargs="+", type=Path, metavar="RUN_DIR", help="Run directory of each shard."
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="Directory the merged run is written to; its name is the run id.",
    )
    options.add_to_argparse(parser, groups=("gates",))
    return parser


def main(argv: Sequence[str]) -> int:
    """``evalsuite merge``: see ``build_parser``."""
    import pytest

    from evalsuite import options, settings
    from evalsuite.recorder import conclude, failure_reason, summary_lines
    from evalsuite.reports import read_run

    args = build_parser().parse_args(list(argv))
    shards = []
    try:
        for path in args.run_dirs:
            shards.append((path, read_run(path)))
        record = merge_records(shards, run_id=args.out.name)
        values = options.checked_values(vars(args))
        opt = values.__getitem__
        sampling = record.meta.get("sampling") or {}
        benchmarks = tuple(dict.fromkeys(i.benchmark for i in record.items))
        by_benchmark = sampling.get("samples_by_benchmark") or {}
        samples = min((int(by_benchmark.get(b, sampling.get("samples") or 1)) for b in benchmarks), default=1)
        gates = settings.gate_settings(opt, benchmarks, samples, strict=False)
    except (OSError, ValueError, pytest.UsageError) as exc:
        print(f"evalsuite merge: {exc}", file=sys.stderr)
        return 2
    summary, results, _ = conclude(args.out, record, gates)
    print("\n".join(summary_lines(summary)))
    for gate in results:
        print(("PASS " if gate.passed else "FAIL ") + gate.message)
    reason = failure_reason(record, results)
    print(f"merged {len(shards)} shards, {len(record.items)} items: {args.out}")
    if reason:
        print(f"exit status 1: {reason}", file=sys.stderr)
        return 1
    return 0
