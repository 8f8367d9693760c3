"""The pytest plugin (entry point ``pytest11``): options, parametrization, fixtures, role wiring.

Kept thin on purpose. ``pytest_configure`` resolves the settings (every usage error happens there,
before collection and before any engine loads), registers ``Cases`` in every process and, on the
process that leads generation only, ``Leader`` — as pytest-xdist registers its ``DSession``.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

# The snapshot comparison lives in evalsuite.testing: rewrite it so syrupy's diff shows on failure.
pytest.register_assert_rewrite("evalsuite.testing")

from evalsuite import options as _options  # noqa: E402
from evalsuite import settings as _settings  # noqa: E402

CASES = pytest.StashKey[Any]()
"""Where this process's ``evalsuite.cases.Cases`` lives (imported only when an evaluation runs)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    _options.add_to_pytest(parser)


def pytest_configure(config: pytest.Config) -> None:
    if not _settings.is_evaluating(config):
        return
    from evalsuite.cases import Cases
    from evalsuite.invocation import misread_paths

    settings = _settings.resolve(config)
    misread = None if hasattr(config, "workerinput") else misread_paths(config)
    if misread:
        config.issue_config_time_warning(pytest.PytestConfigWarning(misread), stacklevel=2)
    if config.option.tbstyle == "auto" and settings.verbose <= 0 and not config.getoption("es_regression"):
        # A wrong answer is data, not a traceback: one line per item in the short summary
        # (--regression keeps the snapshot diff, which is what its reader needs).
        config.option.tbstyle = "no"
    cases = Cases.load(settings)
    config.stash[CASES] = cases
    config.pluginmanager.register(cases, "evalsuite-cases")
    for mark in cases.mark_names():
        config.addinivalue_line("markers", f"{mark}: evalsuite benchmark or subgroup")
    if hasattr(config, "workerinput"):
        # Verification must not starve generation of CPU (vLLM on CPU, or its scheduler and
        # detokenizer on GPU machines); workers and their verifier processes yield to it.
        os.nice(settings.worker_nice)
    elif _settings.is_leader(config):
        from evalsuite.leader import Leader

        config.pluginmanager.register(Leader(settings, cases, rootpath=config.rootpath), "evalsuite-leader")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "item" not in metafunc.fixturenames:
        return
    cases = metafunc.config.stash.get(CASES, None)
    if cases is None:
        skip = pytest.mark.skip(reason="no model: pass --model, --api-url or --engine fake")
        metafunc.parametrize("item", [pytest.param(None, marks=skip)], ids=["no-model"])
        return
    metafunc.parametrize("item", cases.params(), ids=[i.nodeid for i in cases.items])


@pytest.fixture
def completions(item: Any, request: pytest.FixtureRequest) -> list[Any]:
    """The item's completions, one per sample, once the generation leader has produced them."""
    return request.config.stash[CASES].completions_for(item, request)


@pytest.fixture
def evaluation(item: Any, completions: list[Any], request: pytest.FixtureRequest) -> Any:
    """The item's verified result (``ItemResult``), recorded for metrics, gates and reports."""
    from evalsuite.scoring import record_result

    result = request.config.stash[CASES].evaluate(item, completions)
    record_result(request.node, result)
    return result
