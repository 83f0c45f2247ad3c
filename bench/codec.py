"""Codec throughput against the raw fastavro ceiling, per record type.

Run: ``python -m bench.codec`` (or ``.venv/bin/python bench/codec.py``). For each record type it
encodes and decodes a batch of realistic, varied records with :mod:`schemas.codec` and, in the
same run and interleaved, with bare ``fastavro.schemaless_writer``/``schemaless_reader`` on the
same parsed schema (no header, no checks): the ceiling. Each figure is the best of several
rounds, so a noisy neighbour slows a round rather than the result. Target: codec/raw >= 0.85.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

from fastavro import schemaless_reader, schemaless_writer

from schemas.codec import codec_for
from schemas.codes import marketplace_code, sgtin_code, to_digital_link
from schemas.records import RecordType
from schemas.status import STATUS_OF, SubStatus

CITIES = [
    ("CN", "Shenzhen", 22.5431, 114.0579, 480),
    ("CN", "Guangzhou", 23.1291, 113.2644, 480),
    ("HK", "Hong Kong", 22.3193, 114.1694, 480),
    ("NL", "Amsterdam", 52.3676, 4.9041, 60),
    ("BR", "São Paulo", -23.5505, -46.6333, -180),
    ("ES", "Madrid", 40.4168, -3.7038, 60),
    ("US", "Los Angeles", 34.0522, -118.2437, -480),
]
CARRIERS = ["cainiao", "yanwen", "4px", "correios", "postnl", "correos", "usps"]
SCAN_SUBS = [
    SubStatus.PICKED_UP,
    SubStatus.ARRIVED_AT_FACILITY,
    SubStatus.DEPARTED_FACILITY,
    SubStatus.CUSTOMS_PROCESSING,
    SubStatus.HANDED_TO_LAST_MILE,
    SubStatus.OUT_FOR_DELIVERY,
    SubStatus.DELIVERED_TO_RECIPIENT,
]


def _location(rng: random.Random) -> dict[str, Any]:
    country, city, lat, lon, _ = rng.choice(CITIES)
    return {
        "facility_id": f"{country}-{city[:3].upper()}-{rng.randint(1, 40):02d}",
        "city": city,
        "country": country,
        "latitude": lat + rng.uniform(-0.1, 0.1),
        "longitude": lon + rng.uniform(-0.1, 0.1),
    }


def _time(rng: random.Random) -> datetime:
    start = datetime(2024, 11, 1, tzinfo=UTC)
    return start + timedelta(milliseconds=rng.randrange(30 * 86_400_000))


def _scan(rng: random.Random, i: int) -> dict[str, Any]:
    sub = rng.choice(SCAN_SUBS)
    at = _time(rng)
    carrier = rng.choice(CARRIERS)
    return {
        "event_id": f"{carrier}:LP{i:013d}CN:{rng.randint(1, 12):04d}",
        "code": marketplace_code(i),
        "carrier": carrier,
        "tracking_number": f"LP{i:013d}CN",
        "raw_event_code": f"EV_{sub.value[:8]}",
        "raw_description": f"Parcel {sub.value.lower().replace('_', ' ')} at facility",
        "status": STATUS_OF[sub].value,
        "sub_status": sub.value,
        "location": _location(rng),
        "event_time": at,
        "event_utc_offset_minutes": rng.choice(CITIES)[4],
        "received_time": at + timedelta(seconds=rng.randint(1, 600)),
        "source": "CARRIER_API",
        "retracts_event_id": None,
    }


def _dispatch(rng: random.Random, i: int) -> dict[str, Any]:
    at = _time(rng)
    origin, destination = rng.sample(CITIES, 2)
    item = sgtin_code("09506000134352", f"SN{i:010d}")
    return {
        "event_id": f"mp:order-{i}:dispatch",
        "code": item.canonical,
        "order_id": f"order-{i}",
        "seller_id": f"seller-{rng.randint(1, 5000)}",
        "seller_verified": rng.random() < 0.8,
        "product": {
            "sku": f"SKU-{rng.randint(1, 90000):05d}",
            "gtin": item.gtin,
            "serial": item.serial,
            "digital_link": to_digital_link(item),
        },
        "quantity": rng.randint(1, 3),
        "dispatch_time": at,
        "dispatch_utc_offset_minutes": origin[4],
        "promised_ship_by": at + timedelta(hours=48),
        "promised_delivery": at + timedelta(days=rng.randint(7, 25)),
        "carrier": rng.choice(CARRIERS),
        "tracking_number": f"LP{i:013d}CN",
        "origin": {"country": origin[0], "city": origin[1], "postal_prefix": None},
        "destination": {"country": destination[0], "city": destination[1], "postal_prefix": "013"},
        "received_time": at + timedelta(seconds=2),
        "source": "MARKETPLACE_API",
    }


def _status(rng: random.Random, i: int) -> dict[str, Any]:
    scan = _scan(rng, i)
    return {
        "code": scan["code"],
        "version": rng.randint(1, 12),
        "status": scan["status"],
        "sub_status": scan["sub_status"],
        "previous_status": "IN_TRANSIT",
        "previous_sub_status": "PICKED_UP",
        "changed_at": scan["event_time"],
        "cause_event_id": scan["event_id"],
        "emitted_at": scan["received_time"],
        "carrier": scan["carrier"],
        "tracking_number": scan["tracking_number"],
        "location": scan["location"],
        "order_id": f"order-{i}",
        "seller_id": f"seller-{i % 5000}",
        "origin_country": "CN",
        "destination_country": "BR",
        "dispatched_at": scan["event_time"] - timedelta(days=2),
        "first_scan_at": scan["event_time"] - timedelta(days=1),
        "delivered_at": None,
        "promised_delivery": scan["event_time"] + timedelta(days=10),
        "suspected_clone": False,
    }


def _history(rng: random.Random, i: int) -> dict[str, Any]:
    scan = _scan(rng, i)
    return {
        "event_id": scan["event_id"],
        "code": scan["code"],
        "kind": "SCAN",
        "event_time": scan["event_time"],
        "event_utc_offset_minutes": scan["event_utc_offset_minutes"],
        "received_time": scan["received_time"],
        "processed_time": scan["received_time"] + timedelta(milliseconds=40),
        "late": rng.random() < 0.05,
        "source": scan["source"],
        "carrier": scan["carrier"],
        "tracking_number": scan["tracking_number"],
        "raw_event_code": scan["raw_event_code"],
        "raw_description": scan["raw_description"],
        "event_status": scan["status"],
        "event_sub_status": scan["sub_status"],
        "location": scan["location"],
        "retracts_event_id": None,
        "shipment_status": scan["status"],
        "shipment_sub_status": scan["sub_status"],
        "status_version": rng.randint(1, 12),
        "order_id": f"order-{i}",
        "seller_id": f"seller-{i % 5000}",
        "seller_verified": True,
        "sku": f"SKU-{i % 90000:05d}",
        "gtin": None,
        "serial": None,
        "origin": {"country": "CN", "city": "Shenzhen", "postal_prefix": None},
        "destination": {"country": "BR", "city": "São Paulo", "postal_prefix": "013"},
        "dispatched_at": scan["event_time"] - timedelta(days=2),
        "promised_ship_by": scan["event_time"] - timedelta(days=1),
        "promised_delivery": scan["event_time"] + timedelta(days=10),
        "first_scan_at": scan["event_time"] - timedelta(days=1),
    }


def _alert(rng: random.Random, i: int) -> dict[str, Any]:
    first, second = _scan(rng, i), _scan(rng, i)
    evidence = [
        {
            "event_id": scan["event_id"],
            "kind": "SCAN",
            "event_time": scan["event_time"],
            "carrier": scan["carrier"],
            "tracking_number": scan["tracking_number"],
            "status": scan["status"],
            "sub_status": scan["sub_status"],
            "location": scan["location"],
        }
        for scan in (first, second)
    ]
    return {
        "alert_id": f"alert-{i:08x}",
        "code": first["code"],
        "kind": "SUSPECTED_CLONE",
        "rule": "impossible_speed",
        "severity": "CRITICAL",
        "detected_at": second["event_time"],
        "emitted_at": second["received_time"],
        "message": "scanned in CN then in BR 2.0 h later: 8700 km/h",
        "evidence": evidence,
        "metrics": {"speed_kmh": rng.uniform(1000, 9000), "distance_km": rng.uniform(5e3, 2e4)},
    }


def _dead_letter(rng: random.Random, i: int) -> dict[str, Any]:
    at = _time(rng)
    return {
        "topic": "tracecode.carrier-scans.v1",
        "partition": rng.randint(0, 11),
        "offset": rng.randint(0, 10**9),
        "timestamp": at,
        "key": marketplace_code(i).encode(),
        "value": rng.randbytes(rng.randint(40, 200)),
        "headers": [{"key": "traceparent", "value": rng.randbytes(16)}],
        "stage": "decode",
        "error_class": "BadMarkerError",
        "error_message": "not an Avro single-object record: expected marker c3 01, found 7b 22",
        "failed_at": at + timedelta(seconds=1),
    }


def _state(rng: random.Random, i: int) -> dict[str, Any]:
    scans = sorted(
        (_scan(rng, i) for _ in range(rng.randint(3, 10))), key=lambda s: s["event_time"]
    )
    last = scans[-1]
    return {
        "code": last["code"],
        "dispatch": {**_dispatch(rng, i), "code": last["code"]},
        "dispatch_event_ids": [f"mp:order-{i}:dispatch"],
        "scans": scans,
        "evicted": None,
        "retracted_event_ids": [],
        "status": last["status"],
        "sub_status": last["sub_status"],
        "status_version": len(scans),
        "carrier": last["carrier"],
        "tracking_number": last["tracking_number"],
        "location": last["location"],
        "first_scan_at": scans[0]["event_time"],
        "last_scan_at": last["event_time"],
        "delivered_at": None,
        "scan_count": len(scans),
        "tracking_numbers": [f"{last['carrier']}|{last['tracking_number']}"],
        "clone_rules": [],
        "last_event_time": last["event_time"],
        "expired_at": None,
        "alerted": [],
        "updated_at": last["received_time"],
    }


BUILDERS: dict[RecordType, Callable[[random.Random, int], dict[str, Any]]] = {
    RecordType.CARRIER_SCAN: _scan,
    RecordType.SELLER_DISPATCH: _dispatch,
    RecordType.SHIPMENT_STATUS_CHANGED: _status,
    RecordType.SHIPMENT_HISTORY_RECORD: _history,
    RecordType.SHIPMENT_ALERT: _alert,
    RecordType.DEAD_LETTER: _dead_letter,
    RecordType.SHIPMENT_STATE: _state,
}


def _best_rate(run: Callable[[], None], count: int, rounds: list[float]) -> None:
    start = time.perf_counter()
    run()
    rounds.append(count / (time.perf_counter() - start))


def bench(record_type: RecordType, records: int, repeats: int) -> dict[str, float]:
    """Best-of-``repeats`` rates (records/s) of codec and raw fastavro, interleaved."""
    rng = random.Random(record_type.value)
    batch = [BUILDERS[record_type](rng, i) for i in range(records)]
    codec = codec_for(record_type)
    schema = codec.schema
    encoded = [codec.encode(record) for record in batch]
    bodies = [data[10:] for data in encoded]
    encode, decode = codec.encode, codec.decode

    def raw_encode() -> None:
        for record in batch:
            buffer = BytesIO()
            schemaless_writer(buffer, schema, record)
            buffer.getvalue()

    def codec_encode() -> None:
        for record in batch:
            encode(record)

    def raw_decode() -> None:
        for body in bodies:
            schemaless_reader(BytesIO(body), schema, None)

    def codec_decode() -> None:
        for data in encoded:
            decode(data)

    runs = {
        "raw_encode": raw_encode,
        "codec_encode": codec_encode,
        "raw_decode": raw_decode,
        "codec_decode": codec_decode,
    }
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            _best_rate(run, records, rates[name])
    result = {name: max(values) for name, values in rates.items()}
    result["bytes"] = sum(map(len, encoded)) / records
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--records", type=int, default=3000, help="records per batch")
    parser.add_argument("--repeats", type=int, default=7, help="rounds; the best one counts")
    args = parser.parse_args()
    print(f"{args.records} records per batch, best of {args.repeats} interleaved rounds")
    header = (
        f"{'record type':<24}{'bytes':>6}  {'encode/s':>10} {'raw':>10} {'ratio':>6}  "
        f"{'decode/s':>10} {'raw':>10} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    worst = 1.0
    for record_type in RecordType:
        r = bench(record_type, args.records, args.repeats)
        enc, dec = r["codec_encode"] / r["raw_encode"], r["codec_decode"] / r["raw_decode"]
        worst = min(worst, enc, dec)
        print(
            f"{record_type.short_name:<24}{r['bytes']:>6.0f}  "
            f"{r['codec_encode']:>10,.0f} {r['raw_encode']:>10,.0f} {enc:>6.2f}  "
            f"{r['codec_decode']:>10,.0f} {r['raw_decode']:>10,.0f} {dec:>6.2f}"
        )
    verdict = "meets" if worst >= 0.85 else "misses"
    print(f"lowest codec/raw ratio: {worst:.2f} ({verdict} the 0.85 target)")


if __name__ == "__main__":
    main()
