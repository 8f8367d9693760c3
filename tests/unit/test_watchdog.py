"""Nothing waits forever: stalled engines, silent leaders, claims of runs sharing a cache."""

from __future__ import annotations

import threading
import time

import pytest

from evalsuite.cache import CompletionCache
from evalsuite.generation import GenerationFailed, GenerationLeader, wait_for_item
from evalsuite.types import Completion, Item, Message, SamplingConfig
from evalsuite.watchdog import Deadlines

SHORT = Deadlines(stall_s=0.4, load_s=0.4)


def _items(n: int) -> list[Item]:
    return [
        Item(benchmark="b", id=f"i{i}", messages=(Message("user", f"q{i}"),), gold=str(i), verifier="exact")
        for i in range(n)
    ]


class _Wedged:
    """Answers ``answer`` requests, then blocks forever (or in ``load`` with ``hang_on_load``)."""

    name = "wedged"

    def __init__(self, answer: int, *, hang_on_load: bool = False) -> None:
        self.answer = answer
        self.hang_on_load = hang_on_load
        self.release = threading.Event()  # set by the test's teardown so no thread outlives it

    def fingerprint(self) -> str:
        return "w"

    def render(self, messages):
        return messages[-1].content

    def computes_on_cpu(self) -> bool:
        return False

    def context_length(self) -> int | None:
        return None

    def count_tokens(self, prompt: str) -> int | None:
        return None

    def load(self) -> None:
        if self.hang_on_load:
            self.release.wait()

    def generate(self, requests, on_completion) -> None:
        for n, req in enumerate(requests):
            if n == self.answer:
                self.release.wait()
                return
            on_completion(Completion(req.key, f"answer to {req.prompt}", "stop", output_tokens=1))

    def close(self) -> None:
        pass


@pytest.fixture
def wedged():
    engines: list[_Wedged] = []

    def make(answer: int, **kw) -> _Wedged:
        engines.append(_Wedged(answer, **kw))
        return engines[-1]

    yield make
    for engine in engines:
        engine.release.set()


def test_stalled_engine_ends_the_run_naming_engine_and_items_left(tmp_path, wedged):
    cache = CompletionCache(tmp_path / "c.sqlite")
    leader = GenerationLeader(
        wedged(2), cache, run_id="r", sampling=SamplingConfig(), samples=1, deadlines=SHORT
    )
    leader.start(_items(5))
    assert leader.join(timeout=30)  # bounded by the stall timeout, not by the engine
    assert leader.failure is not None
    assert "engine wedged made no progress" in leader.failure
    assert "3 of 5 requests left (3 items: b/i2, b/i3, b/i4)" in leader.failure
    # What finished before the stall stays; the items left end as errors for their tests.
    assert [c.text for c in wait_for_item(cache, "r", "b/i1")] == ["answer to q1"]
    with pytest.raises(GenerationFailed, match="made no progress"):
        wait_for_item(cache, "r", "b/i3")
    assert leader.stats is not None and leader.stats.generated == 2
    assert cache._conn().execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0  # released


def test_load_that_never_ends_is_bounded_by_the_load_timeout(tmp_path, wedged):
    cache = CompletionCache(tmp_path / "c.sqlite")
    leader = GenerationLeader(
        wedged(0, hang_on_load=True), cache, run_id="r", sampling=SamplingConfig(), samples=1, deadlines=SHORT
    )
    leader.start(_items(2))
    assert leader.join(timeout=30)
    assert "engine wedged did not finish starting within 0.4s (--load-timeout)" in (leader.failure or "")


def test_slow_load_is_not_a_stall(tmp_path):
    """Start-up runs under the load timeout alone: a load longer than the stall timeout is fine."""

    class SlowLoad(_Wedged):
        def load(self) -> None:
            time.sleep(1.0)

    cache = CompletionCache(tmp_path / "c.sqlite")
    deadlines = Deadlines(stall_s=0.3, load_s=30)
    leader = GenerationLeader(
        SlowLoad(99), cache, run_id="r", sampling=SamplingConfig(), samples=1, deadlines=deadlines
    )
    leader.start(_items(2))
    assert leader.join(timeout=30)
    assert leader.failure is None
    assert cache.state("r").state == "done"


