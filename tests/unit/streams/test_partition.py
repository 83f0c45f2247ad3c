"""One partition's join: the deadline index fires exactly what a full table scan would."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.records import ShipmentState
from schemas.status import SubStatus
from streams.join.partition import PartitionJoin, Schedule
from streams.join.stored import StoredStateCodec
from streams.join.transition import InputEvent, Outcome, Rules, apply, next_due, tick
from tests.unit.streams.test_transition import NOW, T0, dispatch, scan

RULES = Rules()
BRIEF = Rules(expire_after=timedelta(days=8), forget_after=timedelta(days=10))
"""Rules under which the traffic below also forgets shipments."""
CODES = ["TC0000000001", "TC0000000002", "TC0000000003"]


def stored_schedules(states: dict[str, ShipmentState], rules: Rules) -> list[Schedule]:
    """The schedules a restarted worker reads: from each state as the table stores it."""
    codec = StoredStateCodec(rules)
    return [codec.schedule(codec.encode(state, {})) for state in states.values()]


def for_code(event: InputEvent, code: str) -> InputEvent:
    return {**event, "code": code, "event_id": f"{code}-{event['event_id']}"}  # type: ignore[return-value]


@st.composite
def partition_traffic(draw: st.DrawFn) -> list[InputEvent]:
    """Events of a few codes, in a roughly event-time order with some disorder and repeats."""
    events: list[InputEvent] = []
    for code in CODES:
        hours = 0
        if draw(st.booleans()):
            events.append(for_code(dispatch(hours=draw(st.integers(0, 30))), code))
        for index in range(draw(st.integers(0, 6))):
            hours += draw(st.integers(1, 120))
            sub = draw(
                st.sampled_from(
                    [
                        SubStatus.IN_TRANSIT,
                        SubStatus.PICKED_UP,
                        SubStatus.OUT_FOR_DELIVERY,
                        SubStatus.DELIVERED_TO_RECIPIENT,
                    ]
                )
            )
            events.append(for_code(scan(f"e{index}", hours, sub), code))
    arrival = sorted(events, key=lambda e: _time(e) + timedelta(hours=draw(st.integers(0, 48))))
    repeats = draw(st.lists(st.sampled_from(arrival), max_size=3)) if arrival else []
    return arrival + repeats


def _time(event: InputEvent) -> datetime:
    return event["dispatch_time"] if "dispatch_time" in event else event["event_time"]  # type: ignore[typeddict-item]


class FullScanReference:
    """The rules without an index: after every clock move, tick every state that is due."""

    def __init__(self, rules: Rules = RULES) -> None:
        self.rules = rules
        self.states: dict[str, ShipmentState] = {}
        self.clock: datetime | None = None
        self.alerts: list[str] = []
        self.changes: list[tuple[str, int]] = []

    def process(self, event: InputEvent) -> None:
        code = event["code"]
        first = apply(self.states.get(code), event, self.rules, NOW)
        if first.outcome is not Outcome.APPLIED:
            return
        time = _time(event)
        if self.clock is None or time > self.clock:
            self.clock = time
            self._tick_all()
            first = apply(self.states.get(code), event, self.rules, NOW)
        self._keep(code, first)
        self._tick_all()

    def _tick_all(self) -> None:
        assert self.clock is not None
        due = sorted(
            (when, code)
            for code, state in self.states.items()
            if (when := next_due(state, self.rules)) is not None and when <= self.clock
        )
        for _, code in due:
            fired = tick(self.states[code], self.clock, self.rules, NOW)
            if fired.outcome is not Outcome.UNCHANGED:
                self._keep(code, fired)
            if fired.outcome is Outcome.FORGOTTEN:
                del self.states[code]

    def _keep(self, code: str, transition: Any) -> None:
        self.states[code] = transition.state
        self.alerts += [alert["alert_id"] for alert in transition.alerts]
        if transition.status_change is not None:
            self.changes.append((code, transition.status_change["version"]))


def run(
    events: list[InputEvent], restart_at: int | None = None, rules: Rules = RULES
) -> tuple[dict[str, ShipmentState], list[str], list[tuple[str, int]]]:
    states: dict[str, ShipmentState] = {}
    join = PartitionJoin(rules, states.get)
    alerts: list[str] = []
    changes: list[tuple[str, int]] = []
    for position, event in enumerate(events):
        if position == restart_at:
            join = PartitionJoin.rebuild(rules, states.get, stored_schedules(states, rules))
        step = join.process(event, NOW)
        write(states, step.writes)
        for _code, transition in step.changes:
            alerts += [alert["alert_id"] for alert in transition.alerts]
            if transition.status_change is not None:
                changes.append((_code, transition.status_change["version"]))
    return states, alerts, changes


def write(states: dict[str, ShipmentState], writes: dict[str, ShipmentState | None]) -> None:
    for code, state in writes.items():
        if state is None:
            states.pop(code, None)  # may have come and gone within the step
        else:
            states[code] = state


@pytest.mark.parametrize("rules", [RULES, BRIEF], ids=["default", "brief"])
@settings(max_examples=200, deadline=None)
@given(events=partition_traffic())
def test_the_index_fires_what_a_full_scan_fires(rules: Rules, events: list[InputEvent]) -> None:
    reference = FullScanReference(rules)
    for event in events:
        reference.process(event)
    states, alerts, changes = run(events, rules=rules)
    assert states == reference.states
    assert alerts == reference.alerts
    assert changes == reference.changes


@pytest.mark.parametrize("rules", [RULES, BRIEF], ids=["default", "brief"])
@settings(max_examples=200, deadline=None)
@given(events=partition_traffic(), data=st.data())
def test_a_rebuilt_join_continues_like_the_one_that_was_never_stopped(
    rules: Rules, events: list[InputEvent], data: st.DataObject
) -> None:
    restart_at = data.draw(st.integers(0, max(0, len(events) - 1)))
    assert run(events, restart_at, rules) == run(events, rules=rules)


def test_a_stall_fires_before_the_late_scan_that_ends_it() -> None:
    states: dict[str, ShipmentState] = {}
    join = PartitionJoin(RULES, states.get)
    for event in [dispatch(), scan("e1", 1, SubStatus.DEPARTED_FACILITY)]:
        write(states, join.process(event, NOW).writes)
    step = join.process(scan("e2", 90, SubStatus.ARRIVED_AT_FACILITY), NOW)
    kinds = [[alert["kind"] for alert in t.alerts] for _, t in step.changes]
    assert kinds == [["STALLED"], []]
    stalled = step.changes[0][1].alerts[0]
    assert stalled["detected_at"] == T0 + timedelta(hours=1) + RULES.stall_after
    assert step.event.outcome is Outcome.APPLIED
    assert step.writes[dispatch()["code"]]["sub_status"] == SubStatus.ARRIVED_AT_FACILITY


def test_stream_time_moves_only_with_applied_events_and_never_back() -> None:
    states: dict[str, ShipmentState] = {}
    join = PartitionJoin(RULES, states.get)
    write(states, join.process(scan("e1", 10), NOW).writes)
    assert join.stream_time == T0 + timedelta(hours=10)
    write(states, join.process(scan("e0", 5), NOW).writes)
    assert join.stream_time == T0 + timedelta(hours=10)
    duplicate = join.process(scan("e1", 10), NOW)
    assert duplicate.event.outcome is Outcome.DUPLICATE and not duplicate.writes
    rebuilt = PartitionJoin.rebuild(RULES, states.get, stored_schedules(states, RULES))
    assert rebuilt.stream_time == join.stream_time
    assert rebuilt.scheduled == join.scheduled == 1


def test_a_late_event_whose_rule_is_already_due_fires_at_once() -> None:
    states: dict[str, ShipmentState] = {}
    join = PartitionJoin(RULES, states.get)
    other = for_code(scan("x", 100), CODES[1])
    write(states, join.process(other, NOW).writes)
    step = join.process(for_code(scan("late", 1, SubStatus.PICKED_UP), CODES[0]), NOW)
    fired = {alert["kind"] for _, t in step.changes for alert in t.alerts}
    assert "UNKNOWN_CODE" in fired  # first scan at hour 1, grace 24 h, stream time hour 100


@pytest.mark.parametrize("rules", [RULES, BRIEF], ids=["default", "brief"])
@settings(max_examples=300, deadline=None)
@given(events=partition_traffic(), hours=st.integers(0, 24 * 80))
def test_a_tick_leaves_nothing_due_at_its_stream_time(
    rules: Rules, events: list[InputEvent], hours: int
) -> None:
    """The index relies on it: after a tick at T, the next due time lies after T (unless the
    tick forgot the shipment)."""
    states, _, _ = run(events, rules=rules)
    at = T0 + timedelta(hours=hours)
    for state in states.values():
        ticked = tick(state, at, rules, NOW)
        if ticked.outcome is Outcome.FORGOTTEN:
            continue
        due = next_due(ticked.state, rules)
        assert due is None or due > at


def test_idle_shipments_are_forgotten_and_the_clock_survives_a_rebuild() -> None:
    states: dict[str, ShipmentState] = {}
    join = PartitionJoin(BRIEF, states.get)
    delivered = [
        for_code(event, CODES[0])
        for event in (dispatch(), scan("e1", 1), scan("e2", 9, SubStatus.DELIVERED_TO_RECIPIENT))
    ]
    for event in delivered:
        write(states, join.process(event, NOW).writes)
    write(states, join.process(for_code(scan("x", 24 * 10), CODES[1]), NOW).writes)
    assert CODES[0] in states  # idle for 10 days minus 9 hours: not yet

    step = join.process(for_code(scan("y", 24 * 11), CODES[1]), NOW)
    assert step.writes[CODES[0]] is None
    assert not [t for code, t in step.changes if code == CODES[0]]  # forgetting sends nothing
    write(states, step.writes)
    assert set(states) == {CODES[1]}

    rebuilt = PartitionJoin.rebuild(BRIEF, states.get, stored_schedules(states, BRIEF))
    assert rebuilt.stream_time == join.stream_time == T0 + timedelta(days=11)


def test_an_event_for_a_forgotten_code_starts_it_afresh() -> None:
    states: dict[str, ShipmentState] = {}
    join = PartitionJoin(BRIEF, states.get)
    for event in (dispatch(), scan("e1", 1), scan("e2", 9, SubStatus.DELIVERED_TO_RECIPIENT)):
        write(states, join.process(event, NOW).writes)

    step = join.process(scan("e3", 24 * 30, SubStatus.IN_TRANSIT), NOW)
    write(states, step.writes)
    (state,) = states.values()
    assert state["dispatch"] is None and [s["event_id"] for s in state["scans"]] == ["e3"]
    assert state["clone_rules"] == []  # not a scan after delivery: the delivery is forgotten
