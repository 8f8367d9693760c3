"""Injected faults between the openai engine and a server: every request ends correct or as an error.

A fault-injecting proxy (``fault_proxy.py``) sits in front of the scripted fake server. The matrix
test gives each kind of fault to the first attempt of several requests and checks each completion
against a fault-free run of the same requests; the persistent-fault test gives a kind to every
attempt and checks that the request ends as an error naming the fault, never as a short answer.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
import pytest_asyncio
from fake_openai_server import FakeOpenAIServer, free_port
from fault_proxy import FAULT_KINDS, body_key
from test_openai import make_request

from evalsuite.engines import openai as openai_engine
from evalsuite.engines import openai_models
from evalsuite.engines.base import EngineConfig
from evalsuite.engines.openai import OpenAIEngine
from evalsuite.engines.openai_wire import retry_after_s
from evalsuite.types import Completion, Request

# Retries wait long enough in total (0.75-2.25 s over four) to outlast a 0.3 s "restart".
RESILIENT = {
    "backoff_base_s": 0.1,
    "max_retry_delay_s": 0.5,
    "max_retries": 4,
    "read_timeout_s": 0.5,
    "wait_for_server_s": 5,
}
REQUESTS_PER_KIND = 3


def engine_at(url: str, **options: Any) -> OpenAIEngine:
    return OpenAIEngine(EngineConfig(api_url=url, max_concurrency=8, options={**RESILIENT, **options}))


async def generate(engine: OpenAIEngine, requests: list[Request], **kwargs: Any) -> dict[str, Completion]:
    out: list[Completion] = []
    await engine.agenerate(requests, out.append, **kwargs)
    assert sorted(c.key for c in out) == sorted(r.key for r in requests), "one completion per request"
    return {c.key: c for c in out}


def prompt_of(body: dict[str, Any]) -> str:
    return body["messages"][-1]["content"] if "messages" in body else body["prompt"]


def matrix_requests() -> list[Request]:
    return [
        make_request(f"{kind} #{i}", max_tokens=6) for kind in FAULT_KINDS for i in range(REQUESTS_PER_KIND)
    ]


@pytest_asyncio.fixture
async def reference(fake_openai) -> tuple[FakeOpenAIServer, dict[str, Completion]]:
    """The fake server (slowed a little so that streams have pieces to cut) and its fault-free answers."""
    server = fake_openai(reply_tokens=8, token_delay_s=0.005)
    return server, await generate(engine_at(server.url), matrix_requests())


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.asyncio
async def test_every_fault_is_survived_and_nothing_is_wrong(reference, fault_proxy, stream, capsys):
    server, expected = reference

    def first_attempt_fault(body: dict[str, Any], attempt: int) -> str | None:
        return prompt_of(body).split(" #")[0] if attempt == 0 else None

    p = fault_proxy(server.port, first_attempt_fault)
    got = await generate(engine_at(p.url, stream=stream), matrix_requests())

    table = []
    for kind in FAULT_KINDS:
        keys = [k for k in got if k.startswith(f"{kind} #")]
        survived = sum(
            got[k].text == expected[k].text and got[k].finish_reason == expected[k].finish_reason
            for k in keys
        )
        wrong = [k for k in keys if got[k].finish_reason != "error" and got[k].text != expected[k].text]
        table.append((kind, p.injected[kind], survived, wrong))
    with capsys.disabled():
        print(f"\nfault table ({'streamed' if stream else 'whole'} replies): kind, injected, survived")
        for kind, injected, survived, _ in table:
            print(f"  {kind:13s} {injected:3d} {survived:3d}")
    assert [(kind, injected, survived, wrong) for kind, injected, survived, wrong in table] == [
        (kind, REQUESTS_PER_KIND, REQUESTS_PER_KIND, []) for kind in FAULT_KINDS
    ]
    assert expected["http500 #0#0"].text.startswith("seed=0 tok0"), "the reference is a real answer"


PERSISTENT_ERRORS = {
    "http500": r"HTTP 500",
    "http429": r"HTTP 429",
    "reset": r"ReadError|RemoteProtocolError",
    "read_timeout": r"ReadTimeout: no data for 0\.5 s",
    "truncate": r"ended before a finish_reason|not JSON|RemoteProtocolError",
    "invalid_json": r"not JSON",
}


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("kind", sorted(PERSISTENT_ERRORS))
@pytest.mark.asyncio
async def test_a_fault_on_every_attempt_ends_as_an_error_naming_it(fake_openai, fault_proxy, kind, stream):
    server = fake_openai(reply_tokens=8)

    def doomed(body: dict[str, Any], attempt: int) -> str | None:
        return kind if prompt_of(body).startswith("doomed") else None

    p = fault_proxy(server.port, doomed, stall_s=1.0)
    engine = engine_at(p.url, stream=stream, max_retries=2, backoff_base_s=0.001)
    got = await generate(engine, [make_request("doomed"), make_request("fine")])
    bad, good = got["doomed#0"], got["fine#0"]
    assert (bad.finish_reason, bad.text) == ("error", ""), "never a short or empty 'answer'"
    assert re.search(PERSISTENT_ERRORS[kind], bad.error), bad.error
    assert "failed after 3 attempts" in bad.error
    assert p.injected[kind] == 3
    assert good.finish_reason == "stop" and good.text.startswith("seed=0 tok0")


@pytest.mark.asyncio
async def test_request_timeout_bounds_a_stream_that_never_goes_silent(fake_openai):
    server = fake_openai(reply_tokens=40, token_delay_s=0.05)  # ~2 s, never 0.5 s without a token
    slow = engine_at(server.url, request_timeout_s=0.4, max_retries=1)
    c = (await generate(slow, [make_request("long")]))["long#0"]
    assert c.finish_reason == "error"
    assert "no complete reply within the 0.4 s request timeout (request_timeout_s)" in c.error
    assert len(server.generation_requests()) == 2, "the timed-out attempt is retried once"
    patient = engine_at(server.url, request_timeout_s=30)
    assert (await generate(patient, [make_request("long")]))["long#0"].finish_reason == "stop"


@pytest.mark.asyncio
async def test_retry_after_is_honoured(fake_openai, fault_proxy, monkeypatch):
    waits: list[tuple[int, float | None]] = []
    real = openai_engine.backoff_s

    def recording(retry: int, options: Any, retry_after: float | None = None) -> float:
        waits.append((retry, retry_after))
        return real(retry, options, retry_after)

    monkeypatch.setattr(openai_engine, "backoff_s", recording)
    server = fake_openai()
    p = fault_proxy(server.port, lambda body, attempt: "http429" if attempt < 2 else None, retry_after_s=0.25)
    c = (await generate(engine_at(p.url), [make_request("q")]))["q#0"]
    assert c.finish_reason == "stop"
    assert waits == [(1, 0.25), (2, 0.25)]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        (" 0.5 ", 0.5),
        ("-2", 0.0),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),  # 10 s after "now" below
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # already past
        ("soon", None),
        (None, None),
    ],
)
def test_retry_after_header_forms(header, expected):
    now = 1445412480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert retry_after_s(header, now=now) == expected


@pytest.mark.asyncio
async def test_a_server_that_crashes_and_restarts_mid_run_loses_nothing(fake_openai):
    port = free_port()
    first = FakeOpenAIServer(port=port, reply_tokens=6, token_delay_s=0.02).start()
    engine = engine_at(first.url, backoff_base_s=0.1, max_retry_delay_s=1.0, max_retries=6)
    restarted: list[FakeOpenAIServer] = []

    def crash_and_restart() -> None:
        first.crash()
        threading.Event().wait(0.3)  # down for a while: connections are refused
        restarted.append(FakeOpenAIServer(port=port, reply_tokens=6, token_delay_s=0.02).start())

    requests = [make_request(f"SLOW100 q{i}") for i in range(24)]
    crasher = threading.Thread(target=crash_and_restart)
    done: list[Completion] = []

    def on_completion(c: Completion) -> None:
        done.append(c)
        if len(done) == 6:  # some answered: crash mid-run
            crasher.start()

    try:
        await engine.agenerate(requests, on_completion)
    finally:
        crasher.join()
        first.stop()
        for server in restarted:
            server.stop()
    got = {c.key: c for c in done}
    assert len(got) == len(requests)
    assert {c.finish_reason for c in got.values()} == {"stop"}, [c.error for c in got.values() if c.error]
    assert all(c.text == "seed=0 tok0 tok1 tok2 tok3 tok4" for c in got.values())
    before, after = len(first.generation_requests()), len(restarted[0].generation_requests())
    assert 0 < before < len(requests) and after > 0, "the crash came mid-run; the restarted server took over"
    assert before + after >= len(requests)
    [stats] = engine.endpoint_stats()
    assert stats.completed == len(requests) and stats.failed_attempts >= 1


@pytest.mark.asyncio
async def test_wait_for_server_polls_until_the_model_is_listed_with_progress(fake_openai, monkeypatch):
    monkeypatch.setattr(openai_models, "PROGRESS_EVERY_S", 0.0)
    server = fake_openai(models=("other",), models_unavailable=2)
    threading.Timer(0.8, lambda: setattr(server, "models", ("other", "wanted"))).start()
    lines: list[str] = []
    engine = OpenAIEngine(
        EngineConfig(api_url=server.url, model_name="wanted", options={"wait_for_server_s": 10}),
        progress=lines.append,
    )
    assert engine.model_name == "wanted"
    assert any(
        re.search(r"waiting for the model at .*: GET /v1/models: HTTP 503 \(\d+ s of 10 s\)", x)
        for x in lines
    )
    assert any("--model-name wanted not listed (the server serves other)" in x for x in lines)
    assert (await generate(engine, [make_request("q")]))["q#0"].finish_reason == "stop"


def test_every_fault_kind_is_exercised():
    assert set(PERSISTENT_ERRORS) | {"slow", "restart"} == set(FAULT_KINDS)
    assert body_key({"b": 1, "a": 2}) == body_key({"a": 2, "b": 1})
