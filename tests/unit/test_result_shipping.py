"""An item's result reaches the leader once, and the leader keeps no serialized copy of it.

setup, call and teardown reports all copy the test's user properties; the payload (the whole
``ItemResult``, outputs included) used to travel and stay in pytest's report list three times.
"""

from __future__ import annotations

from types import SimpleNamespace

from evalsuite.scoring import RESULT_PROPERTY, SHIPPED, record_result, ship_once, take_results
from evalsuite.types import ItemResult, SampleResult


def result(item_id: str) -> ItemResult:
    return ItemResult("bench", item_id, {}, "prompt", "1", (SampleResult(0, "out " * 50, True, 1.0, "1", "ok", "stop", 50),))


def reports_of_one_test(*results: ItemResult) -> list[SimpleNamespace]:
    """What pytest makes for one test: three reports, each with a copy of the node's properties."""
    node = SimpleNamespace(user_properties=[("other", "kept")])
    for r in results:
        record_result(node, r)  # the evaluation fixture, at setup
    return [SimpleNamespace(when=w, failed=w == "call", user_properties=list(node.user_properties))
            for w in ("setup", "call", "teardown")]


def test_the_payload_travels_on_the_first_report_only() -> None:
    reports = reports_of_one_test(result("a"))
    shipped: set[int] = set()
    for rep in reports:
        ship_once(rep, shipped)
    payloads = [[v for k, v in rep.user_properties if k == RESULT_PROPERTY] for rep in reports]
    assert isinstance(payloads[0][0], str)
    assert payloads[1] == payloads[2] == [SHIPPED]
    assert all(("other", "kept") in rep.user_properties for rep in reports)


def test_the_leader_reads_it_once_and_drops_the_serialized_copy() -> None:
    reports = reports_of_one_test(result("a"))
    shipped: set[int] = set()
    taken = []
    for rep in reports:
        ship_once(rep, shipped)
        taken.append(take_results(rep))
    assert [len(found) for found, _ in taken] == [1, 0, 0]
    assert taken[0][0][0] == result("a")
    # Every report still says it belongs to an evaluated item (a failed call is a wrong answer, not another failure).
    assert all(evaluated for _, evaluated in taken)
    assert all(v is SHIPPED for rep in reports for k, v in rep.user_properties if k == RESULT_PROPERTY)


def test_a_result_recorded_later_still_travels() -> None:
    node = SimpleNamespace(user_properties=[])
    record_result(node, result("a"))
    setup = SimpleNamespace(user_properties=list(node.user_properties))
    record_result(node, result("b"))
    call = SimpleNamespace(user_properties=list(node.user_properties))
    shipped: set[int] = set()
    ship_once(setup, shipped)
    ship_once(call, shipped)
    assert [r.item_id for r in take_results(setup)[0]] == ["a"]
    assert [r.item_id for r in take_results(call)[0]] == ["b"]


def test_a_report_without_a_result_is_not_evaluated() -> None:
    rep = SimpleNamespace(user_properties=[("other", 1)])
    ship_once(rep, set())
    assert take_results(rep) == ([], False)
    assert rep.user_properties == [("other", 1)]
