"""The states the join reads and changes: cached reads, changes written back once per commit."""

from __future__ import annotations

from typing import Any

from schemas.records import ShipmentState
from streams.join.transition import Rules
from streams.runtime.states import ShipmentStates
from tests.unit.streams.test_processor import TOPICS, FakeSender, FakeStore
from tests.unit.streams.test_transition import replay, scan


def a_state(code: str, hours: float = 1) -> ShipmentState:
    state, _ = replay([{**scan("e1", hours), "code": code}])  # type: ignore[list-item]
    return state


def nothing_fails(record: Any, error: Exception) -> None:
    raise AssertionError(error)


def test_changes_are_read_back_at_once_and_written_once_per_commit() -> None:
    store, sender = FakeStore(), FakeSender()
    states = ShipmentStates(store, sender, TOPICS.scans, Rules())  # type: ignore[arg-type]
    first, second = a_state("A"), a_state("A", 5)
    states.put(0, "A", first, cause=None)
    states.put(0, "A", second, cause=None)
    assert states.get(0, "A") is second and states.changed == 1
    assert store.get(0, "A") is None
    states.write_back(nothing_fails)
    assert states.changed == 0
    assert len(sender.sent) == 1 and sender.sent[0]["partition"] == 0
    assert store.stored(0, "A") == second


def test_a_partitions_states_include_changes_not_written_back() -> None:
    store, sender = FakeStore(), FakeSender()
    states = ShipmentStates(store, sender, TOPICS.scans, Rules())  # type: ignore[arg-type]
    states.put(1, "A", a_state("A"), cause=None)
    states.write_back(nothing_fails)
    newer = a_state("A", 9)
    states.put(1, "A", newer, cause=None)
    states.put(1, "B", a_state("B"), cause=None)
    states.put(2, "C", a_state("C"), cause=None)
    found = {schedule.code: schedule for schedule in states.partition_schedules(1)}
    assert set(found) == {"A", "B"}
    assert found["A"].last_event_time == newer["last_event_time"] != a_state("A")["last_event_time"]


def test_the_cache_keeps_changes_beyond_its_size_and_forgets_clean_states() -> None:
    store, sender = FakeStore(), FakeSender()
    states = ShipmentStates(store, sender, TOPICS.scans, Rules(), capacity=2)  # type: ignore[arg-type]
    for code in "ABCD":
        states.put(0, code, a_state(code), cause=None)
    assert all(states.get(0, code) is not None for code in "ABCD")  # changed: all kept
    states.write_back(nothing_fails)
    assert list(states._cache) == [(0, "C"), (0, "D")]  # the oldest two were let go
    assert states.get(0, "A") == store.stored(0, "A")  # read from RocksDB again
    states.forget()
    assert not states._cache


def test_a_forgotten_state_is_gone_at_once_and_deleted_with_a_tombstone() -> None:
    store, sender = FakeStore(), FakeSender()
    states = ShipmentStates(store, sender, TOPICS.scans, Rules())  # type: ignore[arg-type]
    states.put(3, "A", a_state("A"), cause=None)
    states.put(3, "B", a_state("B"), cause=None)
    states.write_back(nothing_fails)

    states.put(3, "A", None, cause=None)
    assert states.get(3, "A") is None  # though RocksDB still holds it until the commit
    assert [schedule.code for schedule in states.partition_schedules(3)] == ["B"]
    states.write_back(nothing_fails)
    assert store.get(3, "A") is None and store.get(3, "B") is not None
    tombstone = sender.sent[-1]
    assert (tombstone["key"], tombstone["value"], tombstone["partition"]) == (b"A", None, 3)
    assert states.get(3, "A") is None
