"""Truncation as an outcome: which samples and items are truncated, and the score without them."""

from __future__ import annotations

import pytest

from evalsuite.metrics import summarize, without_truncated
from evalsuite.types import TRUNCATED, ItemResult, SampleResult, item_result_from_dict, truncation_reason


def sample(
    i: int, correct: bool, reason: str, *, finish: str = "stop", tokens: int = 10, error: str | None = None
):
    return SampleResult(i, f"out{i}", correct, float(correct), None, reason, finish, tokens, error)


def cut(i: int, *, finish: str = "length", tokens: int = 16) -> SampleResult:
    return sample(i, False, TRUNCATED, finish=finish, tokens=tokens)


def item(item_id: str, *samples: SampleResult) -> ItemResult:
    return ItemResult("b", item_id, {}, "prompt", "42", tuple(samples))


def test_a_sample_is_truncated_by_its_reason_not_its_finish_reason() -> None:
    assert cut(0).truncated
    assert cut(0, finish="stop").truncated  # an unclosed <think> under a server's own limit
    assert not sample(0, False, "not equivalent", finish="length").truncated  # stated an answer, then ran on
    assert not sample(0, False, TRUNCATED, error="engine died").truncated  # an error is an error


def test_an_item_is_truncated_when_all_its_valid_samples_are() -> None:
    assert item("a", cut(0), cut(1, tokens=20)).truncated
    assert item("a", cut(0), sample(1, False, "x", error="boom")).truncated
    assert not item("a", cut(0), sample(1, True, "equivalent")).truncated
    assert not item("a", cut(0), sample(1, False, "not equivalent")).truncated
    assert not item("a", sample(0, False, "x", error="boom")).truncated
    assert not item("a").truncated


def test_truncation_reason_names_the_token_count() -> None:
    assert truncation_reason(item("a", cut(0, tokens=16), cut(1, tokens=12))) == "truncated at 16 tokens"
    assert truncation_reason(item("a", cut(0, finish="stop", tokens=900))) == (
        "truncated at 900 tokens (unclosed <think>)"
    )
    assert truncation_reason(item("a", sample(0, False, "not equivalent"))) is None


def test_the_flag_survives_the_round_trip_through_a_report() -> None:
    import dataclasses

    back = item_result_from_dict(dataclasses.asdict(item("a", cut(0))))
    assert back.truncated and back.truncated_at == 16


def test_summary_counts_truncated_samples_and_scores_without_them() -> None:
    items = [
        item("right", sample(0, True, "equivalent"), sample(1, True, "equivalent")),
        item("half", sample(0, True, "equivalent"), cut(1)),
        item("cut", cut(0), cut(1)),
        item(
            "wrong", sample(0, False, "not equivalent", finish="length"), sample(1, False, "not equivalent")
        ),
    ]
    ov = summarize(items, ks=(1, 2)).benchmarks["b"].overall
    assert (ov.truncated, ov.length_stopped, ov.truncated_items) == (3, 4, 1)
    assert ov.truncation_rate == pytest.approx(3 / 8)
    # Main score: truncated samples are incorrect. avg@n = (1 + 0.5 + 0 + 0) / 4.
    assert ov.metrics["avg@n"].value == pytest.approx(1.5 / 4)
    # Without them: "cut" leaves, "half" keeps one correct sample. avg@n = (1 + 1 + 0) / 3.
    assert ov.excluding_truncated["avg@n"].value == pytest.approx(2 / 3)
    assert ov.excluding_truncated["avg@n"].n == 3
    assert ov.excluding_truncated["pass@2"].n == 2  # "half" has one sample left


def test_without_truncated_changes_nothing_when_nothing_is_truncated() -> None:
    items = [item("a", sample(0, True, "equivalent")), item("b", sample(0, False, "not equivalent"))]
    assert without_truncated(items) == items
    ov = summarize(items).benchmarks["b"].overall
    assert ov.excluding_truncated == ov.metrics and ov.truncated == 0
