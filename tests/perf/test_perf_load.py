"""``evalsuite perf`` against loopback servers: the in-flight count it keeps, what it sends, what it measures."""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from gated_server import GatedServer

from evalsuite.perf import main


def _load_fake_server():
    """The scripted server of tests/engines (not a package, so load it by path)."""
    path = Path(__file__).resolve().parents[1] / "engines" / "fake_openai_server.py"
    spec = importlib.util.spec_from_file_location("_perf_fake_openai_server", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building the class
    spec.loader.exec_module(module)
    return module.FakeOpenAIServer


FakeOpenAIServer = _load_fake_server()


def perf(server_url: str, *args: str, out: Path | None = None) -> tuple[int, dict | None]:
    argv = ["--api-url", server_url, "--timeout-s", "120", *args]
    if "--warmup" not in args:
        argv += ["--warmup", "0"]
    if out is not None:
        argv += ["--json", str(out)]
    code = main(argv)
    return code, json.loads(out.read_text()) if out is not None and out.exists() else None


@pytest.mark.parametrize(("parallel", "warmup"), [(1, 0), (3, 3), (16, 5)])
def test_closed_loop_keeps_exactly_parallel_requests_in_flight(parallel, warmup, tmp_path):
    requests = 3 * parallel + 2  # not a multiple of parallel: fillers keep the load up to the end
    with GatedServer(target=parallel, total=10_000) as server:
        code, report = perf(
            server.url, "--parallel", str(parallel), "--requests", str(requests), "--warmup", str(warmup),
            out=tmp_path / "p.json",
        )  # fmt: skip
    assert code == 0
    # The server answered a request only while `parallel` were in flight, and never saw more:
    # warm-up, measured and filler requests alike.
    assert server.stalls == 0, "the client let the in-flight count fall below --parallel"
    assert server.peak_in_flight == parallel
    assert len(server.in_flight_at_answer) >= warmup + requests
    assert set(server.in_flight_at_answer) == {parallel}
    level = report["levels"][0]
    assert (level["completed"], level["failed"], level["peak_in_flight"]) == (requests, 0, parallel)
    assert level["mean_output_tokens"] == 3 and level["ttft_s"]["p50"] > 0


def test_open_loop_sends_on_schedule_without_waiting_for_answers(tmp_path):
    requests = 12  # the server answers nothing until all 12 are in flight
    with GatedServer(target=requests, total=requests) as server:
        code, report = perf(server.url, "--rate", "200", "--requests", str(requests), out=tmp_path / "r.json")
    assert code == 0
    assert server.stalls == 0 and server.peak_in_flight == requests
    level = report["levels"][0]
    assert (level["mode"], level["level"], level["completed"]) == ("rate", 200.0, requests)


def test_sweep_runs_every_level_in_order_with_fresh_prompts(tmp_path):
    with GatedServer(target=1, total=10_000, owned_by="vllm") as server:
        # Levels 1 and 2 (closed), then rate 500/s; the gate is 1, so only the order is under test here.
        code, report = perf(
            server.url, "--parallel", "1,2", "--rate", "500", "--requests", "2,4,3", "--max-tokens", "7",
            "--api-mode", "completion",
            out=tmp_path / "s.json",
        )  # fmt: skip
    assert code == 0
    assert [(lv["mode"], lv["level"], lv["requests"]) for lv in report["levels"]] == [
        ("parallel", 1, 2), ("parallel", 2, 4), ("rate", 500, 3),
    ]  # fmt: skip
    prompts = [b["prompt"] for b in server.bodies]
    assert len(prompts) >= 9 and len(set(prompts)) == len(prompts), "every request has its own prompt"
    assert all(b["ignore_eos"] is True and b["max_tokens"] == 7 and b["stream"] for b in server.bodies)
    assert all("seed" not in b for b in server.bodies), "vLLM on CPU rejects per-request seeds"
    assert report["ignore_eos"] is True and report["model"] == "gated-model"


def test_measures_ttft_tpot_and_itl_from_the_stream(tmp_path, capsys):
    first_token, per_token, tokens = 0.2, 0.03, 6
    with FakeOpenAIServer(
        reply_tokens=tokens, first_token_delay_s=first_token, token_delay_s=per_token
    ) as server:
        code, report = perf(
            server.url, "--parallel", "4", "--requests", "8", "--prompt-len", "50", "--max-tokens", "32",
            "--html", str(tmp_path / "p.html"), out=tmp_path / "p.json",
        )  # fmt: skip
        posts = server.generation_requests()
    assert code == 0
    assert len(posts) >= 2 + 8, "two length probes, then the requests (and maybe fillers)"
    assert all("ignore_eos" not in p.body for p in posts), "auto: only vLLM and SGLang get ignore_eos"
    level = report["levels"][0]
    assert (level["completed"], level["failed"], level["peak_in_flight"]) == (8, 0, 4)
    # The fake counts words as tokens: the probes find ~1 token per 5-6 characters and fit to 50.
    assert 45 <= level["mean_prompt_tokens"] <= 55 and level["mean_output_tokens"] == tokens
    assert level["ttft_s"]["p50"] >= first_token
    assert level["tpot_s"]["p50"] >= per_token and level["itl_s"]["p50"] >= per_token
    assert level["latency_s"]["p50"] >= first_token + (tokens - 1) * per_token
    assert "TTFT p50" in capsys.readouterr().out
    assert "<svg" in (tmp_path / "p.html").read_text()


def test_module_entry_point_ends_quietly_after_cancelling_fillers(tmp_path):
    with FakeOpenAIServer(reply_tokens=4, token_delay_s=0.01) as server:
        done = subprocess.run(
            [sys.executable, "-m", "evalsuite.perf", "--api-url", server.url, "--parallel", "4",
             "--requests", "6", "--prompt-len", "8"],
            capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2],
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "6 sent" in done.stdout
    assert done.stderr == "", "no asyncio warnings about cancelled requests"


def test_chat_mode_sends_messages_and_skips_the_role_chunk(tmp_path):
    with FakeOpenAIServer(reply_tokens=4) as server:
        code, report = perf(
            server.url, "--api-mode", "chat", "--dataset", "builtin", "--requests", "3", "--parallel", "3",
            out=tmp_path / "c.json",
        )  # fmt: skip
        posts = server.generation_requests()
    assert code == 0
    assert len(posts) >= 3 and {p.path for p in posts} == {"/v1/chat/completions"}
    assert posts[0].body["messages"][-1]["content"].startswith("What is")
    level = report["levels"][0]
    assert level["mean_output_tokens"] == 4
    assert level["itl_s"]["mean"] >= 0 and len(report["levels"]) == 1


def test_requests_past_the_deadline_fail_and_set_exit_status_1(tmp_path, capsys):
    data = tmp_path / "prompts.jsonl"
    data.write_text('"one"\n"two"\n')
    with FakeOpenAIServer(reply_tokens=3, first_token_delay_s=2.0) as server:
        argv = ["--api-url", server.url, "--warmup", "0", "--parallel", "2", "--requests", "5",
                "--dataset", str(data), "--timeout-s", "0.5", "--json", str(tmp_path / "d.json")]  # fmt: skip
        assert main(argv) == 1
    level = json.loads((tmp_path / "d.json").read_text())["levels"][0]
    assert (level["completed"], level["failed"], level["not_sent"]) == (0, 2, 3)
    assert "not finished before the level's deadline" in capsys.readouterr().out


def test_http_errors_are_failures_with_their_message(tmp_path):
    data = tmp_path / "prompts.jsonl"
    data.write_text('{"prompt": "ok one"}\n"FAIL500x9 bad"\n{"question": "ok two"}\n')
    with FakeOpenAIServer(reply_tokens=2) as server:
        code, report = perf(
            server.url, "--dataset", str(data), "--requests", "3", "--parallel", "1", out=tmp_path / "e.json"
        )
    assert code == 1
    level = report["levels"][0]
    assert (level["completed"], level["failed"]) == (2, 1)
    assert level["error_samples"][0].startswith("HTTP 500")


def test_api_key_is_sent_and_never_written(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("EVALSUITE_API_KEY", "sk-from-env-0123456789")
    with FakeOpenAIServer(reply_tokens=2, api_key="sk-from-env-0123456789") as server:
        code, report = perf(
            server.url, "--requests", "2", "--parallel", "1", "--prompt-len", "5", out=tmp_path / "k.json"
        )
    assert code == 0 and report["levels"][0]["completed"] == 2
    with FakeOpenAIServer(reply_tokens=2, api_key="sk-explicit-0123456789") as server:
        code, report = perf(
            server.url, "--api-key", "sk-explicit-0123456789", "--requests", "1", "--parallel", "1",
            "--prompt-len", "5", "--html", str(tmp_path / "k.html"), out=tmp_path / "k.json",
        )  # fmt: skip
    assert code == 0 and report["levels"][0]["completed"] == 1
    for written in (tmp_path / "k.json", tmp_path / "k.html"):
        assert "sk-explicit" not in written.read_text()
    assert report["settings"]["api_key"] == "***REDACTED***"


def test_unreachable_server_exits_2(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["--api-url", f"http://127.0.0.1:{port}/v1", "--wait-for-server", "0.3"]) == 2
    assert "server unreachable" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--requests", "0"], "every value must be at least 1"),
        (["--requests", "10001"], "at most 10000"),
        (["--parallel", "1,8", "--requests", "1,2,3"], "3 values for 2 levels"),
        (["--parallel", "two"], "comma-separated numbers"),
        (["--prompt-len", "0"], "--prompt-len must be at least 1"),
        (["--temperature", "-1"], "must be a finite number >= 0"),  # the evaluation table's own check
        (["--api-mode", "raw"], "invalid choice: 'raw'"),
        (["--wait-for-server", "-1"], "must be a finite number >= 0"),
        (["--api-url", "http://127.0.0.1:1/v1,http://127.0.0.1:2/v1"], "perf measures one endpoint"),
    ],
)
def test_rejects_bad_options(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(["--api-url", "http://127.0.0.1:1/v1", *argv])  # a later --api-url replaces this one
    assert info.value.code == 2
    assert message in capsys.readouterr().err
