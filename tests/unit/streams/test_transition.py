"""The join's pure transition: order independence, idempotence, bounded memory, the rules."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.records import CarrierScan, SellerDispatch, ShipmentState
from schemas.status import STATUS_OF, SubStatus
from streams.join.transition import (
    FoldCache,
    InputEvent,
    Outcome,
    Rules,
    Transition,
    apply,
    next_due,
    tick,
)

CODE = "TC0000000001"
T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
RULES = Rules()

CITIES = {
    "Shenzhen": ("CN", 22.54, 114.06),
    "Guangzhou": ("CN", 23.13, 113.26),
    "Madrid": ("ES", 40.42, -3.70),
    "Sao Paulo": ("BR", -23.55, -46.63),
}


def scan(
    event_id: str,
    hours: float,
    sub: SubStatus = SubStatus.IN_TRANSIT,
    city: str = "Shenzhen",
    carrier: str = "cainiao",
    tracking: str | None = "LP001",
    **extra: Any,
) -> CarrierScan:
    country, lat, lon = CITIES[city]
    record: CarrierScan = {
        "event_id": event_id,
        "code": CODE,
        "carrier": carrier,
        "tracking_number": tracking,
        "raw_event_code": "X",
        "raw_description": sub.value.lower(),
        "status": STATUS_OF[sub].value,
        "sub_status": sub.value,
        "location": {
            "facility_id": None,
            "city": city,
            "country": country,
            "latitude": lat,
            "longitude": lon,
        },
        "event_time": T0 + timedelta(hours=hours),
        "event_utc_offset_minutes": 480,
        "received_time": NOW,
        "source": "SIMULATOR",
        "retracts_event_id": None,
    }
    record.update(extra)  # type: ignore[typeddict-item]
    return record


def dispatch(event_id: str = "d1", hours: float = 0.0, **extra: Any) -> SellerDispatch:
    record: SellerDispatch = {
        "event_id": event_id,
        "code": CODE,
        "order_id": "o1",
        "seller_id": "s1",
        "seller_verified": True,
        "product": {"sku": "SKU1", "gtin": None, "serial": None, "digital_link": None},
        "quantity": 1,
        "dispatch_time": T0 + timedelta(hours=hours),
        "dispatch_utc_offset_minutes": 480,
        "promised_ship_by": None,
        "promised_delivery": None,
        "carrier": "cainiao",
        "tracking_number": "LP001",
        "origin": {"country": "CN", "city": "Shenzhen", "postal_prefix": None},
        "destination": {"country": "ES", "city": "Madrid", "postal_prefix": None},
        "received_time": NOW,
        "source": "SIMULATOR",
    }
    record.update(extra)  # type: ignore[typeddict-item]
    return record


def replay(
    events: list[InputEvent], rules: Rules = RULES
) -> tuple[ShipmentState, list[Transition]]:
    state: ShipmentState | None = None
    transitions = []
    for event in events:
        transition = apply(state, event, rules, NOW)
        transitions.append(transition)
        state = transition.state
    assert state is not None
    return state, transitions


def event_key(event: InputEvent) -> tuple[datetime, str]:
    time = event["dispatch_time"] if "dispatch_time" in event else event["event_time"]  # type: ignore[typeddict-item]
    return time, event["event_id"]


ORDER_DEPENDENT = {"status_version", "alerted", "updated_at", "dispatch_event_ids"}


def comparable(state: ShipmentState) -> dict[str, Any]:
    """The part of the state that must not depend on arrival order."""
    view = {key: value for key, value in state.items() if key not in ORDER_DEPENDENT}
    view["dispatch_event_ids"] = sorted(state["dispatch_event_ids"])
    view["retracted_event_ids"] = sorted(state["retracted_event_ids"])
    return view


sub_statuses = st.sampled_from([s for s in SubStatus if s is not SubStatus.NO_UPDATES])


@st.composite
def shipments(draw: st.DrawFn) -> list[InputEvent]:
    count = draw(st.integers(min_value=1, max_value=14))
    events: list[InputEvent] = [
        scan(
            f"e{index}",
            draw(st.integers(min_value=0, max_value=400)) / 4,
            draw(sub_statuses),
            draw(st.sampled_from(sorted(CITIES))),
            draw(st.sampled_from(["cainiao", "correos"])),
            draw(st.sampled_from([None, "LP001", "LP002"])),
        )
        for index in range(count)
    ]
    if draw(st.booleans()):
        events.append(dispatch(hours=draw(st.integers(min_value=-10, max_value=20))))
    return events


@settings(max_examples=300, deadline=None)
@given(events=shipments(), data=st.data())
def test_any_arrival_order_with_duplicates_equals_the_sorted_replay(
    events: list[InputEvent], data: st.DataObject
) -> None:
    duplicates = data.draw(st.lists(st.sampled_from(events), max_size=5))
    arrival = data.draw(st.permutations([*events, *duplicates]))

    expected, _ = replay(sorted(events, key=event_key))
    actual, transitions = replay(arrival)

    assert comparable(actual) == comparable(expected)
    applied = [t for t in transitions if t.outcome is Outcome.APPLIED]
    assert len(applied) == len(events)
    assert all(t.outcome is Outcome.DUPLICATE for t in transitions if t not in applied)
    assert all(t.history is not None for t in applied)


@settings(max_examples=300, deadline=None)
@given(events=shipments(), data=st.data())
def test_extending_the_remembered_fold_gives_every_transition_a_full_fold_gives(
    events: list[InputEvent], data: st.DataObject
) -> None:
    """In-order scans extend the fold a FoldCache kept; any arrival order, duplicates, a cap
    that evicts and a dispatch in between give the very transitions of folding every time."""
    duplicates = data.draw(st.lists(st.sampled_from(events), max_size=3))
    arrival = data.draw(st.permutations([*events, *duplicates]))
    rules = Rules(max_scans=data.draw(st.sampled_from([3, 64])))
    folds = FoldCache()
    state: ShipmentState | None = None
    cached: ShipmentState | None = None
    for event in arrival:
        plain = apply(state, event, rules, NOW)
        remembered = apply(cached, event, rules, NOW, folds)
        assert remembered == plain
        state, cached = plain.state, remembered.state


@settings(max_examples=100, deadline=None)
@given(events=shipments(), data=st.data())
def test_status_versions_increase_by_one_per_emitted_change(
    events: list[InputEvent], data: st.DataObject
) -> None:
    final, transitions = replay(data.draw(st.permutations(events)))
    changes = [t.status_change for t in transitions if t.status_change is not None]
    assert [change["version"] for change in changes] == list(range(1, len(changes) + 1))
    for before, after in itertools.pairwise(changes):
        assert (after["previous_status"], after["previous_sub_status"]) == (
            before["status"],
            before["sub_status"],
        )
    assert final["status_version"] == len(changes)
    assert (changes[-1]["status"], changes[-1]["sub_status"]) == (
        final["status"],
        final["sub_status"],
    )


def test_a_redelivered_event_changes_nothing() -> None:
    first = apply(None, scan("e1", 1), RULES, NOW)
    again = apply(first.state, scan("e1", 1), RULES, NOW + timedelta(hours=1))
    assert again.outcome is Outcome.DUPLICATE
    assert again.state is first.state
    assert again.history is None and again.status_change is None and not again.alerts


def test_a_dispatch_after_scans_enriches_without_changing_the_status() -> None:
    state, _ = replay([scan("e1", 5, SubStatus.PICKED_UP)])
    late = apply(state, dispatch(hours=1), RULES, NOW)
    assert late.outcome is Outcome.APPLIED
    assert late.state["sub_status"] == SubStatus.PICKED_UP
    assert late.status_change is None
    assert late.state["dispatch"] is not None
    assert late.history is not None
    assert late.history["kind"] == "DISPATCH" and late.history["seller_id"] == "s1"
    assert late.late  # its event time precedes the scan already applied


def test_dispatch_alone_is_pending() -> None:
    first = apply(None, dispatch(), RULES, NOW)
    assert first.state["status"] == "PENDING"
    assert first.status_change is not None
    assert first.status_change["version"] == 1
    assert first.status_change["previous_status"] is None


def test_delivered_is_terminal_and_a_later_scan_is_a_clone_signal() -> None:
    state, transitions = replay(
        [
            dispatch(),
            scan("e1", 1, SubStatus.PICKED_UP),
            scan("e2", 30, SubStatus.DELIVERED_TO_RECIPIENT),
            scan("e3", 40, SubStatus.OUT_FOR_DELIVERY),
        ]
    )
    assert state["sub_status"] == SubStatus.DELIVERED_TO_RECIPIENT
    assert state["clone_rules"] == ["scan_after_delivery"]
    (alert,) = transitions[-1].alerts
    assert alert["kind"] == "SUSPECTED_CLONE" and alert["rule"] == "scan_after_delivery"
    assert [e["event_id"] for e in alert["evidence"]] == ["e2", "e3"]
    assert transitions[-1].status_change is None


def test_two_countries_too_far_apart_for_the_time_between_is_a_clone() -> None:
    _, transitions = replay([scan("e1", 10, city="Shenzhen"), scan("e2", 12, city="Sao Paulo")])
    (alert,) = transitions[-1].alerts
    assert alert["rule"] == "impossible_speed"
    assert alert["metrics"]["distance_km"] > 15000
    assert alert["metrics"]["speed_kmh"] > RULES.clone_speed_kmh
    assert alert["alert_id"] == f"{CODE}:SUSPECTED_CLONE:impossible_speed"


def test_a_long_flight_is_not_a_clone() -> None:
    state, transitions = replay(
        [scan("e1", 10, city="Shenzhen"), scan("e2", 10 + 30, city="Madrid")]
    )
    assert state["clone_rules"] == []
    assert not any(t.alerts for t in transitions)


def test_a_clone_alert_is_emitted_once_per_rule() -> None:
    _, transitions = replay(
        [
            scan("e1", 10, city="Shenzhen"),
            scan("e2", 11, city="Sao Paulo"),
            scan("e3", 12, city="Shenzhen"),
        ]
    )
    assert sum(len(t.alerts) for t in transitions) == 1


def test_two_tracking_numbers_from_one_carrier_is_a_clone_but_a_last_mile_number_is_not() -> None:
    clean, _ = replay(
        [
            dispatch(),
            scan("e1", 1),
            scan("e2", 50, carrier="correos", tracking="PQ9", city="Madrid"),
        ]
    )
    assert clean["clone_rules"] == []
    _, transitions = replay([dispatch(), scan("e1", 1), scan("e2", 2, tracking="LP002")])
    (alert,) = transitions[-1].alerts
    assert alert["rule"] == "multiple_tracking_numbers"


def test_returns_keep_moving_scans_on_the_return_leg() -> None:
    state, _ = replay(
        [
            scan("e1", 1, SubStatus.PICKED_UP),
            scan("e2", 2, SubStatus.REFUSED),
            scan("e3", 3, SubStatus.ARRIVED_AT_FACILITY),
            scan("e4", 4, SubStatus.DELIVERED_TO_RECIPIENT),
        ]
    )
    assert state["sub_status"] == SubStatus.RETURNED_TO_SENDER
    assert state["delivered_at"] is None


def test_a_retraction_removes_the_scan_even_when_it_comes_first() -> None:
    wrong = scan("e2", 5, SubStatus.DELIVERED_TO_RECIPIENT)
    retraction = scan("r1", 6, SubStatus.DELIVERED_TO_RECIPIENT, retracts_event_id="e2")
    for order in ([wrong, retraction], [retraction, wrong]):
        state, transitions = replay([scan("e1", 1, SubStatus.PICKED_UP), *order])
        assert state["sub_status"] == SubStatus.PICKED_UP
        assert [s["event_id"] for s in state["scans"]] == ["e1"]
        assert {t.outcome for t in transitions[1:]} <= {Outcome.APPLIED, Outcome.RETRACTED}


def test_memory_per_code_is_bounded_and_the_terminal_status_survives_eviction() -> None:
    rules = Rules(max_scans=8)
    events: list[InputEvent] = [
        dispatch(),
        scan("e0", 1, SubStatus.DELIVERED_TO_RECIPIENT),
        *(scan(f"x{index:03}", 2 + index, SubStatus.IN_TRANSIT) for index in range(200)),
    ]
    state, transitions = replay(events, rules)
    assert len(state["scans"]) == 8
    assert state["evicted"] is not None
    assert state["sub_status"] == SubStatus.DELIVERED_TO_RECIPIENT
    assert state["scan_count"] == 201
    assert state["clone_rules"] == ["scan_after_delivery"]
    too_late = apply(state, scan("old", 1.5), rules, NOW)
    assert too_late.outcome is Outcome.TOO_LATE
    assert len(state["alerted"]) <= rules.max_remembered_ids
    assert sum(len(t.alerts) for t in transitions) == 1


def test_stalled_fires_at_its_due_time_once() -> None:
    state, _ = replay([dispatch(), scan("e1", 1, SubStatus.DEPARTED_FACILITY)])
    due = next_due(state, RULES)
    assert due == T0 + timedelta(hours=1) + RULES.stall_after
    assert tick(state, due - timedelta(minutes=1), RULES, NOW).outcome is Outcome.UNCHANGED
    fired = tick(state, due, RULES, NOW)
    assert [a["kind"] for a in fired.alerts] == ["STALLED"]
    assert fired.alerts[0]["detected_at"] == due
    assert tick(fired.state, due + timedelta(hours=1), RULES, NOW).outcome is Outcome.UNCHANGED


def test_a_new_scan_moves_the_stall_deadline() -> None:
    rules = Rules(unknown_code_grace=timedelta(days=99))
    moved, _ = replay([scan("e1", 1, SubStatus.DEPARTED_FACILITY), scan("e2", 40)], rules)
    assert next_due(moved, rules) == T0 + timedelta(hours=40) + rules.stall_after
    old_due = T0 + timedelta(hours=1) + rules.stall_after
    assert tick(moved, old_due, rules, NOW).outcome is Outcome.UNCHANGED


def test_dispatch_sla_breach_and_unknown_code() -> None:
    pending, _ = replay([dispatch()])
    fired = tick(pending, T0 + RULES.dispatch_sla, RULES, NOW)
    assert [a["kind"] for a in fired.alerts] == ["DISPATCH_SLA_BREACH"]

    promised, _ = replay([dispatch(promised_ship_by=T0 + timedelta(hours=5))])
    assert next_due(promised, RULES) == T0 + timedelta(hours=5)

    orphan, _ = replay([scan("e1", 1, SubStatus.PICKED_UP)])
    at = T0 + timedelta(hours=1) + RULES.unknown_code_grace
    assert "UNKNOWN_CODE" not in {
        a["kind"] for a in tick(orphan, at - timedelta(seconds=1), RULES, NOW).alerts
    }
    assert "UNKNOWN_CODE" in {a["kind"] for a in tick(orphan, at, RULES, NOW).alerts}

    claimed, _ = replay([scan("e1", 1, SubStatus.PICKED_UP), dispatch(hours=0)])
    assert "UNKNOWN_CODE" not in {a["kind"] for a in tick(claimed, at, RULES, NOW).alerts}


def test_expiry_changes_the_status_and_a_later_scan_revives() -> None:
    state, _ = replay([dispatch(), scan("e1", 1, SubStatus.IN_TRANSIT)])
    expired = tick(state, T0 + timedelta(days=40), RULES, NOW)
    assert expired.state["status"] == "EXPIRED"
    assert expired.status_change is not None
    assert expired.status_change["cause_event_id"] is None
    assert {a["kind"] for a in expired.alerts} == {"STALLED", "EXPIRED"}
    revived = apply(expired.state, scan("e2", 24 * 41, SubStatus.OUT_FOR_DELIVERY), RULES, NOW)
    assert revived.state["status"] == "OUT_FOR_DELIVERY"
    assert revived.status_change is not None
    assert revived.status_change["previous_status"] == "EXPIRED"


def test_a_delivered_shipment_has_nothing_due_but_its_forgetting() -> None:
    state, _ = replay([dispatch(), scan("e1", 1), scan("e2", 9, SubStatus.DELIVERED_TO_RECIPIENT)])
    forget_at = T0 + timedelta(hours=9) + RULES.forget_after  # type: ignore[operator]
    assert next_due(state, RULES) == forget_at
    assert tick(state, forget_at - timedelta(minutes=1), RULES, NOW).outcome is Outcome.UNCHANGED
    forgotten = tick(state, forget_at, RULES, NOW)
    assert forgotten.outcome is Outcome.FORGOTTEN
    assert (forgotten.state, forgotten.alerts, forgotten.status_change) == (state, (), None)
    assert next_due(state, Rules(forget_after=None)) is None


def test_a_shipment_is_forgotten_only_once_no_rule_is_left_to_fire() -> None:
    state, _ = replay([dispatch(), scan("e1", 1, SubStatus.DEPARTED_FACILITY)])
    long_after = T0 + timedelta(days=365)
    fired = tick(state, long_after, RULES, NOW)
    assert fired.outcome is Outcome.FORGOTTEN
    assert {a["kind"] for a in fired.alerts} == {"STALLED", "EXPIRED"}  # they still go out
    assert fired.status_change is not None and fired.status_change["status"] == "EXPIRED"
    before_forgetting = T0 + RULES.forget_after  # type: ignore[operator]
    assert tick(state, before_forgetting, RULES, NOW).outcome is Outcome.APPLIED

    promised = timedelta(days=200)  # a seller's ship-by promise beyond the forget period
    waiting, _ = replay([dispatch(promised_ship_by=T0 + promised)])
    expired = tick(waiting, T0 + RULES.expire_after, RULES, NOW).state
    assert next_due(expired, RULES) == T0 + promised
    assert tick(expired, T0 + timedelta(days=150), RULES, NOW).outcome is Outcome.UNCHANGED
