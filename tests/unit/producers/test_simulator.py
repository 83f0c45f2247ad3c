"""The simulator: determinism, shares, valid records, realistic and bounded timing."""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from functools import cache

import pytest

from producers.events import EventKind, encode_event
from producers.simulator import (
    DELIVERY_CASES,
    JOURNEY_CASES,
    HardCase,
    SimEvent,
    SimulationConfig,
    SimulationError,
    hardcases,
    simulate,
)
from producers.simulator.journey import MAX_CLEAN_GAP
from producers.simulator.world import CARRIERS, CITIES, FIRST_MILE, LANES, LAST_MILE
from schemas.codes import parse_code
from schemas.status import TERMINAL, SubStatus

UNTIL = datetime(2026, 11, 1, tzinfo=UTC)


@cache
def events(shipments: int = 1000, seed: int = 5, until: datetime = UNTIL) -> tuple[SimEvent, ...]:
    return tuple(simulate(SimulationConfig(shipments, until, seed=seed)).events())


def _identity(event: SimEvent) -> tuple[object, ...]:
    return (event.kind, event.shipment, event.case, sorted(event.record.items()))


def test_same_seed_and_until_give_the_same_events() -> None:
    first = list(simulate(SimulationConfig(300, UNTIL, seed=9)).events())
    again = list(simulate(SimulationConfig(300, UNTIL, seed=9)).events())
    assert [_identity(e) for e in first] == [_identity(e) for e in again]


def test_another_seed_or_day_gives_other_codes_and_ids() -> None:
    base = events(300, 9)
    for other in (events(300, 10), events(300, 9, UNTIL + timedelta(days=1))):
        assert {e.record["code"] for e in base}.isdisjoint(e.record["code"] for e in other)
        assert {e.record["event_id"] for e in base}.isdisjoint(e.record["event_id"] for e in other)


def test_events_come_in_receive_order_within_the_window() -> None:
    stream = events()
    received = [e.record["received_time"] for e in stream]
    assert received == sorted(received)
    start = UNTIL - timedelta(days=60)
    assert all(start <= moment < UNTIL for moment in received)


def test_receive_delays_are_bounded() -> None:
    for event in events():
        record = event.record
        happened = (
            record["dispatch_time"] if event.kind is EventKind.DISPATCH else record["event_time"]
        )  # type: ignore[typeddict-item]
        delay = record["received_time"] - happened
        limit = timedelta(hours=3) if event.case is None else timedelta(hours=40)
        assert timedelta(0) < delay <= limit, (event.case, delay)


def test_every_record_is_valid() -> None:
    for event in events():
        encode_event(event.kind, event.record)
        assert parse_code(event.record["code"]).canonical == event.record["code"]


def test_journey_case_counts_are_exact_and_delivery_cases_close() -> None:
    sim = simulate(SimulationConfig(2000, UNTIL, seed=3))
    counts = sim.case_counts()
    for case, share in JOURNEY_CASES.items():
        assert counts[case] == round(share * 2000), case
    for case, share in DELIVERY_CASES.items():
        assert 0.8 * share * 2000 <= counts[case] <= share * 2000, case
    assert counts[None] == 2000 - sum(counts[c] for c in JOURNEY_CASES)


def test_every_case_occurs_from_fifty_shipments() -> None:
    counts = simulate(SimulationConfig(50, UNTIL, seed=1)).case_counts()
    assert all(counts[case] >= 1 for case in JOURNEY_CASES), counts


def test_gs1_share_and_digital_links() -> None:
    dispatches = [e.record for e in events() if e.kind is EventKind.DISPATCH]
    gs1 = [d for d in dispatches if d["code"].startswith("(01)")]
    assert 0.10 < len(gs1) / len(dispatches) < 0.20
    for dispatch in gs1:
        link = dispatch["product"]["digital_link"]  # type: ignore[typeddict-item]
        assert link is not None and parse_code(link).canonical == dispatch["code"]


def _scans_by_code(stream: tuple[SimEvent, ...]) -> dict[str, list[dict[str, object]]]:
    scans: defaultdict[str, list[dict[str, object]]] = defaultdict(list)
    for event in stream:
        if event.kind is EventKind.SCAN and event.case is not HardCase.DUPLICATE:
            scans[event.record["code"]].append(dict(event.record))
    for kept in scans.values():
        kept.sort(key=lambda s: (s["event_time"], s["event_id"]))
    return scans


def test_clean_journeys_keep_clear_of_the_alert_rules() -> None:
    sim = simulate(SimulationConfig(1000, UNTIL, seed=5))
    clean = {t.code for t in sim.shipments if not t.cases}
    dispatched = {
        e.record["code"]: e.record["dispatch_time"]  # type: ignore[typeddict-item]
        for e in events()
        if e.kind is EventKind.DISPATCH
    }
    for code, scans in _scans_by_code(events()).items():
        if code not in clean:
            continue
        physical = [s for s in scans if s["sub_status"] != SubStatus.LABEL_CREATED]
        if physical:
            assert physical[0]["event_time"] - dispatched[code] <= timedelta(hours=30)  # type: ignore[operator]
        for before, after in itertools.pairwise(scans):
            gap = after["event_time"] - before["event_time"]  # type: ignore[operator]
            assert timedelta(0) <= gap <= MAX_CLEAN_GAP
            km = _km(before, after)
            if km >= 500:
                assert km / (gap.total_seconds() / 3600) < 800


