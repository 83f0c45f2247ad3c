"""Realistic worker output for the sink's tests: hand-built shipments run through the join.

Input events of known shipments (delivered ones on several lanes, a clone, a stalled parcel,
an unknown code, a dispatch nobody picks up) are applied in event-time order with
``streams.transition.apply``, and ``tick`` runs whenever the stream time passes a code's due
time: the outputs are exactly the records the streams worker publishes. The figures the
saved queries should find are known from the scenario itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

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
from streams.transition import InputEvent, Rules, apply, next_due, tick

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
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


def _run(scenario: Scenario) -> None:
    states = scenario.states
    due: dict[str, datetime] = {}
    stream_time: datetime | None = None
    clock = datetime(2026, 12, 1, tzinfo=UTC)
    ordered = sorted(
        scenario.events,
        key=lambda e: (
            e["dispatch_time"] if "dispatch_time" in e else e["event_time"],
            e["event_id"],
        ),  # type: ignore[typeddict-item]
    )
    for event in ordered:
        clock += timedelta(milliseconds=10)
        result = apply(states.get(event["code"]), event, RULES, clock)
        _collect(scenario, result.state, result.history, result.status_change, result.alerts)
        when = next_due(result.state, RULES)
        if when is not None:
            due[event["code"]] = when
        event_time = event["dispatch_time"] if "dispatch_time" in event else event["event_time"]  # type: ignore[typeddict-item]
        stream_time = event_time if stream_time is None else max(stream_time, event_time)
        for code in sorted(c for c, t in due.items() if t <= stream_time):
            clock += timedelta(milliseconds=10)
            ticked = tick(states[code], stream_time, RULES, clock)
            _collect(scenario, ticked.state, None, ticked.status_change, ticked.alerts)
            when = next_due(ticked.state, RULES)
            if when is None or when <= stream_time:
                due.pop(code)
            else:
                due[code] = when


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