def test_waiter_gives_up_when_the_run_never_appears(tmp_path):
    cache = CompletionCache(tmp_path / "c.sqlite")
    with pytest.raises(GenerationFailed, match="no generation leader started run r within 0.3s"):
        wait_for_item(cache, "r", "b/i0", stall_timeout_s=0.3, max_poll_s=0.05)


def test_waiter_gives_up_on_a_leader_that_stopped_beating(tmp_path):
    """A leader killed mid-generation leaves 'generating' behind and beats no more."""
    cache = CompletionCache(tmp_path / "c.sqlite")
    cache.set_state("r", "generating", schedule="stream")
    with pytest.raises(GenerationFailed, match="generation leader of run r went silent"):
        wait_for_item(cache, "r", "b/i0", stall_timeout_s=0.3, max_poll_s=0.05)


def test_waiter_keeps_waiting_while_the_leader_beats(tmp_path):
    cache = CompletionCache(tmp_path / "c.sqlite")
    cache.set_state("r", "generating", schedule="stream")
    cache.write_plan("r", [])
    stop = threading.Event()

    def beat_then_answer() -> None:
        beats = CompletionCache(tmp_path / "c.sqlite")
        for _ in range(10):  # 1 s of beats: longer than the 0.3 s the waiter tolerates silence
            beats.beat("r", lease_s=1)
            if stop.wait(0.1):
                return
        beats.set_state("r", "failed", "scripted end")

    thread = threading.Thread(target=beat_then_answer)
    thread.start()
    try:
        with pytest.raises(GenerationFailed, match="scripted end"):
            wait_for_item(cache, "r", "b/i0", stall_timeout_s=0.3, max_poll_s=0.05)
    finally:
        stop.set()
        thread.join()


def test_claims_are_exclusive_expire_and_end_with_the_completion(tmp_path):
    a = CompletionCache(tmp_path / "c.sqlite")
    b = CompletionCache(tmp_path / "c.sqlite")
    assert sorted(a.claim(["k1", "k2"], owner="A", lease_s=60)) == ["k1", "k2"]
    assert b.claim(["k1", "k2", "k3"], owner="B", lease_s=60) == ["k3"]
    a.put(Completion("k1", "x", "stop"), run_id="A")
    assert b.claim(["k1", "k2"], owner="B", lease_s=60) == []  # k1 is done, k2 still A's
    a._conn().execute("UPDATE claims SET expires = 0 WHERE owner = 'A'")  # A was killed: its lease ran out
    assert b.claim(["k2"], owner="B", lease_s=60) == ["k2"]
    b.release("B")
    assert a.claim(["k2", "k3"], owner="A", lease_s=60) == ["k2", "k3"]


def test_leader_waits_for_keys_another_run_claimed_and_generates_them_once(tmp_path):
    cache = CompletionCache(tmp_path / "c.sqlite")
    items = _items(3)

    class Counting(_Wedged):
        def __init__(self) -> None:
            super().__init__(99)
            self.prompts: list[str] = []

        def generate(self, requests, on_completion) -> None:
            self.prompts += [r.prompt for r in requests]
            super().generate(requests, on_completion)

    engine = Counting()
    leader = GenerationLeader(
        engine, cache, run_id="r", sampling=SamplingConfig(), samples=1, deadlines=SHORT
    )
    other = CompletionCache(tmp_path / "c.sqlite")
    keys = [r.key for r in leader.plan(items)]
    other.claim(keys[:2], owner="other-run", lease_s=60)
    leader.start(items)
    deadline = time.monotonic() + 30
    while engine.prompts != ["q2"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert engine.prompts == ["q2"]  # only the unclaimed key
    for key in keys[:2]:  # the other run delivers; it keeps beating meanwhile
        other.beat("other-run", lease_s=60)
        other.put(Completion(key, "from the other run", "stop"), run_id="other-run")
    assert leader.join(timeout=30)
    assert leader.failure is None and engine.prompts == ["q2"]
    assert leader.stats is not None and (leader.stats.generated, leader.stats.cached) == (1, 2)
