"""One partition's join: the deadline index fires exactly what a full table scan would."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.records import ShipmentState
from schemas.status import SubStatus
from streams.partition import PartitionJoin
from streams.transition import InputEvent, Outcome, Rules, apply, next_due, tick
from tests.unit.streams.test_transition import NOW, T0, dispatch, scan

RULES = Rules()
CODES = ["TC0000000001", "TC0000000002", "TC0000000003"]


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

    def __init__(self) -> None:
        self.states: dict[str, ShipmentState] = {}
        self.clock: datetime | None = None
        self.alerts: list[str] = []
        self.changes: list[tuple[str, int]] = []

    def process(self, event: InputEvent) -> None:
        code = event["code"]
        first = apply(self.states.get(code), event, RULES, NOW)
        if first.outcome is not Outcome.APPLIED:
            return
        time = _time(event)
        if self.clock is None or time > self.clock:
            self.clock = time
            self._tick_all()
            first = apply(self.states.get(code), event, RULES, NOW)
        self._keep(code, first)
        self._tick_all()

    def _tick_all(self) -> None:
        assert self.clock is not None
        due = sorted(
            (when, code)
            for code, state in self.states.items()
            if (when := next_due(state, RULES)) is not None and when <= self.clock
        )
        for _, code in due:
            fired = tick(self.states[code], self.clock, RULES, NOW)
            if fired.outcome is Outcome.APPLIED:
                self._keep(code, fired)

    def _keep(self, code: str, transition: Any) -> None:
        self.states[code] = transition.state
        self.alerts += [alert["alert_id"] for alert in transition.alerts]
        if transition.status_change is not None:
            self.changes.append((code, transition.status_change["version"]))


def run(
    events: list[InputEvent], restart_at: int | None = None
) -> tuple[dict[str, ShipmentState], list[str], list[tuple[str, int]]]:
    states: dict[str, ShipmentState] = {}
    join = PartitionJoin(RULES, states.get)
    alerts: list[str] = []
    changes: list[tuple[str, int]] = []
    for position, event in enumerate(events):
        if position == restart_at:
            join = PartitionJoin.rebuild(RULES, states.get, list(states.values()))
        step = join.process(event, NOW)
        states.update(step.writes)
        for _code, transition in step.changes:
            alerts += [alert["alert_id"] for alert in transition.alerts]
            if transition.status_change is not None:
                changes.append((_code, transition.status_change["version"]))
    return states, alerts, changes


@settings(max_examples=200, deadline=None)
@given(partition_traffic())
def test_the_index_fires_what_a_full_scan_fires(events: list[InputEvent]) -> None:
    reference = FullScanReference()
    for event in events:
        reference.process(event)
    states, alerts, changes = run(events)
    assert states == reference.states
    assert alerts == reference.alerts
    assert changes == reference.changes


@settings(max_examples=200, deadline=None)
@given(partition_traffic(), st.data())
def test_a_rebuilt_join_continues_like_the_one_that_was_never_stopped(
    events: list[InputEvent], data: st.DataObject
) -> None:
    restart_at = data.draw(st.integers(0, max(0, len(events) - 1)))
    assert run(events, restart_at) == run(events)


def test_a_stall_fires_before_the_late_scan_that_ends_it() -> None:
    states: dict[str, ShipmentState] = {}
    join = PartitionJoin(RULES, states.get)
    for event in [dispatch(), scan("e1", 1, SubStatus.DEPARTED_FACILITY)]:
        states.update(join.process(event, NOW).writes)
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
    states.update(join.process(scan("e1", 10), NOW).writes)
    assert join.stream_time == T0 + timedelta(hours=10)
    states.update(join.process(scan("e0", 5), NOW).writes)
    assert join.stream_time == T0 + timedelta(hours=10)
    duplicate = join.process(scan("e1", 10), NOW)
    assert duplicate.event.outcome is Outcome.DUPLICATE and not duplicate.writes
    rebuilt = PartitionJoin.rebuild(RULES, states.get, states.values())
    assert rebuilt.stream_time == join.stream_time
    assert rebuilt.scheduled == join.scheduled == 1


def test_a_late_event_whose_rule_is_already_due_fires_at_once() -> None:
    states: dict[str, ShipmentState] = {}
    join = PartitionJoin(RULES, states.get)
    other = for_code(scan("x", 100), CODES[1])
    states.update(join.process(other, NOW).writes)
    step = join.process(for_code(scan("late", 1, SubStatus.PICKED_UP), CODES[0]), NOW)
    fired = {alert["kind"] for _, t in step.changes for alert in t.alerts}
    assert "UNKNOWN_CODE" in fired  # first scan at hour 1, grace 24 h, stream time hour 100


@settings(max_examples=300, deadline=None)
@given(partition_traffic(), st.integers(0, 24 * 80))
def test_a_tick_leaves_nothing_due_at_its_stream_time(events: list[InputEvent], hours: int) -> None:
    """The index relies on it: after a tick at T, the next due time lies after T."""
    states, _, _ = run(events)
    at = T0 + timedelta(hours=hours)
    for state in states.values():
        ticked = tick(state, at, RULES, NOW)
        due = next_due(ticked.state, RULES)
        assert due is None or due > at
