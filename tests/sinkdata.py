"""Realistic worker output for the sink's tests: input events run through the join.

Two sources of input events: :func:`build` hand-builds known shipments (delivered ones on
several lanes, a clone, a stalled parcel, an unknown code, a dispatch nobody picks up), so the
figures the saved queries should find are known; :func:`simulated` takes the producers'
simulator with all its hard cases (late dispatches, duplicates, out-of-order scans, clones).
Events are applied with ``streams.join.transition.apply`` and ``tick`` runs whenever a partition's
stream time passes a code's due time, as the worker does: the outputs are exactly the records
the streams worker publishes.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka.partitioner import murmur2

from producers.simulator import ShipmentTruth, SimulationConfig, simulate
from schemas.codec import RecordType, codec_for
from schemas.records import (
    CarrierScan,
    Location,
    SellerDispatch,
    ShipmentAlert,
    ShipmentHistoryRecord,
    ShipmentState,
    ShipmentStatusChanged,
)
from sinks.batching import Row
from streams.join.transition import InputEvent, Rules, apply, next_due, tick

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
UNTIL = datetime(2026, 11, 1, tzinfo=UTC)
RULES = Rules()

CITIES: dict[str, tuple[str, float, float]] = {
    "Shenzhen": ("CN", 22.54, 114.06),
    "Hong Kong": ("CN", 22.31, 114.17),
    "Sao Paulo": ("BR", -23.55, -46.63),
    "Madrid": ("ES", 40.42, -3.70),
    "Chicago": ("US", 41.88, -87.63),
}
LANES = (("CN", "BR", "Sao Paulo"), ("CN", "ES", "Madrid"), ("CN", "US", "Chicago"))
CARRIERS = ("CAINIAO", "YUNEXPRESS")
SELLERS = ("S-ALPHA", "S-BETA", "S-GAMMA")


@dataclass(frozen=True, slots=True)
class Delivered:
    """A delivered shipment and the figures it contributes."""

    code: str
    carrier: str
    origin: str
    destination: str
    seller: str
    transit_hours: float
    latency_hours: float


@dataclass(slots=True)
class Scenario:
    """Inputs, the worker's outputs, and what is known about the shipments."""

    events: list[InputEvent] = field(default_factory=list)
    history: list[ShipmentHistoryRecord] = field(default_factory=list)
    status: list[ShipmentStatusChanged] = field(default_factory=list)
    alerts: list[ShipmentAlert] = field(default_factory=list)
    states: dict[str, ShipmentState] = field(default_factory=dict)
    delivered: list[Delivered] = field(default_factory=list)
    clone: str = ""
    stalled: str = ""
    unknown: str = ""
    undispatched: str = ""
    truth: dict[str, ShipmentTruth] = field(default_factory=dict)
    """The simulator's ground truth per code (simulated scenarios only)."""


def _location(city: str) -> Location:
    country, lat, lon = CITIES[city]
    return {
        "facility_id": f"FAC-{city.upper().replace(' ', '')}",
        "city": city,
        "country": country,
        "latitude": lat,
        "longitude": lon,
    }


def _dispatch(
    code: str, at: datetime, seller: str, carrier: str | None, dest: str
) -> SellerDispatch:
    origin_country, destination_country, city = next(
        lane for lane in LANES if lane[1] == CITIES[dest][0]
    )
    return {
        "event_id": f"{code}-D",
        "code": code,
        "order_id": f"O-{code}",
        "seller_id": seller,
        "seller_verified": seller != "S-GAMMA",
        "product": {"sku": "SKU-1", "gtin": None, "serial": None, "digital_link": None},
        "quantity": 1,
        "dispatch_time": at,
        "dispatch_utc_offset_minutes": 480,
        "promised_ship_by": None,
        "promised_delivery": at + timedelta(days=10),
        "carrier": carrier,
        "tracking_number": f"TN{code}" if carrier else None,
        "origin": {"country": origin_country, "city": "Shenzhen", "postal_prefix": "518"},
        "destination": {"country": destination_country, "city": city, "postal_prefix": None},
        "received_time": at + timedelta(seconds=5),
        "source": "SIMULATOR",
    }


def _scan(
    code: str, n: int, at: datetime, carrier: str, sub: str, status: str, city: str
) -> CarrierScan:
    return {
        "event_id": f"{code}-S{n}",
        "code": code,
        "carrier": carrier,
        "tracking_number": f"TN{code}",
        "raw_event_code": sub[:3],
        "raw_description": f"{sub.replace('_', ' ').lower()} at {city}",
        "status": status,
        "sub_status": sub,
        "location": _location(city),
        "event_time": at,
        "event_utc_offset_minutes": 480 if CITIES[city][0] == "CN" else -180,
        "received_time": at + timedelta(seconds=30),
        "source": "SIMULATOR",
        "retracts_event_id": None,
    }


