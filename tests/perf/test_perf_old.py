"""``evalsuite perf``: statistics, and a run against the fake OpenAI server with scripted token delays."""

from __future__ import annotations

import importlib.util
import json
import socket
import sys
from pathlib import Path

import pytest

from evalsuite.perf import Distribution, main, percentile, summarise
from evalsuite.types import Completion


def _load_fake_server():
    """The fake server module from tests/engines (not a package, so load it by path)."""
    path = Path(__file__).resolve().parents[1] / "engines" / "fake_openai_server.py"
    spec = importlib.util.spec_from_file_location("_perf_fake_openai_server", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building the class
    spec.loader.exec_module(module)
    return module.FakeOpenAIServer


FakeOpenAIServer = _load_fake_server()


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


def ok(key: str, *, ttft: float | None, latency: float, out: int, prompt: int = 10) -> Completion:
    return Completion(
        key=key,
        text="x",
        finish_reason="stop",
        prompt_tokens=prompt,
        output_tokens=out,
        latency_s=latency,
        ttft_s=ttft,
    )


def test_summarise_counts_errors_apart_and_derives_tpot():
    completions = [
        ok("a", ttft=0.1, latency=1.1, out=11),  # TPOT 0.1
        ok("b", ttft=0.3, latency=0.7, out=5),  # TPOT 0.1
        ok("c", ttft=0.2, latency=0.2, out=1),  # one token: no TPOT
        Completion(key="d", text="", finish_reason="error", error="HTTP 500"),
        Completion(key="e", text="", finish_reason="error", error="HTTP 500"),
    ]
    report = summarise(completions, wall_s=2.0)
    assert (report.requests, report.completed, report.errors) == (5, 3, 2)
    assert report.error_samples == ("HTTP 500",)
    assert report.ttft_s == Distribution(
        mean=pytest.approx(0.2), p50=0.2, p90=pytest.approx(0.28), p99=pytest.approx(0.298)
    )
    assert report.tpot_s is not None and report.tpot_s.mean == pytest.approx(0.1)
    assert report.request_throughput == pytest.approx(1.5)
    assert report.output_throughput == pytest.approx(17 / 2)
    assert (report.mean_prompt_tokens, report.mean_output_tokens) == (10, pytest.approx(17 / 3))


def test_summarise_of_nothing_but_errors():
    report = summarise([Completion(key="a", text="", finish_reason="error", error="boom")], wall_s=1.0)
    assert (report.completed, report.errors, report.ttft_s, report.latency_s) == (0, 1, None, None)
    assert report.output_throughput == 0.0


def test_perf_against_fake_server_measures_ttft_and_tpot(tmp_path, capsys):
    first_token, per_token, tokens = 0.2, 0.03, 6
    with FakeOpenAIServer(
        reply_tokens=tokens, first_token_delay_s=first_token, token_delay_s=per_token
    ) as server:
        out = tmp_path / "perf.json"
        argv = [
            "--api-url", server.url, "--requests", "8", "--concurrency", "4",
            "--prompt-tokens", "50", "--max-tokens", "32", "--json", str(out),
        ]  # fmt: skip
        assert main(argv) == 0
        posts = server.generation_requests()
    assert len(posts) == 9, "one calibration request, then --requests"
    assert server.peak_in_flight == 4
    prompts = [p.body["prompt"] for p in posts[1:]]
    assert len(set(prompts)) == 8, "every prompt differs (no prefix-cache shortcut)"
    # The fake counts words as tokens: calibration saw 51 for "0: " + 50 words, so it sends 49 + the number.
    assert all(len(p.split()) == 50 for p in prompts)
    report = json.loads(out.read_text())
    assert (report["completed"], report["errors"], report["model"]) == (8, 0, "fake-model")
    assert first_token <= report["ttft_s"]["p50"] < first_token + 0.4  # slack for a loaded CI machine
    assert per_token <= report["tpot_s"]["p50"] < per_token + 0.03
    assert report["latency_s"]["p50"] >= first_token + (tokens - 1) * per_token
    assert (report["mean_prompt_tokens"], report["mean_output_tokens"]) == (50, tokens)
    # 8 requests, 4 at a time, each ~0.35 s: two waves
    assert 4 / (2 * 0.35) * 0.5 < report["request_throughput"] <= 4 / 0.35
    table = capsys.readouterr().out
    assert "TTFT (ms)" in table and "8 completed, 0 errors" in table and "tok/s" in table


def test_perf_counts_requests_past_the_deadline_as_errors(tmp_path, capsys):
    with FakeOpenAIServer(reply_tokens=3, first_token_delay_s=1.0) as server:
        argv = ["--api-url", server.url, "--requests", "3", "--prompt-tokens", "5", "--timeout-s", "0.3"]
        assert main(argv) == 1
    assert "0 completed, 3 errors" in capsys.readouterr().out


def test_perf_unreachable_server_exits_2(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["--api-url", f"http://127.0.0.1:{port}/v1", "--connect-timeout-s", "0.3"]) == 2
    assert "server unreachable" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--requests", "0"], "--requests must be at least 1"), (["--requests", "10001"], "at most 10000")],
)
def test_perf_rejects_bad_counts(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(["--api-url", "http://127.0.0.1:1/v1", *argv])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
