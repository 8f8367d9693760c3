"""``evalsuite perf`` statistics and reports: percentiles, in-flight counts, per-level summaries, table, HTML."""

from __future__ import annotations

import json

import pytest

from evalsuite.perf.load import poisson_offsets
from evalsuite.perf.report import format_table, to_html, to_json
from evalsuite.perf.stats import Distribution, RequestRecord, in_flight, percentile, summarise


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([5.0], 50, 5.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([1.0, 2.0, 3.0, 4.0], 0, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
        ([4.0, 1.0, 3.0, 2.0], 90, 3.7),  # order does not matter; linear interpolation as numpy
        (list(map(float, range(101))), 99, 99.0),
    ],
)
def test_percentile(values, q, expected):
    assert percentile(values, q) == pytest.approx(expected)


def rec(start, end, chunks=(), *, out=None, prompt=10, error=None) -> RequestRecord:
    return RequestRecord(
        start_s=start,
        end_s=end,
        chunk_times_s=tuple(chunks),
        prompt_tokens=prompt,
        output_tokens=len(chunks) if out is None else out,
        error=error,
    )


def test_in_flight_peak_and_time_weighted_mean():
    # 0-4: one request; 1-3: a second; 3-4: a third starts as the second ends (no overlap counted).
    records = [rec(0, 4), rec(1, 3), rec(3, 4)]
    peak, mean = in_flight(records)
    assert peak == 2
    assert mean == pytest.approx((1 * 1 + 2 * 2 + 2 * 1) / 4)
    assert in_flight([]) == (0, 0.0)


def test_warmup_and_fillers_count_towards_in_flight_and_throughput_within_the_window():
    measured = [rec(1, 3, (1.5, 2, 3), out=6), rec(2, 4, (3, 4), out=4)]  # 2 tokens per chunk
    background = [
        rec(0, 1.5, (0.5, 1.2)),  # a warm-up: one of its 2 chunks and its end fall in the window
        rec(3.5, 6, (3.8, 4.5), error="cancelled"),  # a filler cut short: one chunk in the window
    ]
    result = summarise(measured, mode="parallel", level=2, background=background)
    assert (result.completed, result.failed, result.wall_s) == (2, 0, 3), "background is not measured"
    assert (result.mean_output_tokens, result.latency_s.p50) == (5, 2), "nor in the latencies"
    # Over 1..4: 2 in flight for 0.5 s, 1 for 0.5, 2 for 1, 1 for 0.5, 2 for 0.5.
    assert result.peak_in_flight == 2
    assert result.mean_in_flight == pytest.approx((1 + 0.5 + 2 + 0.5 + 1) / 3)
    assert result.request_throughput == pytest.approx((2 + 1) / 3), "the warm-up ended in the window"
    # 10 measured tokens + 1 warm-up token + 1 filler chunk at the measured 2 tokens per chunk.
    assert result.output_throughput == pytest.approx((10 + 1 + 2) / 3)


def test_summarise_derives_ttft_tpot_itl_and_counts_failures_apart():
    records = [
        rec(0.0, 1.1, (0.1, 0.6, 1.1)),  # TTFT 0.1, 3 tokens: TPOT 0.5, gaps 0.5 0.5
        rec(1.0, 1.5, (1.3, 1.4, 1.5), out=5),  # TTFT 0.3, usage says 5 tokens: TPOT 0.05, gaps 0.1 0.1
        rec(2.0, 2.2, (2.2,)),  # one token: a TTFT, no TPOT, no gap
        rec(2.0, 3.0, error="HTTP 500: boom"),
        rec(2.5, 3.0, error="HTTP 500: boom"),
    ]
    result = summarise(records, mode="parallel", level=2, planned=7)
    assert (result.requests, result.completed, result.failed, result.not_sent) == (5, 3, 2, 2)
    assert result.error_samples == ("HTTP 500: boom",)
    assert result.wall_s == pytest.approx(3.0)
    assert result.ttft_s == Distribution(
        mean=pytest.approx(0.2), p50=pytest.approx(0.2), p90=pytest.approx(0.28), p99=pytest.approx(0.298)
    )
    assert result.tpot_s is not None and result.tpot_s.p50 == pytest.approx(0.275)
    assert result.itl_s is not None
    assert (result.itl_s.p50, result.itl_s.mean) == (pytest.approx(0.3), pytest.approx(0.3))
    assert result.latency_s is not None and result.latency_s.p50 == pytest.approx(0.5)
    assert result.request_throughput == pytest.approx(1.0)
    assert result.output_throughput == pytest.approx(9 / 3)
    assert (result.mean_prompt_tokens, result.mean_output_tokens) == (10, 3)
    assert (result.peak_in_flight, result.mode, result.level) == (2, "parallel", 2)


def test_summarise_of_nothing_but_errors():
    result = summarise([rec(0, 1, error="boom")], mode="rate", level=4.0)
    assert (result.completed, result.failed, result.ttft_s, result.latency_s, result.itl_s) == (
        0,
        1,
        None,
        None,
        None,
    )
    assert result.output_throughput == 0.0


def test_poisson_offsets_are_seeded_and_average_one_over_the_rate():
    offsets = poisson_offsets(4.0, 4000, seed=3)
    assert offsets == poisson_offsets(4.0, 4000, seed=3)
    assert offsets != poisson_offsets(4.0, 4000, seed=4)
    assert offsets[0] == 0.0 and offsets == sorted(offsets)
    gaps = [b - a for a, b in zip(offsets, offsets[1:], strict=False)]
    assert sum(gaps) / len(gaps) == pytest.approx(0.25, rel=0.05)
    # Exponential gaps: the median is ln 2 / rate, well below the mean (a fixed pace would equal it).
    assert percentile(gaps, 50) == pytest.approx(0.693 / 4, rel=0.1)


def two_levels():
    fast = [rec(i * 0.1, i * 0.1 + 0.5, (i * 0.1 + 0.1, i * 0.1 + 0.5)) for i in range(4)]
    slow = [rec(0, 2.0, (1.0, 2.0)), rec(0, 1.0, error="HTTP 503: overloaded")]
    return [summarise(fast, mode="parallel", level=1), summarise(slow, mode="rate", level=2.5)]


def test_table_json_and_html_show_every_level():
    results = two_levels()
    table = format_table(results, title="t").splitlines()
    assert table[0] == "t" and "TTFT p50" in table[1] and "in-flight" in table[1]
    assert table[2].split()[:3] == ["1", "4", "0"] and table[3].split()[:3] == ["2.5/s", "1", "1"]
    assert "  error: HTTP 503: overloaded" in table
    doc = json.loads(to_json(results, {"model": "m"}))
    assert doc["model"] == "m" and [lv["level"] for lv in doc["levels"]] == [1, 2.5]
    assert doc["levels"][0]["ttft_s"]["p50"] == pytest.approx(0.1)
    page = to_html(results, {"model": "m"})
    assert page.count("<svg") == 6, "latency, TTFT and TPOT curves for each mode"
    assert "Concurrency sweep" in page and "Poisson arrivals" in page
    assert "http" not in page.replace("http://www.w3.org/2000/svg", ""), "self-contained: nothing fetched"
