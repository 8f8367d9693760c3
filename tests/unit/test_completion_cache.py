"""The cache key holds everything that changes a completion; the cache and the waiters behave."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from evalsuite.cache import CompletionCache, request_key
from evalsuite.generation import GenerationFailed, GenerationLeader, wait_for_item
from evalsuite.types import Completion, Item, Message, SamplingConfig

BASE = dict(fingerprint="vllm/abc", adapter=None, prompt="p", sampling=SamplingConfig(), sample_index=0)


@pytest.mark.parametrize(
    "change",
    [
        {"fingerprint": "hf/abc"},
        {"adapter": "lora1"},
        {"prompt": "p "},
        {"sample_index": 1},
        {"sampling": SamplingConfig(temperature=0.6)},
        {"sampling": SamplingConfig(top_p=0.9)},
        {"sampling": SamplingConfig(max_tokens=64)},
        {"sampling": SamplingConfig(seed=1)},
        {"sampling": SamplingConfig(stop=("</s>",))},
    ],
)
def test_every_field_changes_the_key(change):
    assert request_key(**{**BASE, **change}) != request_key(**BASE)


def test_key_is_stable():
    assert request_key(**BASE) == request_key(**dict(BASE))


def test_put_get_and_failures_are_per_run(tmp_path):
    cache = CompletionCache(tmp_path / "c.sqlite")
    cache.put(Completion("k1", "out", "stop", output_tokens=3), run_id="r1")
    cache.put(Completion("k2", "", "error", error="boom"), run_id="r1")
    assert cache.get_many(["k1", "k2"])["k1"].output_tokens == 3
    assert "k2" not in cache.get_many(["k2"])  # errors are not cached across runs
    assert cache.failures("r1", ["k2"]) == {"k2": "boom"} and cache.failures("r2", ["k2"]) == {}


class _Engine:
    name = "scripted"

    def __init__(self, fail: bool = False, on_cpu: bool = False, gate: threading.Event | None = None) -> None:
        self.fail = fail
        self.on_cpu = on_cpu
        self.gate = gate  # when set, everything after the first request waits for it
        self.loaded = self.closed = False

    def fingerprint(self) -> str:
        return "fp"

    def render(self, messages):
        return messages[-1].content

    def context_length(self) -> None:
        return None  # unknown: requests keep the run's max_tokens

    def count_tokens(self, prompt: str) -> None:
        return None

    def computes_on_cpu(self) -> bool:
        return self.on_cpu

    def load(self) -> None:
        time.sleep(0.05)
        self.loaded = True

    def generate(self, requests, on_completion):
        assert self.loaded
        if self.fail:
            raise RuntimeError("engine died")
        for n, r in enumerate(requests):
            if n == 1 and self.gate is not None:
                assert self.gate.wait(30)
            time.sleep(0.01)
            on_completion(Completion(r.key, f"answer to {r.prompt}", "stop", output_tokens=2))

    def close(self):
        self.closed = True


def _items(n):
    return [Item("b", f"i{i}", (Message("user", f"q{i}"),), gold="1") for i in range(n)]


def test_leader_streams_and_waiters_in_threads_get_their_items(tmp_path):
    cache = CompletionCache(tmp_path / "c.sqlite")
    engine = _Engine()
    leader = GenerationLeader(engine, cache, run_id="r", sampling=SamplingConfig(), samples=2)
    items = _items(5)
    got = {}

    def wait(item):
        got[item.nodeid] = wait_for_item(CompletionCache(tmp_path / "c.sqlite"), "r", item.nodeid)

    threads = [threading.Thread(target=wait, args=(i,)) for i in items]
    for t in threads:
        t.start()
    leader.start(items)
    leader.join()
    for t in threads:
        t.join(10)
    assert {k: [c.text for c in v] for k, v in got.items()} == {
        i.nodeid: [f"answer to {i.messages[0].content}"] * 2 for i in items
    }
    stats = dataclasses.asdict(leader.stats)
    assert stats["generated"] == 10 and stats["output_tokens"] == 20
    # start-up is timed apart from generation, so tok/s measures generation alone
    assert stats["load_seconds"] >= 0.05 and 0 < stats["seconds"] < stats["load_seconds"] + 5
    assert leader.stats.tokens_per_second == pytest.approx(20 / stats["seconds"])
    assert engine.closed  # released as soon as nothing is left to generate


@pytest.mark.parametrize(
    ("schedule", "on_cpu", "held"),
    [("auto", False, False), ("auto", True, True), ("stream", True, False), ("after", False, True)],
)
def test_the_schedule_decides_whether_a_finished_item_waits_for_the_whole_plan(tmp_path, schedule, on_cpu, held):
    gate = threading.Event()
    cache = CompletionCache(tmp_path / "c.sqlite")
    leader = GenerationLeader(_Engine(on_cpu=on_cpu, gate=gate), cache, run_id="r", sampling=SamplingConfig(),
                              samples=1, schedule=schedule)
    leader.start(_items(3))
    got: list = []
    waiter = threading.Thread(
        target=lambda: got.extend(wait_for_item(CompletionCache(tmp_path / "c.sqlite"), "r", "b/i0", max_poll_s=0.05))
    )
    waiter.start()
    key = cache.plan_keys("r", "b/i0")[0]
    deadline = time.monotonic() + 30
    while not cache.get_many([key]) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cache.get_many([key]), "the first item was never generated"
    # b/i0 is complete while the rest of the plan waits on the gate
    waiter.join(0.5 if held else 30)
    assert waiter.is_alive() is held
    assert cache.state("r").schedule == ("after" if held else "stream")
    gate.set()
    leader.join()
    waiter.join(30)
    assert [c.text for c in got] == ["answer to q0"]


def test_a_held_item_whose_completions_exist_survives_a_later_engine_failure(tmp_path):
    cache = CompletionCache(tmp_path / "c.sqlite")
    leader = GenerationLeader(_Engine(), cache, run_id="r", sampling=SamplingConfig(), samples=1, schedule="after")
    leader.start(_items(2))
    leader.join()
    cache.set_state("r", "failed", "engine died later")
    assert cache.state("r").schedule == "after"  # a state change keeps the schedule
    assert [c.text for c in wait_for_item(cache, "r", "b/i0")] == ["answer to q0"]


def test_waiters_learn_that_the_engine_died(tmp_path):
    cache = CompletionCache(tmp_path / "c.sqlite")
    leader = GenerationLeader(_Engine(fail=True), cache, run_id="r", sampling=SamplingConfig(), samples=1)
    leader.start(_items(2))
    leader.join()
    with pytest.raises(GenerationFailed, match="engine died"):
        wait_for_item(cache, "r", "b/i0")


def test_an_older_cache_keeps_its_completions_and_gets_new_run_tables(tmp_path):
    import sqlite3

    path = tmp_path / "c.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE completions (key TEXT PRIMARY KEY, text TEXT NOT NULL, finish_reason TEXT NOT NULL,"
        " prompt_tokens INTEGER, output_tokens INTEGER, latency_s REAL, ttft_s REAL, created REAL);"
        "INSERT INTO completions VALUES ('k', 'kept', 'stop', 1, 2, 0.1, NULL, 0);"
        "CREATE TABLE plan (run_id TEXT, item TEXT, sample INTEGER, key TEXT);"
    )
    old.commit()
    old.close()
    cache = CompletionCache(path)
    assert cache.get_many(["k"])["k"].text == "kept"
    cache.write_plan("r", [])  # the new plan table has the new columns
    assert cache.plan_prompt("r", "x") is None


def test_preload_then_start_renders_each_prompt_once(tmp_path):
    """preload plans every item to decide whether to load; start (on the selected ones) reuses that plan."""
    engine = _Engine()
    rendered = []
    engine.render = lambda messages: rendered.append(messages[-1].content) or messages[-1].content
    leader = GenerationLeader(engine, CompletionCache(tmp_path / "c.sqlite"), run_id="r", sampling=SamplingConfig(),
                              samples=2)
    items = _items(4)
    leader.preload(items)
    leader.start(items[:3])
    leader.join()
    assert sorted(rendered) == ["q0", "q1", "q2", "q3"]
    assert leader.stats.generated == 6