def _km(a: dict[str, object], b: dict[str, object]) -> float:
    city_a = CITIES[a["location"]["city"]]  # type: ignore[index]
    city_b = CITIES[b["location"]["city"]]  # type: ignore[index]
    return city_a.distance_km(city_b)


def test_delivered_journeys_follow_the_cross_border_path() -> None:
    sim = simulate(SimulationConfig(1000, UNTIL, seed=5))
    clean = {t.code for t in sim.shipments if not t.cases}
    terminal = {s.value for s in TERMINAL}
    complete = 0
    for code, scans in _scans_by_code(events()).items():
        if code not in clean or scans[-1]["sub_status"] not in terminal:
            continue
        complete += 1
        subs = [s["sub_status"] for s in scans if s["sub_status"] != "LABEL_CREATED"]
        assert subs[0] == "PICKED_UP"
        assert subs.count("CUSTOMS_PROCESSING") == 2  # export and import
        assert "HANDED_TO_LAST_MILE" in subs and "OUT_FOR_DELIVERY" in subs
        countries = [s["location"]["country"] for s in scans]  # type: ignore[index]
        assert countries[0] != countries[-1]
        carriers = list(dict.fromkeys(str(s["carrier"]) for s in scans))
        assert len(carriers) == 2  # first mile, then the destination's last mile
        numbers = {(s["carrier"], s["tracking_number"]) for s in scans}
        assert len(numbers) == 2  # one tracking number per carrier: not a clone signal
    assert complete > 500


def test_local_offsets_are_real() -> None:
    offsets: defaultdict[str, set[int]] = defaultdict(set)
    for event in events():
        if event.kind is EventKind.SCAN:
            record = event.record
            offsets[record["location"]["city"]].add(record["event_utc_offset_minutes"])  # type: ignore[index, arg-type]
    assert offsets["Shenzhen"] == {480}
    assert offsets["Madrid"] <= {60, 120} and offsets["Madrid"]
    assert offsets["Los Angeles"] <= {-480, -420}


def test_carriers_have_raw_codes_for_their_milestones() -> None:
    first = {s for lane in LANES for s in lane.first_mile}
    last = {lane.last_mile for lane in LANES}
    for slug in first:
        assert set(CARRIERS[slug].events) == FIRST_MILE
    for slug in last:
        assert set(CARRIERS[slug].events) == LAST_MILE
    assert sum(lane.weight for lane in LANES) == pytest.approx(1.0)
    assert {lane.origin_country for lane in LANES} == {"CN", "TR"}


def test_raw_codes_vary_by_carrier() -> None:
    by_sub: defaultdict[str, set[str]] = defaultdict(set)
    for event in events():
        if event.kind is EventKind.SCAN:
            by_sub[str(event.record["sub_status"])].add(str(event.record["raw_event_code"]))
    assert len(by_sub["DELIVERED_TO_RECIPIENT"]) >= 5


def test_clones_are_scanned_far_away_soon_after() -> None:
    sim = simulate(SimulationConfig(1000, UNTIL, seed=5))
    clones = {t.code for t in sim.shipments if HardCase.CLONE in t.cases}
    scans = _scans_by_code(events())
    assert len(clones) == 15
    for code in clones:
        speeds = [
            _km(a, b) / max((b["event_time"] - a["event_time"]).total_seconds() / 3600, 1 / 60)  # type: ignore[operator]
            for a, b in itertools.pairwise(scans[code])
            if _km(a, b) >= 500
        ]
        assert max(speeds) > 1000


def test_never_dispatched_codes_have_no_dispatch() -> None:
    sim = simulate(SimulationConfig(1000, UNTIL, seed=5))
    dispatched = {e.record["code"] for e in events() if e.kind is EventKind.DISPATCH}
    for truth in sim.shipments:
        assert (truth.code in dispatched) == truth.dispatched, truth.cases


def test_event_counts_by_kind_match_the_plan() -> None:
    sim = simulate(SimulationConfig(400, UNTIL, seed=2))
    stream = list(sim.events())
    kinds = Counter(e.kind for e in stream)
    assert kinds[EventKind.DISPATCH] == sum(1 for t in sim.shipments if t.dispatched) + sum(
        1 for e in stream if e.kind is EventKind.DISPATCH and e.case is HardCase.DUPLICATE
    )
    assert sim.event_count == len(stream)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"shipments": -1}, "shipments"),
        ({"days": 10}, "days must be at least"),
        ({"until": datetime(2026, 11, 1)}, "timezone-aware"),
        ({"gs1_share": 1.5}, "gs1_share"),
        ({"journey_shares": {HardCase.DUPLICATE: 0.1}}, "do not belong"),
    ],
)
def test_bad_configs_are_refused(changes: dict[str, object], message: str) -> None:
    settings: dict[str, object] = {"shipments": 10, "until": UNTIL, **changes}
    with pytest.raises(SimulationError, match=message):
        SimulationConfig(**settings)  # type: ignore[arg-type]


def test_the_documented_shares_are_the_real_ones() -> None:
    documented = {
        name: float(share) / 100
        for name, share in re.findall(r"^- (\w+) \(([\d.]+) %\)", hardcases.__doc__ or "", re.M)
    }
    assert documented == {
        case.value: share for case, share in {**JOURNEY_CASES, **DELIVERY_CASES}.items()
    }
