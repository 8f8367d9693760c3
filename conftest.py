"""Root conftest: ``pytest --model ...`` evaluates; plain ``pytest`` runs the suite's own tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalsuite.settings import is_evaluating

TESTS_DIR = Path(__file__).parent / "tests"
EVAL_DIR = TESTS_DIR / "benchmarks"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    inside_eval = collection_path == EVAL_DIR or EVAL_DIR in collection_path.parents
    if is_evaluating(config):
        # Only the evaluation module: the suite's own tests would otherwise run against the model,
        # and their directories' conftests would load their helpers' imports in every process.
        own_test = TESTS_DIR in collection_path.parents and not inside_eval
        return True if own_test else None
    return True if inside_eval else None
