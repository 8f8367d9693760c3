"""The openai engine against a scripted fake OpenAI-compatible server."""

from __future__ import annotations

import threading
import time

import pytest
from fake_openai_server import FakeOpenAIServer, free_port

from evalsuite.engines.base import EngineConfig, EngineConfigError, EngineError
from evalsuite.engines.openai import OpenAIEngine, chatml, create_openai_engine
from evalsuite.engines.openai_options import HttpOptions, backoff_s, normalise_base_url
from evalsuite.types import Completion, Message, Request, SamplingConfig

FAST = {"backoff_base_s": 0.001, "max_retry_delay_s": 0.01, "wait_for_server_s": 2}
SECRET = "sk-test-do-not-leak-123"


def make_engine(server: FakeOpenAIServer, **overrides) -> OpenAIEngine:
    options = {**FAST, **overrides.pop("options", {})}
    engine = create_openai_engine(EngineConfig(api_url=server.url, options=options, **overrides))
    assert isinstance(engine, OpenAIEngine)
    return engine


def make_request(prompt: str, *, index: int = 0, key: str | None = None, **sampling) -> Request:
    messages = (Message("system", "Be brief."), Message("user", prompt))
    return Request(
        key=key or f"{prompt}#{index}",
        item_nodeid=f"test/{prompt}",
        sample_index=index,
        messages=messages,
        prompt=chatml(messages),
        sampling=SamplingConfig(**{"max_tokens": 100, **sampling}),
    )


async def run(engine: OpenAIEngine, requests: list[Request], **kwargs) -> dict[str, Completion]:
    out: list[Completion] = []
    await engine.agenerate(requests, out.append, **kwargs)
    assert sorted(c.key for c in out) == sorted(r.key for r in requests), "one completion per request"
    return {c.key: c for c in out}


@pytest.mark.asyncio
async def test_chat_mode_sends_messages_and_sampling(fake_openai):
    server = fake_openai(reply_tokens=5)
    engine = make_engine(server)
    req = make_request("What is 2+2?", temperature=0.6, top_p=0.95, max_tokens=50, seed=7, stop=("###",))
    c = (await run(engine, [req]))[req.key]
    [got] = server.generation_requests()
    assert got.path == "/v1/chat/completions"
    assert got.body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 2+2?"},
    ]
    assert got.body["model"] == "fake-model"
    assert (got.body["temperature"], got.body["top_p"], got.body["max_tokens"]) == (0.6, 0.95, 50)
    assert got.body["stop"] == ["###"]
    assert got.body["stream"] is True and got.body["stream_options"] == {"include_usage": True}
    assert c == Completion(
        key=req.key,
        text="seed=7 tok0 tok1 tok2 tok3",
        finish_reason="stop",
        prompt_tokens=3,  # the fake counts words of the last user turn
        output_tokens=5,
        latency_s=c.latency_s,
        ttft_s=c.ttft_s,
    )
    assert (
        engine.render(req.messages)
        == '[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"}]'
    )


@pytest.mark.asyncio
async def test_completion_mode_sends_the_rendered_prompt(fake_openai):
    server = fake_openai()
    engine = make_engine(server, api_mode="completion")
    req = make_request("Say hi")
    assert req.prompt == engine.render(req.messages)
    assert engine.render(req.messages).endswith("<|im_start|>user\nSay hi<|im_end|>\n<|im_start|>assistant\n")
    c = (await run(engine, [req]))[req.key]
    [got] = server.generation_requests()
    assert got.path == "/v1/completions"
    assert got.body["prompt"] == req.prompt and "messages" not in got.body
    assert c.text.startswith("seed=0 tok0") and c.finish_reason == "stop"


@pytest.mark.parametrize(
    ("max_tokens", "finish_reason", "output_tokens"), [(3, "length", 3), (8, "stop", 8), (100, "stop", 8)]
)
@pytest.mark.asyncio
async def test_finish_reason_and_usage(fake_openai, max_tokens, finish_reason, output_tokens):
    engine = make_engine(fake_openai(reply_tokens=8))
    c = (await run(engine, [make_request("q", max_tokens=max_tokens)]))["q#0"]
    assert (c.finish_reason, c.output_tokens) == (finish_reason, output_tokens)


