"""benchmarks/cold_run.py's pure parts: the output comparison, the phase breakdown, the table (no engine)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("cold_run", Path(__file__).resolve().parents[2] / "benchmarks" / "cold_run.py")
cold_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cold_run)


def test_compare_outputs_counts_identical_differing_and_missing():
    raw = {"a": "x", "b": "y", "c": "z", "d": ""}
    suite = {"a": "x", "b": "y!", "d": "", "other": "w"}
    assert cold_run.compare_outputs(raw, suite, ["a", "b", "c", "d"]) == (2, 1, 1)


def test_phases_are_consecutive_and_sum_to_the_wall():
    # spawn 100, configured 102, load 20 s, generation 10 s ending at 135, results at 137, exit 140
    phases = cold_run._phases(100.0, t_configured=102.0, load_s=20.0, t_gen=135.0, gen_s=10.0, t_done=137.0,
                              t_exit=140.0)
    assert phases == pytest.approx({"startup_s": 2.0, "preload_s": 3.0, "load_s": 20.0, "gen_s": 10.0,
                                    "after_s": 2.0, "exit_s": 3.0})
    assert sum(phases.values()) == pytest.approx(40.0)


def test_table_gives_medians_ranges_and_ratios_to_raw_of_the_same_round():
    def row(wall, tok_s):
        return {"wall_s": wall, "gen_s": 1.0, "tok_s": tok_s, "tokens": 100}

    rounds = [{"raw": row(10.0, 100.0), "suite": row(11.0, 95.0)},
              {"raw": row(20.0, 50.0), "suite": row(21.0, 50.0)},
              {"raw": row(10.0, 100.0), "suite": row(10.0, 100.0)}]
    lines = cold_run.table(rounds)
    suite = next(line for line in lines if line.startswith("suite"))
    assert "11.0 [10.0-21.0]" in suite  # wall
    assert "1.050 [1.000-1.100]" in suite  # wall / raw, per round: 1.1, 1.05, 1.0
    assert "1.000 [0.950-1.000]" in suite  # tok/s / raw
    assert cold_run.spread([3.0]) == "3.0"
