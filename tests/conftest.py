"""Shared by the suite's own tests."""

from __future__ import annotations

import pytest

from evalsuite.invocation import UNUSED_PLUGINS


@pytest.fixture(autouse=True)
def _lean_pytester_runs(request: pytest.FixtureRequest) -> None:
    """pytester sessions skip plugins no test here uses (hypothesis imports itself in every
    xdist worker at session end, seconds each without a bytecode cache)."""
    if "pytester" not in request.fixturenames:
        return
    request.getfixturevalue("pytester")  # it clears PYTEST_ADDOPTS when it starts; set ours after
    request.getfixturevalue("monkeypatch").setenv("PYTEST_ADDOPTS", " ".join(f"-p no:{name}" for name in UNUSED_PLUGINS))