@pytest.mark.asyncio
async def test_seed_differs_per_sample_and_is_reproducible(fake_openai):
    server = fake_openai()
    engine = make_engine(server)
    requests = [make_request("q", index=i, seed=100) for i in range(3)]
    first = await run(engine, requests)
    second = await run(engine, requests)
    assert sorted(r.body["seed"] for r in server.generation_requests()) == [100, 100, 101, 101, 102, 102]
    assert [first[r.key].text.split()[0] for r in requests] == ["seed=100", "seed=101", "seed=102"]
    assert {k: c.text for k, c in first.items()} == {k: c.text for k, c in second.items()}


@pytest.mark.asyncio
async def test_ttft_and_latency_are_measured_from_the_stream(fake_openai):
    engine = make_engine(fake_openai(reply_tokens=5, first_token_delay_s=0.15, token_delay_s=0.05))
    c = (await run(engine, [make_request("q")]))["q#0"]
    assert c.ttft_s is not None and c.ttft_s >= 0.15
    assert c.latency_s >= c.ttft_s + 4 * 0.05, "the first token, not the last, stops the TTFT clock"


@pytest.mark.asyncio
async def test_streamed_tokens_report_progress_before_the_request_ends(fake_openai):
    engine = make_engine(fake_openai(reply_tokens=5, token_delay_s=0.01))
    beats: list[float] = []
    engine.on_progress = lambda: beats.append(len(beats))  # the leader's watchdog in a real run
    await run(engine, [make_request("q")])
    assert len(beats) >= 5, "every streamed chunk is progress: a long stream is no stall"


@pytest.mark.asyncio
async def test_non_streaming_mode(fake_openai):
    engine = make_engine(fake_openai(reply_tokens=4), options={"stream": False})
    c = (await run(engine, [make_request("q", max_tokens=2)]))["q#0"]
    assert (c.text, c.finish_reason, c.output_tokens, c.ttft_s) == ("seed=0 tok0", "length", 2, None)


@pytest.mark.parametrize(("n_requests", "bound", "expected_peak"), [(12, 4, 4), (6, 16, 6), (5, 1, 1)])
@pytest.mark.asyncio
async def test_concurrency_bound_is_reached_and_not_exceeded(fake_openai, n_requests, bound, expected_peak):
    server = fake_openai()
    engine = make_engine(server, max_concurrency=bound)
    completions = await run(engine, [make_request(f"SLOW150 q{i}") for i in range(n_requests)])
    assert all(c.finish_reason == "stop" for c in completions.values())
    assert server.peak_in_flight == expected_peak


@pytest.mark.parametrize(
    ("prompt", "max_retries", "posts", "ok"),
    [
        ("FAIL500x2 q", 4, 3, True),  # 500 twice, then success
        ("RATE429x1 q", 4, 2, True),  # 429 is retried
        ("DROPx1 q", 4, 2, True),  # a stream cut before finish_reason is retried
        ("FAIL500x9 q", 2, 3, False),  # retries are bounded
        ("FAIL500x9 q", 0, 1, False),  # none at all
        ("BAD400 q", 4, 1, False),  # other 4xx are not retried
    ],
)
@pytest.mark.asyncio
async def test_retries(fake_openai, prompt, max_retries, posts, ok):
    server = fake_openai()
    engine = make_engine(server, options={"max_retries": max_retries})
    c = (await run(engine, [make_request(prompt)]))[f"{prompt}#0"]
    assert len(server.generation_requests()) == posts
    if ok:
        assert c.finish_reason == "stop" and c.error is None and c.text.startswith("seed=0")
    else:
        assert c.finish_reason == "error" and c.text == ""
        assert ("HTTP 400" if "400" in prompt else f"failed after {max_retries + 1} attempts") in c.error


@pytest.mark.asyncio
async def test_one_failing_request_does_not_spoil_the_others(fake_openai):
    engine = make_engine(fake_openai())
    completions = await run(
        engine, [make_request("BAD400"), make_request("fine"), make_request("FAIL500x1 ok")]
    )
    assert {k: c.finish_reason for k, c in completions.items()} == {
        "BAD400#0": "error",
        "fine#0": "stop",
        "FAIL500x1 ok#0": "stop",
    }


