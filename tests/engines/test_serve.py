"""``evalsuite serve``: our OpenAI-compatible endpoint around an engine, and vLLM's server started with our arguments."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from evalsuite.engines.base import EngineConfig, engines
from evalsuite.openai_server import EngineServer
from evalsuite.reports import read_run
from evalsuite.types import Message, Request, SamplingConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY = REPO_ROOT / "fixtures" / "models" / "tiny-r1"
EVAL_MODULE = (REPO_ROOT / "tests" / "benchmarks" / "test_eval.py").read_text()
SERVE_STARTUP_S = 600


class CountingEngine:
    """The fake engine, counting ``generate`` calls (batches)."""

    def __init__(self, script: Path) -> None:
        self.inner = engines.get("fake")(EngineConfig(model=str(script)))
        self.batches: list[int] = []
        self.render = self.inner.render

    def generate(self, requests, on_completion):
        self.batches.append(len(requests))
        self.inner.generate(requests, on_completion)


@pytest.fixture
def fake_server(tmp_path):
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps({"responses": {"2 + 2": "four", "long": "cut"}, "default": "other", "length": ["long"]})
    )
    engine = CountingEngine(script)
    server = EngineServer(engine, model_name="fake-model", batch_wait_s=0.2).start()
    yield server, engine
    server.stop()


def _requests(n: int, sampling: SamplingConfig) -> list[Request]:
    questions = ["What is 2 + 2?", "Say something long", "Hello"]
    return [
        Request(f"k{i}", f"item{i}", 0, (Message("user", questions[i % 3]),), "", sampling) for i in range(n)
    ]


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("mode", ["chat", "completion"])
def test_our_openai_engine_gets_what_the_engine_behind_the_server_says(fake_server, stream, mode):
    server, engine = fake_server
    client = engines.get("openai")(
        EngineConfig(api_url=server.url, api_mode=mode, options={"stream": str(stream).lower()})
    )
    assert client.model_name == "fake-model"
    got = {}
    requests = _requests(30, SamplingConfig(max_tokens=20))
    if mode == "completion":
        requests = [
            Request(r.key, r.item_nodeid, 0, r.messages, r.messages[0].content, r.sampling) for r in requests
        ]
    client.generate(requests, lambda c: got.setdefault(c.key, c))
    assert [got[r.key].text for r in requests] == ["four", "cut", "other"] * 10
    assert [got[r.key].finish_reason for r in requests] == ["stop", "length", "stop"] * 10
    assert all(got[r.key].output_tokens == 1 and got[r.key].prompt_tokens > 0 for r in requests)
    assert sum(engine.batches) == 30 and len(engine.batches) < 30  # concurrent requests were batched


def test_requests_with_other_sampling_go_to_the_engine_apart(fake_server):
    server, engine = fake_server
    client = engines.get("openai")(EngineConfig(api_url=server.url))
    requests = _requests(4, SamplingConfig(max_tokens=20)) + [
        Request(
            f"t{i}", "x", 0, (Message("user", "Hello"),), "", SamplingConfig(temperature=0.5, max_tokens=7)
        )
        for i in range(4)
    ]
    done = []
    client.generate(requests, done.append)
    assert sorted(c.key for c in done) == sorted(r.key for r in requests) and not any(c.error for c in done)
    assert sum(engine.batches) == 8 and len(engine.batches) >= 2


def test_bad_requests_are_400_and_say_why(fake_server):
    server, _ = fake_server
    chat = f"{server.url}/chat/completions"
    message = [{"role": "user", "content": "hi"}]
    cases = [
        (
            {"model": "other", "messages": message},
            "model 'other' is not served here; this server serves 'fake-model'",
        ),
        ({"messages": message, "n": 2}, "n must be 1"),
        ({"messages": []}, "'messages' must be a non-empty list"),
        ({"messages": [{"role": "user"}]}, "each message needs 'role' and 'content'"),
    ]
    for body, message_start in cases:
        response = httpx.post(chat, json=body, timeout=30)
        assert response.status_code == 400 and response.json()["error"]["message"].startswith(message_start)
    assert httpx.post(f"{server.url}/completions", json={"prompt": ["a", "b"]}, timeout=30).status_code == 400
    assert httpx.get(f"{server.url}/nope", timeout=30).status_code == 404


def test_the_vllm_command_carries_our_engine_arguments_and_vllm_accepts_it(tmp_path):
    from evalsuite.serve import vllm_command

    if not (TINY / "config.json").is_file():
        pytest.skip("tiny model absent")
    adapter = REPO_ROOT / "fixtures" / "adapters" / "tiny-r1-lora"
    config = EngineConfig(
        model=str(TINY),
        adapters={"tiny-r1-lora": str(adapter)},
        dtype="float32",
        seed=7,
        max_model_len=1024,
        options={"max_num_seqs": 32, "tensor_parallel_size": 2},
    )
    argv = vllm_command(config, host="127.0.0.1", port=8123, served_name="tiny")
    assert argv[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    text = " ".join(argv)
    for part in (
        "--dtype float32",
        "--seed 7",
        "--max-model-len 1024",
        "--max-num-seqs 32",
        "--tensor-parallel-size 2",
        "--port 8123",
        "--host 127.0.0.1",
        "--served-model-name tiny",
        f"--lora-modules tiny-r1-lora={adapter}",
    ):
        assert part in text
    if importlib.util.find_spec("vllm") is None:
        return
    from vllm.entrypoints.launchers.cli_args import make_arg_parser
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    args = make_arg_parser(FlexibleArgumentParser()).parse_args(argv[3:])
    assert (args.model, args.dtype, args.seed, args.max_model_len) == (str(TINY), "float32", 7, 1024)
    assert args.enable_lora and args.lora_modules[0].path == str(adapter) and args.tensor_parallel_size == 2


def _serve(log: Path) -> tuple[subprocess.Popen[bytes], str, float]:
    """Start ``evalsuite serve --engine hf`` on a free loopback port; its URL once the model is loaded."""
    command = [
        sys.executable,
        "-m",
        "evalsuite.cli",
        "serve",
        "--engine",
        "hf",
        "--model",
        str(TINY),
        "--port",
        "0",
    ]
    start = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    while time.monotonic() - start < SERVE_STARTUP_S:
        match = re.search(r"ready at (http://127\.0\.0\.1:\d+/v1)", log.read_text(errors="replace"))
        if match:
            return proc, match.group(1), time.monotonic() - start
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    pytest.fail(f"evalsuite serve did not get ready:\n{log.read_text(errors='replace')[-3000:]}")


def _evaluate(pytester: pytest.Pytester, run_id: str, *args: str) -> tuple[dict, float]:
    start = time.monotonic()
    result = pytester.runpytest_subprocess(
        *args,
        "--limit",
        "20",
        "--max-tokens",
        "160",
        "--no-cache",
        "--run-id",
        run_id,
        "-p",
        "no:cacheprovider",
        timeout=900,
    )
    wall = time.monotonic() - start
    assert result.ret == 0, result.stdout.str()[-3000:]
    record = read_run(pytester.path / "reports" / run_id)
    verdicts = {i.nodeid: [(s.output, s.correct, s.extracted) for s in i.samples] for i in record.items}
    return {"verdicts": verdicts, "generation": record.meta["generation"]}, wall


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("transformers") is None, reason="needs transformers")
@pytest.mark.skipif(not (TINY / "config.json").is_file(), reason="tiny model absent")
def test_two_runs_against_one_served_hf_engine_score_as_the_engine_in_process(pytester, tmp_path):
    pytester.makepyfile(test_eval=EVAL_MODULE)
    proc, url, ready_s = _serve(tmp_path / "serve.log")
    try:
        first, first_s = _evaluate(pytester, "served1", "--api-url", url)
        second, second_s = _evaluate(pytester, "served2", "--api-url", url)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        stopped = threading.Event()
        threading.Thread(target=lambda: (proc.wait(), stopped.set()), daemon=True).start()
        if not stopped.wait(60):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == 0, (tmp_path / "serve.log").read_text()[-2000:]
    direct, direct_s = _evaluate(pytester, "direct", "--engine", "hf", "--model", str(TINY))
    assert len(direct["verdicts"]) == 20
    assert first["verdicts"] == second["verdicts"] == direct["verdicts"]
    assert first["generation"]["generated"] == second["generation"]["generated"] > 0
    print(
        f"serve ready after {ready_s:.1f}s; runs against it {first_s:.1f}s and {second_s:.1f}s; "
        f"in-process hf run {direct_s:.1f}s (its engine start-up {direct['generation']['load_seconds']:.1f}s)"
    )
