"""What a benchmark test module calls: pass/fail on the verdict, or compare with a snapshot."""

from __future__ import annotations

from typing import Any

import pytest

from evalsuite.scoring import failure_line, failure_message
from evalsuite.types import ItemResult, truncation_reason


def verdict_snapshot(result: ItemResult) -> dict[str, Any]:
    """The part of a result that a regression snapshot pins: verdicts and extracted answers.

    Outputs and token counts are left out on purpose: they change with every sampling detail,
    while a verdict flip is what a reviewer must see.
    """
    return {
        "gold": str(result.gold) if not isinstance(result.gold, (dict, list)) else "<structured>",
        "samples": [{"correct": s.correct, "extracted": s.extracted} for s in result.samples],
    }


def check_item(result: ItemResult, request: pytest.FixtureRequest) -> None:
    """Fail when the item is wrong, or (``--regression``) when its verdict flipped vs the snapshot.

    An item whose every sample was cut off before its answer is xfailed "truncated at N tokens"
    (it has no answer to be wrong about); with ``--strict`` it fails like any incorrect item.
    """
    if request.config.getoption("es_regression"):
        snapshot = request.getfixturevalue("snapshot")
        assert verdict_snapshot(result) == snapshot, f"{result.nodeid}: verdict changed"
        return
    truncated = truncation_reason(result)
    if truncated and not request.config.getoption("strict", False):
        pytest.xfail(truncated)
    if request.config.get_verbosity() > 0:
        assert result.passed, failure_message(result)
    elif not result.passed:
        # One line per wrong item (pytest's short summary); the whole output is in the reports and with -v.
        pytest.fail(failure_line(result), pytrace=False)
