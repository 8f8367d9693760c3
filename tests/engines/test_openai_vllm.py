"""The openai engine and ``evalsuite perf`` against real vLLM OpenAI servers on CPU (slow).

The session's server (``vllm_server``) is shared by every test here; the failover test starts a
second one of its own and kills it mid-run.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest
from fake_openai_server import free_port
from fault_proxy import FAULT_KINDS
from vllm_launch import kill, launch, stop

from evalsuite.benchmarks.base import load_benchmark
from evalsuite.engines.base import EngineConfig
from evalsuite.engines.openai import OpenAIEngine, create_openai_engine
from evalsuite.perf import main as perf_main
from evalsuite.types import Completion, Request, SamplingConfig

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

MAX_TOKENS = 32
SHORT = SamplingConfig(temperature=0.0, max_tokens=12, seed=0)
"""Few tokens: CPU time goes to the faults and the endpoints, not to decoding."""


def builtin_requests(
    engine: OpenAIEngine, n_items: int, n_samples: int, sampling: SamplingConfig, *, skip: int = 0
) -> list[Request]:
    """Requests for ``n_items`` built-in items with distinct prompts (after the first ``skip``)."""
    seen: set[str] = set()
    items = []
    for item in load_benchmark("builtin").items:
        if engine.render(item.messages) not in seen:
            seen.add(engine.render(item.messages))
            items.append(item)
    items = items[skip : skip + n_items]
    return [
        Request(
            key=f"{item.nodeid}#{s}",
            item_nodeid=item.nodeid,
            sample_index=s,
            messages=item.messages,
            prompt=engine.render(item.messages),
            sampling=sampling,
        )
        for item in items
        for s in range(n_samples)
    ]


def generate(engine: OpenAIEngine, requests: list[Request]) -> dict[str, Completion]:
    out: list[Completion] = []
    engine.generate(requests, out.append)
    return {c.key: c for c in out}


@pytest.mark.parametrize("api_mode", ["chat", "completion"])
def test_builtin_benchmark_through_vllm(vllm_server, api_mode):
    config = EngineConfig(api_url=vllm_server.url, api_mode=api_mode, max_concurrency=8)
    engine = create_openai_engine(config)
    assert isinstance(engine, OpenAIEngine)
    assert engine.model_name == str(vllm_server.model_dir), "discovered from /v1/models"
    assert create_openai_engine(config).fingerprint() == engine.fingerprint(), "stable across queries"

    greedy = SamplingConfig(temperature=0.0, max_tokens=MAX_TOKENS, seed=0)
    requests = builtin_requests(engine, n_items=6, n_samples=1, sampling=greedy)
    first = generate(engine, requests)
    assert sorted(first) == sorted(r.key for r in requests)
    for c in first.values():
        assert c.finish_reason in ("stop", "length"), c.error
        assert c.prompt_tokens > 0 and 0 < c.output_tokens <= MAX_TOKENS
        assert (c.finish_reason == "length") == (c.output_tokens == MAX_TOKENS)
        assert c.ttft_s is not None and 0 < c.ttft_s <= c.latency_s
    assert {k: c.text for k, c in generate(engine, requests).items()} == {
        k: c.text for k, c in first.items()
    }, "greedy decoding is reproducible"

    sampled = SamplingConfig(temperature=1.0, max_tokens=MAX_TOKENS, seed=1)
    samples = generate(engine, builtin_requests(engine, n_items=1, n_samples=4, sampling=sampled))
    assert all(c.finish_reason != "error" for c in samples.values())
    assert len({c.text for c in samples.values()}) > 1, "per-sample seeds make samples differ"


def test_perf_against_vllm(vllm_server, tmp_path, capsys):
    out = tmp_path / "perf.json"
    argv = [
        "--api-url", vllm_server.url, "--parallel", "1,8", "--requests", "4,16", "--warmup", "1",
        "--prompt-len", "128", "--max-tokens", "64", "--json", str(out),
    ]  # fmt: skip
    assert perf_main(argv) == 0
    table = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["ignore_eos"] is True, "vLLM takes ignore_eos: every request generates --max-tokens"
    for level, parallel in zip(report["levels"], (1, 8), strict=True):
        assert (level["level"], level["failed"], level["mean_output_tokens"]) == (parallel, 0, 64)
        assert level["peak_in_flight"] == parallel
        assert 120 <= level["mean_prompt_tokens"] <= 136, "sized to --prompt-len by the server's count"
        assert 0 < level["ttft_s"]["p50"] < level["latency_s"]["p50"]
        assert level["tpot_s"]["p50"] > 0 and level["itl_s"]["p50"] > 0 and level["output_throughput"] > 0
    with capsys.disabled():  # the figures are worth seeing in the CI log
        print(f"\nvLLM server start-up: {vllm_server.startup_s:.0f} s\n{table}")


def prompt_key(body: dict[str, Any]) -> str:
    return json.dumps(body.get("messages") or body.get("prompt"))


def test_injected_faults_against_vllm(vllm_server, fault_proxy, capsys):
    """Each kind of fault on the first attempt of two requests; every answer equals the fault-free one."""
    direct = OpenAIEngine(EngineConfig(api_url=vllm_server.url, max_concurrency=8))
    requests = builtin_requests(direct, n_items=2 * len(FAULT_KINDS), n_samples=1, sampling=SHORT)
    expected = generate(direct, requests)
    kind_of = {
        json.dumps([{"role": m.role, "content": m.content} for m in r.messages]): FAULT_KINDS[
            i % len(FAULT_KINDS)
        ]
        for i, r in enumerate(requests)
    }
    proxy = fault_proxy(
        httpx.URL(vllm_server.url).port,
        lambda body, attempt: kind_of[prompt_key(body)] if attempt == 0 else None,
        stall_s=8.0,
        down_s=1.0,
    )
    options = {"read_timeout_s": 4, "backoff_base_s": 0.2, "max_retries": 4, "wait_for_server_s": 30}
    engine = OpenAIEngine(EngineConfig(api_url=proxy.url, max_concurrency=8, options=options))
    got = generate(engine, requests)
    rows = []
    for kind in FAULT_KINDS:
        keys = [r.key for i, r in enumerate(requests) if FAULT_KINDS[i % len(FAULT_KINDS)] == kind]
        survived = sum(got[k].finish_reason != "error" and got[k].text == expected[k].text for k in keys)
        rows.append((kind, proxy.injected[kind], survived))
    with capsys.disabled():
        print("\nfault table against vLLM (kind, injected, survived):")
        for row in rows:
            print(f"  {row[0]:13s} {row[1]:3d} {row[2]:3d}")
    assert all(c.finish_reason != "error" for c in expected.values())
    assert {k: c.error for k, c in got.items() if c.error} == {}
    assert rows == [(kind, 2, 2) for kind in FAULT_KINDS]


def timed_run(engine: OpenAIEngine, requests: list[Request]) -> tuple[float, int]:
    start = time.perf_counter()
    out = generate(engine, requests)
    assert all(c.finish_reason != "error" for c in out.values()), [c.error for c in out.values()]
    return time.perf_counter() - start, sum(c.output_tokens for c in out.values())


def test_two_endpoints_share_the_load_and_survive_losing_one(vllm_server, tmp_path, capsys):
    """Throughput with two servers vs one (printed), then the second is killed mid-run."""
    second = launch(vllm_server.model_dir, free_port(), tmp_path / "second.log")
    try:
        one = OpenAIEngine(EngineConfig(api_url=vllm_server.url, max_concurrency=16))
        two = OpenAIEngine(
            EngineConfig(
                api_url=f"{vllm_server.url},{second.url}", max_concurrency=16, options={"cooldown_s": 60}
            )
        )
        assert two.fingerprint() != one.fingerprint() and two.model_name == one.model_name
        sets = [builtin_requests(one, n_items=32, n_samples=1, sampling=SHORT, skip=32 * i) for i in range(3)]
        generate(two, sets[0])  # warm both servers up
        figures = {"one": [], "two": []}
        for name, engine, batch in (
            ("one", one, sets[1]),
            ("two", two, sets[2]),
            ("one", one, sets[2]),
            ("two", two, sets[1]),
        ):
            figures[name].append(timed_run(engine, batch))
        warm = {e.url: e.completed for e in two.endpoint_stats()}
        assert all(n > 0 for n in warm.values()), f"both endpoints served: {warm}"

        failover = builtin_requests(one, n_items=48, n_samples=1, sampling=SHORT, skip=96)
        reference = generate(one, failover)
        done: list[Completion] = []
        killer = threading.Thread(target=kill, args=(second.proc,))

        def on_completion(c: Completion) -> None:
            done.append(c)
            if len(done) == 8:
                killer.start()

        two.generate(failover, on_completion)
        killer.join(timeout=60)
        stats = {e.url: e for e in two.endpoint_stats()}
    finally:
        stop(second.proc)
    got = {c.key: c for c in done}
    assert sorted(got) == sorted(reference)
    assert {k: c.error for k, c in got.items() if c.error} == {}
    mismatched = [k for k in got if got[k].text != reference[k].text]
    survivor, killed = stats[two.urls[0]], stats[two.urls[1]]
    with capsys.disabled():
        for name, runs in figures.items():
            tok_s = [tokens / seconds for seconds, tokens in runs]
            print(
                f"\n{name} endpoint(s): {', '.join(f'{t:.0f}' for t in tok_s)} output tok/s (32 requests x <=12 tokens)"
            )
        for e in stats.values():
            print(
                f"  {e.url}: completed {e.completed}, failed attempts {e.failed_attempts}, moved {e.moved}, "
                f"taken out {e.taken_out}, {e.output_tokens_per_s:.0f} tok/s busy"
            )
        print(f"  greedy answers differing from the one-endpoint run: {len(mismatched)} of {len(got)}")
    assert killed.taken_out >= 1 and killed.failed_attempts + killed.moved >= 1, killed
    assert survivor.completed >= len(failover) - killed.completed
    assert not mismatched