@pytest.mark.parametrize(
    ("retry", "retry_after", "low", "high"),
    [
        (1, None, 0.05, 0.15),
        (2, None, 0.1, 0.3),
        (3, None, 0.2, 0.6),
        (10, None, 1.0, 1.0),
        (1, 0.7, 0.7, 0.7),
        (1, 99, 1.0, 1.0),
    ],
)
def test_backoff_is_exponential_jittered_and_capped(retry, retry_after, low, high):
    options = HttpOptions(backoff_base_s=0.1, max_retry_delay_s=1.0)
    waits = [backoff_s(retry, options, retry_after) for _ in range(200)]
    assert low <= min(waits) and max(waits) <= high
    if retry_after is None and retry < 4:
        assert max(waits) - min(waits) > (high - low) / 4, "jitter spreads the waits"


def test_unreachable_server_fails_fast_at_creation():
    url = f"http://127.0.0.1:{free_port()}/v1"
    start = time.monotonic()
    with pytest.raises(
        EngineConfigError,
        match=r"--api-url http://127\.0\.0\.1:\d+/v1: server unreachable .*\(http://127\.0\.0\.1:\d+: Connect",
    ):
        create_openai_engine(EngineConfig(api_url=url, options={"wait_for_server_s": 0.5}))
    assert time.monotonic() - start < 3


def test_liveness_wait_finds_a_server_that_comes_up_late():
    port = free_port()
    servers: list[FakeOpenAIServer] = []
    timer = threading.Timer(0.5, lambda: servers.append(FakeOpenAIServer(port=port).start()))
    timer.start()
    try:
        engine = create_openai_engine(
            EngineConfig(api_url=f"http://127.0.0.1:{port}", options={"wait_for_server_s": 10})
        )
        assert engine.model_name == "fake-model"
    finally:
        timer.join()
        for server in servers:
            server.stop()


@pytest.mark.parametrize(("unavailable", "timeout_s", "ok"), [(3, 5, True), (1000, 0.3, False)])
def test_liveness_wait_treats_5xx_as_not_up_yet(fake_openai, unavailable, timeout_s, ok):
    server = fake_openai(models_unavailable=unavailable)
    config = EngineConfig(api_url=server.url, options={"wait_for_server_s": timeout_s})
    if ok:
        assert create_openai_engine(config).model_name == "fake-model"
    else:
        with pytest.raises(
            EngineConfigError,
            match=r"server unreachable or model not listed \(http://127\.0\.0\.1:\d+: GET /v1/models: HTTP 503\)",
        ):
            create_openai_engine(config)


@pytest.mark.parametrize(
    ("models", "model_name", "expected"),
    [
        (("a", "b"), None, "a"),
        (("a", "b"), "b", "b"),
        (("a", "b"), "zzz", r"--model-name zzz not listed \(the server serves a, b\)"),
    ],
)
@pytest.mark.asyncio
async def test_model_name_discovery(fake_openai, models, model_name, expected):
    server = fake_openai(models=models)
    if expected.startswith("--"):
        with pytest.raises(EngineConfigError, match=expected):
            make_engine(server, model_name=model_name, options={"wait_for_server_s": 0.3})
        return
    engine = make_engine(server, model_name=model_name)
    assert engine.model_name == expected
    await run(engine, [make_request("q")])
    assert server.generation_requests()[0].body["model"] == expected


@pytest.mark.parametrize("suffix", ["/v1", "/v1/", "", "/"])
@pytest.mark.asyncio
async def test_api_url_with_or_without_v1(fake_openai, suffix):
    server = fake_openai()
    engine = create_openai_engine(EngineConfig(api_url=f"http://127.0.0.1:{server.port}{suffix}"))
    assert (await run(engine, [make_request("q")]))["q#0"].finish_reason == "stop"
    assert normalise_base_url(f"http://127.0.0.1:{server.port}{suffix}") == f"http://127.0.0.1:{server.port}"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (EngineConfig(api_url="ftp://x/v1"), "--api-url ftp://x/v1: expected an http"),
        (EngineConfig(api_url=None), "--api-url is required"),
        (EngineConfig(api_url="http://x", api_mode="edit"), "--api-mode edit"),
        (EngineConfig(api_url="http://x", adapters={"lora": "/lora"}), "--adapter cannot be loaded through --api-url"),
        (EngineConfig(api_url="http://x", max_concurrency=0), "--max-concurrency 0"),
        (
            EngineConfig(api_url="http://x", options={"max_retries": -1}),
            "option max_retries=-1: must be at least 0",
        ),
        (
            EngineConfig(api_url="http://x", options={"max_retries": 1.5}),
            "option max_retries=1.5: expected a whole",
        ),
        (
            EngineConfig(api_url="http://x", options={"request_timeout_s": 0}),
            "option request_timeout_s=0: must be more",
        ),
        (
            EngineConfig(api_url="http://x", options={"extra_body": "[1]"}),
            "option extra_body must be a JSON object",
        ),
        (EngineConfig(api_url="http://x,http://x/v1"), "--api-url lists http://x more than once"),
        (EngineConfig(api_url=" , "), "--api-url is empty"),
        (
            EngineConfig(api_url="http://x", options={"backoff_base_s": "soon"}),
            "option backoff_base_s='soon'",
        ),
    ],
)
def test_bad_options_are_rejected_before_any_request(config, message):
    with pytest.raises(EngineConfigError, match=message.replace("(", r"\(")):
        create_openai_engine(config)


