"""Realistic valid records of every type, and a release folder builder for evolution tests."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from schemas.codes import marketplace_code, sgtin_code
from schemas.records import (
    CarrierScan,
    DeadLetter,
    RecordType,
    SellerDispatch,
    ShipmentAlert,
    ShipmentHistoryRecord,
    ShipmentState,
    ShipmentStatusChanged,
)
from schemas.registry import AVRO_ROOT

T0 = datetime(2024, 11, 11, 8, 30, 15, 123000, tzinfo=UTC)
CODE = marketplace_code(4242)
GS1 = sgtin_code("09506000134352", "SN-0001")


def carrier_scan() -> CarrierScan:
    return {
        "event_id": "cainiao:LP00123456789CN:0001",
        "code": CODE,
        "carrier": "cainiao",
        "tracking_number": "LP00123456789CN",
        "raw_event_code": "SC_OUTBOUND",
        "raw_description": "Departed from sorting center",
        "status": "IN_TRANSIT",
        "sub_status": "DEPARTED_FACILITY",
        "location": {
            "facility_id": "CN-SZX-01",
            "city": "Shenzhen",
            "country": "CN",
            "latitude": 22.5431,
            "longitude": 114.0579,
        },
        "event_time": T0,
        "event_utc_offset_minutes": 480,
        "received_time": T0 + timedelta(seconds=4),
        "source": "CARRIER_API",
        "retracts_event_id": None,
    }


def seller_dispatch() -> SellerDispatch:
    return {
        "event_id": "mp:order-991:dispatch",
        "code": GS1.canonical,
        "order_id": "order-991",
        "seller_id": "seller-17",
        "seller_verified": True,
        "product": {
            "sku": "SKU-RED-42",
            "gtin": GS1.gtin,
            "serial": GS1.serial,
            "digital_link": "https://id.gs1.org/01/09506000134352/21/SN-0001",
        },
        "quantity": 1,
        "dispatch_time": T0 - timedelta(hours=20),
        "dispatch_utc_offset_minutes": 480,
        "promised_ship_by": T0 - timedelta(hours=4),
        "promised_delivery": T0 + timedelta(days=9),
        "carrier": "cainiao",
        "tracking_number": "LP00123456789CN",
        "origin": {"country": "CN", "city": "Shenzhen", "postal_prefix": "518"},
        "destination": {"country": "BR", "city": "São Paulo", "postal_prefix": "01310"},
        "received_time": T0 - timedelta(hours=20) + timedelta(seconds=2),
        "source": "MARKETPLACE_API",
    }


def status_changed() -> ShipmentStatusChanged:
    scan = carrier_scan()
    return {
        "code": CODE,
        "version": 3,
        "status": "IN_TRANSIT",
        "sub_status": "DEPARTED_FACILITY",
        "previous_status": "IN_TRANSIT",
        "previous_sub_status": "PICKED_UP",
        "changed_at": T0,
        "cause_event_id": scan["event_id"],
        "emitted_at": T0 + timedelta(seconds=5),
        "carrier": "cainiao",
        "tracking_number": "LP00123456789CN",
        "location": scan["location"],
        "order_id": "order-991",
        "seller_id": "seller-17",
        "origin_country": "CN",
        "destination_country": "BR",
        "dispatched_at": T0 - timedelta(hours=20),
        "first_scan_at": T0 - timedelta(hours=6),
        "delivered_at": None,
        "promised_delivery": T0 + timedelta(days=9),
        "suspected_clone": False,
    }


def history_record() -> ShipmentHistoryRecord:
    scan = carrier_scan()
    return {
        "event_id": scan["event_id"],
        "code": CODE,
        "kind": "SCAN",
        "event_time": T0,
        "event_utc_offset_minutes": 480,
        "received_time": scan["received_time"],
        "processed_time": T0 + timedelta(seconds=5),
        "late": False,
        "source": "CARRIER_API",
        "carrier": "cainiao",
        "tracking_number": "LP00123456789CN",
        "raw_event_code": "SC_OUTBOUND",
        "raw_description": "Departed from sorting center",
        "event_status": "IN_TRANSIT",
        "event_sub_status": "DEPARTED_FACILITY",
        "location": scan["location"],
        "retracts_event_id": None,
        "shipment_status": "IN_TRANSIT",
        "shipment_sub_status": "DEPARTED_FACILITY",
        "status_version": 3,
        "order_id": "order-991",
        "seller_id": "seller-17",
        "seller_verified": True,
        "sku": "SKU-RED-42",
        "gtin": None,
        "serial": None,
        "origin": {"country": "CN", "city": "Shenzhen", "postal_prefix": None},
        "destination": {"country": "BR", "city": None, "postal_prefix": "01310"},
        "dispatched_at": T0 - timedelta(hours=20),
        "promised_ship_by": T0 - timedelta(hours=4),
        "promised_delivery": T0 + timedelta(days=9),
        "first_scan_at": T0 - timedelta(hours=6),
    }


def alert() -> ShipmentAlert:
    scan = carrier_scan()
    return {
        "alert_id": "alert-5f2c",
        "code": CODE,
        "kind": "SUSPECTED_CLONE",
        "rule": "impossible_speed",
        "severity": "CRITICAL",
        "detected_at": T0,
        "emitted_at": T0 + timedelta(seconds=5),
        "message": "scanned in CN then in BR 2.0 h later: 8700 km/h",
        "evidence": [
            {
                "event_id": scan["event_id"],
                "kind": "SCAN",
                "event_time": T0,
                "carrier": "cainiao",
                "tracking_number": "LP00123456789CN",
                "status": "IN_TRANSIT",
                "sub_status": "DEPARTED_FACILITY",
                "location": scan["location"],
            }
        ],
        "metrics": {"speed_kmh": 8700.5, "distance_km": 17401.0},
    }


def dead_letter() -> DeadLetter:
    return {
        "topic": "tracecode.carrier-scans.v1",
        "partition": 3,
        "offset": 1234567,
        "timestamp": T0,
        "key": CODE.encode(),
        "value": b"\x00garbage",
        "headers": [{"key": "trace-id", "value": b"abc"}, {"key": "empty", "value": None}],
        "stage": "decode",
        "error_class": "BadMarkerError",
        "error_message": "not an Avro single-object record: expected marker c3 01, found 00 67",
        "failed_at": T0 + timedelta(seconds=1),
    }


def shipment_state() -> ShipmentState:
    scan = carrier_scan()
    return {
        "code": CODE,
        "dispatch": {
            **seller_dispatch(),
            "code": CODE,
            "product": {"sku": "SKU-RED-42", "gtin": None, "serial": None, "digital_link": None},
        },
        "dispatch_event_ids": ["mp:order-991:dispatch"],
        "scans": [scan],
        "evicted": {
            "last_event_time": T0 - timedelta(hours=6),
            "last_event_id": "cainiao:LP00123456789CN:0000",
            "last_scan": {**scan, "event_time": T0 - timedelta(hours=6), "sub_status": "PICKED_UP"},
            "sub_status": "PICKED_UP",
            "first_scan_at": T0 - timedelta(hours=6),
            "delivered_at": None,
            "tracking_numbers": ["cainiao|LP00123456789CN"],
            "clone_rules": [],
            "scan_count": 1,
        },
        "retracted_event_ids": [],
        "status": "IN_TRANSIT",
        "sub_status": "DEPARTED_FACILITY",
        "status_version": 3,
        "carrier": "cainiao",
        "tracking_number": "LP00123456789CN",
        "location": scan["location"],
        "first_scan_at": T0 - timedelta(hours=6),
        "last_scan_at": T0,
        "delivered_at": None,
        "scan_count": 2,
        "tracking_numbers": ["cainiao|LP00123456789CN"],
        "clone_rules": [],
        "last_event_time": T0,
        "expired_at": None,
        "alerted": [],
        "updated_at": T0 + timedelta(seconds=5),
    }


SAMPLES: dict[RecordType, Callable[[], Any]] = {
    RecordType.CARRIER_SCAN: carrier_scan,
    RecordType.SELLER_DISPATCH: seller_dispatch,
    RecordType.SHIPMENT_STATUS_CHANGED: status_changed,
    RecordType.SHIPMENT_HISTORY_RECORD: history_record,
    RecordType.SHIPMENT_ALERT: alert,
    RecordType.DEAD_LETTER: dead_letter,
    RecordType.SHIPMENT_STATE: shipment_state,
}


def make_releases(
    root: Path, change: Callable[[dict[str, dict[str, Any]]], None] | None = None
) -> Path:
    """``root`` with release v1 (copied) and, given ``change``, v2 = v1 after ``change`` edits its
    parsed avsc files (by file stem, e.g. ``io.tracecode.CarrierScan``)."""
    shutil.copytree(AVRO_ROOT / "v1", root / "v1")
    if change is None:
        return root
    files = {path.stem: json.loads(path.read_text()) for path in (root / "v1").glob("*.avsc")}
    change(files)
    (root / "v2").mkdir()
    for stem, schema in files.items():
        (root / "v2" / f"{stem}.avsc").write_text(json.dumps(schema, indent=1))
    return root


def field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in schema["fields"] if f["name"] == name)
