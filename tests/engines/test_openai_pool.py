"""Several endpoints behind one openai engine: the pool's rules, then fake servers that fail."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from fake_openai_server import free_port
from test_openai import make_request

from evalsuite.engines.base import EngineConfig, EngineConfigError
from evalsuite.engines.openai import OpenAIEngine
from evalsuite.engines.openai_pool import EndpointPool
from evalsuite.types import Completion, Request

FAST = {"backoff_base_s": 0.01, "max_retry_delay_s": 0.1, "wait_for_server_s": 2, "cooldown_s": 60}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def ok(tokens: int = 3) -> Completion:
    return Completion(key="k", text="x", finish_reason="stop", output_tokens=tokens)


# -- the pool's rules ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_pick_prefers_the_endpoint_with_fewest_outstanding():
    pool = EndpointPool(["a", "b", "c"], cooldown_s=10)
    never = asyncio.get_running_loop().create_future()
    picked = []
    for _ in range(6):
        endpoint = pool.pick()
        picked.append(endpoint.url)
        pool.begin(endpoint, asyncio.ensure_future(asyncio.shield(never)))
    assert picked == ["a", "b", "c", "a", "b", "c"]
    a = pool.endpoints[0]
    pool.end(a, next(iter(a.attempts)))
    assert pool.pick().url == "a"
    for e in pool.endpoints:
        for task in e.attempts:
            task.cancel()


def test_refused_takes_out_at_once_and_cool_down_brings_back_one_probe_at_a_time():
    clock = Clock()
    pool = EndpointPool(["a", "b"], cooldown_s=10, clock=clock)
    a, b = pool.endpoints
    pool.failed(a, endpoint_fault=True, refused=True)
    assert [pool.pick().url for _ in range(3)] == ["b", "b", "b"] and a.taken_out == 1
    clock.now += 10
    assert pool.pick() is a, "back after the cool-down"
    a.outstanding = 1  # its probe is in flight
    assert pool.pick() is b and not a.usable(clock.now)
    a.outstanding = 0
    pool.succeeded(a, ok())
    a.outstanding = 1
    assert a.usable(clock.now), "a success ends probing"


def test_three_endpoint_faults_in_a_row_take_out_but_rate_limits_and_successes_do_not():
    clock = Clock()
    pool = EndpointPool(["a", "b"], cooldown_s=10, failures_to_take_out=3, clock=clock)
    a = pool.endpoints[0]
    for _ in range(5):
        pool.failed(a, endpoint_fault=False, refused=False)  # 429, a garbled reply
    pool.failed(a, endpoint_fault=True, refused=False)
    pool.failed(a, endpoint_fault=True, refused=False)
    pool.succeeded(a, ok())
    pool.failed(a, endpoint_fault=True, refused=False)
    pool.failed(a, endpoint_fault=True, refused=False)
    assert a.usable(clock.now) and a.taken_out == 0
    pool.failed(a, endpoint_fault=True, refused=False)
    assert not a.usable(clock.now) and a.taken_out == 1 and a.failed_attempts == 10
    pool.failed(a, endpoint_fault=True, refused=True)
    assert a.taken_out == 1, "failures of requests already in flight do not take it out again"


def test_a_lone_endpoint_is_never_skipped():
    clock = Clock()
    pool = EndpointPool(["a"], cooldown_s=10, clock=clock)
    pool.failed(pool.endpoints[0], endpoint_fault=True, refused=True)
    assert pool.pick() is pool.endpoints[0]
    pool2 = EndpointPool(["a", "b"], cooldown_s=10, clock=clock)
    pool2.failed(pool2.endpoints[0], endpoint_fault=True, refused=True)
    clock.now += 1
    pool2.failed(pool2.endpoints[1], endpoint_fault=True, refused=True)
    assert pool2.pick() is pool2.endpoints[0], "all out: the one due back first"


@pytest.mark.parametrize("other_usable", [True, False])
@pytest.mark.asyncio
async def test_taking_out_moves_in_flight_attempts_only_when_they_have_somewhere_to_go(other_usable):
    clock = Clock()
    pool = EndpointPool(["a", "b"], cooldown_s=10, clock=clock)
    a, b = pool.endpoints
    if not other_usable:
        pool.take_out(b)
    task = asyncio.ensure_future(asyncio.sleep(30))
    pool.begin(a, task)
    pool.take_out(a)
    await asyncio.sleep(0)
    assert task.cancelled() is other_usable
    moved = pool.end(a, task) if other_usable else None
    task.cancel()
    if other_usable:
        assert moved and a.moved == 1


def test_stats_count_tokens_and_busy_time():
    clock = Clock()
    pool = EndpointPool(["a"], cooldown_s=10, clock=clock)
    a = pool.endpoints[0]
    loop = asyncio.new_event_loop()
    try:
        t1, t2 = loop.create_future(), loop.create_future()
        pool.begin(a, t1)
        clock.now += 2
        pool.begin(a, t2)
        clock.now += 1
        pool.end(a, t1)
        pool.succeeded(a, ok(5))
        assert pool.stats()[0].busy_s == 3.0, "still busy: counted up to now"
        clock.now += 1
        pool.end(a, t2)
        pool.succeeded(a, ok(7))
        clock.now += 50  # idle time is not busy time
        [stats] = pool.stats()
        assert (stats.completed, stats.output_tokens, stats.busy_s, stats.output_tokens_per_s) == (
            2,
            12,
            4.0,
            3.0,
        )
    finally:
        loop.close()


@pytest.mark.parametrize(("urls", "message"), [([], "at least one URL"), (["a", "a"], "repeat")])
def test_pool_refuses_bad_url_lists(urls, message):
    with pytest.raises(ValueError, match=message):
        EndpointPool(urls, cooldown_s=1)


# -- the engine over several fake servers -------------------------------------------------------


def two_endpoint_engine(*urls: str, **options: Any) -> OpenAIEngine:
    return OpenAIEngine(
        EngineConfig(api_url=",".join(urls), max_concurrency=8, options={**FAST, **options}),
        progress=lambda line: None,
    )


async def generate(engine: OpenAIEngine, requests: list[Request], **kwargs: Any) -> dict[str, Completion]:
    out: list[Completion] = []
    await engine.agenerate(requests, out.append, **kwargs)
    assert sorted(c.key for c in out) == sorted(r.key for r in requests), "one completion per request"
    return {c.key: c for c in out}


def answers_ok(got: dict[str, Completion]) -> bool:
    return all(c.finish_reason == "stop" and c.text.startswith("seed=0 tok0") for c in got.values())


@pytest.mark.asyncio
async def test_requests_spread_over_both_endpoints_and_stats_match_the_servers(fake_openai):
    a, b = fake_openai(), fake_openai()
    engine = two_endpoint_engine(a.url, b.url)
    got = await generate(engine, [make_request(f"SLOW100 q{i}") for i in range(16)])
    assert answers_ok(got)
    stats = engine.endpoint_stats()
    assert [s.completed for s in stats] == [len(a.generation_requests()), len(b.generation_requests())]
    assert min(s.completed for s in stats) >= 4, "least outstanding spreads a uniform load"
    assert sum(s.output_tokens for s in stats) == sum(c.output_tokens for c in got.values())
    assert all(s.busy_s > 0 and s.failed_attempts == 0 for s in stats)


@pytest.mark.asyncio
async def test_an_endpoint_down_at_start_is_left_out_and_the_run_completes(fake_openai):
    up = fake_openai()
    dead = f"http://127.0.0.1:{free_port()}/v1"
    lines: list[str] = []
    engine = OpenAIEngine(
        EngineConfig(api_url=f"{dead},{up.url}", options={**FAST, "wait_for_server_s": 0.3}),
        progress=lines.append,
    )
    assert any("starting without http://127.0.0.1" in line and "ConnectError" in line for line in lines)
    assert answers_ok(await generate(engine, [make_request(f"q{i}") for i in range(6)]))
    dead_stats, up_stats = engine.endpoint_stats()
    assert (dead_stats.completed, dead_stats.taken_out, up_stats.completed) == (0, 1, 6)


@pytest.mark.asyncio
async def test_a_crashed_endpoint_is_taken_out_and_its_requests_finish_elsewhere(fake_openai):
    a = fake_openai(reply_tokens=6, token_delay_s=0.02)
    b = fake_openai(reply_tokens=6, token_delay_s=0.02)
    engine = two_endpoint_engine(a.url, b.url)
    crash = threading.Thread(target=b.crash)
    done: list[Completion] = []

    def on_completion(c: Completion) -> None:
        done.append(c)
        if len(done) == 8:  # the first wave is back from both: crash one mid-run
            crash.start()

    await engine.agenerate([make_request(f"SLOW100 q{i}") for i in range(24)], on_completion)
    crash.join()
    got = {c.key: c for c in done}
    assert len(got) == 24 and answers_ok(got), {k: c.error for k, c in got.items() if c.error}
    sa, sb = engine.endpoint_stats()
    assert sb.taken_out == 1 and sb.failed_attempts >= 1 and 0 < sb.completed < 24
    assert sa.completed == 24 - sb.completed


@pytest.mark.asyncio
async def test_an_endpoint_answering_5xx_is_taken_out_after_three_failures(fake_openai, fault_proxy):
    server = fake_openai()
    failing = fault_proxy(server.port, lambda body, attempt: "http500")
    healthy = fake_openai()
    engine = two_endpoint_engine(failing.url, healthy.url)
    got = await generate(engine, [make_request(f"SLOW50 q{i}") for i in range(12)])
    assert answers_ok(got)
    bad, good = engine.endpoint_stats()
    assert (bad.completed, bad.taken_out, good.completed) == (0, 1, 12)
    # Three in a row take it out; attempts already in flight then may fail too (at most max_concurrency).
    assert 3 <= bad.failed_attempts <= 3 + 8


@pytest.mark.asyncio
async def test_in_flight_requests_move_when_their_endpoint_is_taken_out(fake_openai, fault_proxy):
    """Requests hanging on an endpoint are moved (not left to time out) once it is taken out."""
    server = fake_openai()

    def plan(body: dict[str, Any], attempt: int) -> str | None:
        return "read_timeout" if "hang" in body["messages"][-1]["content"] else "http500"

    hanging = fault_proxy(server.port, plan, stall_s=30)
    healthy = fake_openai()
    engine = two_endpoint_engine(hanging.url, healthy.url, read_timeout_s=60)
    hang = [make_request(f"hang {i}") for i in range(4)]
    got = await generate(engine, hang + [make_request(f"SLOW100 boom {i}") for i in range(8)], deadline_s=20)
    assert answers_ok(got), {k: c.error for k, c in got.items() if c.error}
    bad, good = engine.endpoint_stats()
    assert bad.taken_out == 1 and bad.moved >= 1 and bad.completed == 0 and good.completed == 12


def test_endpoints_serving_different_models_are_refused(fake_openai):
    a, b = fake_openai(models=("m",)), fake_openai(models=("other",))
    with pytest.raises(
        EngineConfigError, match=r"serves id='other' but .* serves 'm'; every endpoint must serve"
    ):
        two_endpoint_engine(a.url, b.url)


def test_fingerprint_of_several_endpoints_ignores_their_order(fake_openai):
    a, b = fake_openai(), fake_openai()
    both = two_endpoint_engine(a.url, b.url).fingerprint()
    assert two_endpoint_engine(b.url, a.url).fingerprint() == both
    assert two_endpoint_engine(a.url).fingerprint() != both