@pytest.mark.asyncio
async def test_api_key_is_sent_but_never_leaks(fake_openai, monkeypatch):
    server = fake_openai(api_key=SECRET)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    engine = make_engine(server)  # the key comes from the environment
    completions = await run(engine, [make_request("BAD400"), make_request("ok")])
    assert {r.headers["authorization"] for r in server.received} == {f"Bearer {SECRET}"}
    assert completions["ok#0"].finish_reason == "stop"
    error = completions["BAD400#0"].error
    assert "HTTP 400" in error and "***" in error and SECRET not in error  # the server echoed it; we redact
    assert SECRET not in engine.fingerprint() and SECRET not in repr(engine.config)

    monkeypatch.setenv("OPENAI_API_KEY", "wrong")
    with pytest.raises(EngineConfigError, match="refused the API key") as info:
        make_engine(server)
    assert SECRET not in str(info.value)


def test_fingerprint_is_stable_and_names_url_and_model(fake_openai):
    server = fake_openai(models=("a", "b"))
    fp = make_engine(server).fingerprint()
    assert make_engine(server).fingerprint() == fp, "the server's per-query 'created' must not enter it"
    assert make_engine(server, model_name="b").fingerprint() != fp
    assert make_engine(server, api_mode="completion").fingerprint() != fp
    assert make_engine(fake_openai(models=("a", "b"))).fingerprint() != fp, "another server (port)"


def test_on_completion_runs_in_the_calling_thread_as_each_finishes(fake_openai):
    engine = make_engine(fake_openai(), max_concurrency=8)
    calls: list[tuple[str, int]] = []
    requests = [make_request("SLOW400 slow"), make_request("SLOW10 fast"), make_request("SLOW200 mid")]

    def worker() -> None:
        engine.generate(requests, lambda c: calls.append((c.key, threading.get_ident())))
        calls.append(("done", threading.get_ident()))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(timeout=10)
    assert [k for k, _ in calls] == ["SLOW10 fast#0", "SLOW200 mid#0", "SLOW400 slow#0", "done"]
    assert {ident for _, ident in calls} == {thread.ident}


def test_a_failing_callback_stops_the_run(fake_openai):
    engine = make_engine(fake_openai(), max_concurrency=2)

    def explode(c: Completion) -> None:
        raise OSError("disk full")

    start = time.monotonic()
    with pytest.raises(OSError, match="disk full"):
        engine.generate([make_request(f"SLOW50 q{i}") for i in range(20)], explode)
    assert time.monotonic() - start < 2, "the remaining requests are cancelled, not awaited"


@pytest.mark.asyncio
async def test_deadline_turns_unfinished_requests_into_errors(fake_openai):
    engine = make_engine(fake_openai())
    start = time.monotonic()
    completions = await run(engine, [make_request("SLOW3000 late"), make_request("early")], deadline_s=0.5)
    assert time.monotonic() - start < 2.5
    assert completions["early#0"].finish_reason == "stop"
    assert completions["SLOW3000 late#0"].finish_reason == "error"
    assert "deadline" in completions["SLOW3000 late#0"].error


@pytest.mark.asyncio
async def test_generate_inside_a_running_event_loop_is_refused(fake_openai):
    engine = make_engine(fake_openai())
    with pytest.raises(EngineError, match="without a running event loop"):
        engine.generate([make_request("q")], lambda c: None)