def build(delivered: int = 30) -> Scenario:
    """The scenario with ``delivered`` delivered shipments plus the hard cases."""
    scenario = Scenario()
    events = scenario.events
    for i in range(delivered):
        code = f"TCD{i:09d}"
        carrier = CARRIERS[i % len(CARRIERS)]
        origin, destination, city = LANES[i % len(LANES)]
        seller = SELLERS[i % len(SELLERS)]
        transit = 50.0 + (i % 5) * 10
        latency = 2.0 + (i % 4)
        start = T0 + timedelta(minutes=7 * i)
        events.append(_dispatch(code, start, seller, carrier, city))
        hours = [
            (latency, "PICKED_UP", "Shenzhen"),
            (latency + 6, "DEPARTED_FACILITY", "Hong Kong"),
            (transit - 10, "ARRIVED_AT_FACILITY", city),
            (transit - 3, "OUT_FOR_DELIVERY", city),
            (transit, "DELIVERED_TO_RECIPIENT", city),
        ]
        for n, (h, sub, where) in enumerate(hours):
            status = {"OUT_FOR_DELIVERY": "OUT_FOR_DELIVERY", "DELIVERED_TO_RECIPIENT": "DELIVERED"}
            events.append(
                _scan(
                    code,
                    n,
                    start + timedelta(hours=h),
                    carrier,
                    sub,
                    status.get(sub, "IN_TRANSIT"),
                    where,
                )
            )
        scenario.delivered.append(
            Delivered(code, carrier, origin, destination, seller, transit, latency)
        )

    scenario.clone = clone = "TCCLONE00001"
    events.append(_dispatch(clone, T0, "S-GAMMA", "CAINIAO", "Sao Paulo"))
    events.append(
        _scan(clone, 0, T0 + timedelta(hours=3), "CAINIAO", "PICKED_UP", "IN_TRANSIT", "Shenzhen")
    )
    events.append(
        _scan(
            clone,
            1,
            T0 + timedelta(hours=4),
            "CAINIAO",
            "ARRIVED_AT_FACILITY",
            "IN_TRANSIT",
            "Sao Paulo",
        )
    )

    scenario.stalled = stalled = "TCSTALL00001"
    events.append(_dispatch(stalled, T0, "S-BETA", "YUNEXPRESS", "Madrid"))
    events.append(
        _scan(
            stalled, 0, T0 + timedelta(hours=2), "YUNEXPRESS", "PICKED_UP", "IN_TRANSIT", "Shenzhen"
        )
    )
    events.append(
        _scan(
            stalled,
            1,
            T0 + timedelta(hours=8),
            "YUNEXPRESS",
            "DEPARTED_FACILITY",
            "IN_TRANSIT",
            "Hong Kong",
        )
    )

    scenario.unknown = unknown = "TCUNKNOWN001"
    events.append(
        _scan(unknown, 0, T0 + timedelta(hours=1), "CAINIAO", "PICKED_UP", "IN_TRANSIT", "Shenzhen")
    )

    scenario.undispatched = idle = "TCIDLE000001"
    events.append(_dispatch(idle, T0 + timedelta(hours=1), "S-ALPHA", None, "Chicago"))

    _run(scenario)
    return scenario


def simulated(shipments: int = 300, seed: int = 5, partitions: int = 3) -> Scenario:
    """The producers' simulator (all hard cases), run through the join in arrival order."""
    simulation = simulate(SimulationConfig(shipments=shipments, until=UNTIL, seed=seed))
    scenario = Scenario(events=[event.record for event in simulation.events()])
    scenario.truth = dict(simulation.truth)
    _run(scenario, partitions, in_arrival_order=True)
    return scenario


def partition_of(code: str, partitions: int) -> int:
    """The partition of a key under the producers' murmur2 partitioner."""
    return (murmur2(code.encode()) & 0x7FFFFFFF) % partitions


def _event_time(event: InputEvent) -> datetime:
    return event["dispatch_time"] if "dispatch_time" in event else event["event_time"]  # type: ignore[typeddict-item]


def _run(scenario: Scenario, partitions: int = 3, *, in_arrival_order: bool = False) -> None:
    """Apply the events as the worker does: ticks at each partition's stream time."""
    states = scenario.states
    due: dict[int, list[tuple[datetime, str]]] = {}
    stream_time: dict[int, datetime] = {}
    clock = datetime(2027, 1, 1, tzinfo=UTC)
    events = scenario.events
    if not in_arrival_order:
        events = sorted(events, key=lambda e: (_event_time(e), e["event_id"]))

    def schedule(code: str, partition: int) -> None:
        moment = next_due(states[code], RULES)
        if moment is not None:
            heapq.heappush(due.setdefault(partition, []), (moment, code))

    for event in events:
        clock += timedelta(milliseconds=10)
        code = event["code"]
        partition = partition_of(code, partitions)
        result = apply(states.get(code), event, RULES, clock)
        _collect(scenario, result.state, result.history, result.status_change, result.alerts)
        now = max(_event_time(event), stream_time.get(partition, _event_time(event)))
        stream_time[partition] = now
        schedule(code, partition)
        queue = due.get(partition, [])
        while queue and queue[0][0] <= now:
            moment, ticked_code = heapq.heappop(queue)
            if next_due(states[ticked_code], RULES) != moment:
                continue  # rescheduled since
            clock += timedelta(milliseconds=10)
            ticked = tick(states[ticked_code], now, RULES, clock)
            _collect(scenario, ticked.state, None, ticked.status_change, ticked.alerts)
            schedule(ticked_code, partition)


def _collect(
    scenario: Scenario,
    state: ShipmentState,
    history: ShipmentHistoryRecord | None,
    status: ShipmentStatusChanged | None,
    alerts: tuple[ShipmentAlert, ...],
) -> None:
    scenario.states[state["code"]] = state
    if history is not None:
        scenario.history.append(history)
    if status is not None:
        scenario.status.append(status)
    scenario.alerts.extend(alerts)


def quantile_exact(values: list[float], level: float) -> float:
    """ClickHouse's quantileExact: the element at floor(level * n) of the sorted values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(level * len(ordered)))]


def batch_rows(record_type: RecordType, records: Sequence[Any], first: int) -> tuple[Row, ...]:
    """Records as a batch's rows from offset ``first`` on: (offset, header, Avro body)."""
    codec = codec_for(record_type)
    encoded = (codec.encode(record) for record in records)
    return tuple((first + i, data[:10], data[10:]) for i, data in enumerate(encoded))
