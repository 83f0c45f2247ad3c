"""How each output record becomes a row of its ClickHouse table.

One :class:`Table` per consumed topic: the record type its values decode to, the target table,
its column names and the conversion. Nested records are flattened into columns (a location
becomes ``facility_id, city, country, latitude, longitude``) so analysts filter on plain
columns; alert evidence is kept whole as JSON next to the list of its event ids.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from schemas.codec import RecordType
from schemas.records import (
    Location,
    Place,
    ShipmentAlert,
    ShipmentHistoryRecord,
    ShipmentStatusChanged,
)
from schemas.topics import TopicNames
from sinks.batching import Row


@dataclass(frozen=True, slots=True)
class Table:
    """Where the records of one topic go."""

    name: str
    record_type: RecordType
    columns: tuple[str, ...]
    to_row: Callable[[Any, int, int], Row]
    """(decoded record, Kafka partition, Kafka offset) -> row in ``columns`` order."""


_LOCATION = ("facility_id", "city", "country", "latitude", "longitude")


def _location(location: Location | None) -> Row:
    if location is None:
        return (None, None, None, None, None)
    return (
        location["facility_id"],
        location["city"],
        location["country"],
        location["latitude"],
        location["longitude"],
    )


def _place(place: Place | None) -> Row:
    if place is None:
        return (None, None, None)
    return (place["country"], place["city"], place["postal_prefix"])


EVENT_COLUMNS = (
    "event_id",
    "code",
    "kind",
    "event_time",
    "event_utc_offset_minutes",
    "received_time",
    "processed_time",
    "late",
    "source",
    "carrier",
    "tracking_number",
    "raw_event_code",
    "raw_description",
    "event_status",
    "event_sub_status",
    *_LOCATION,
    "retracts_event_id",
    "shipment_status",
    "shipment_sub_status",
    "status_version",
    "order_id",
    "seller_id",
    "seller_verified",
    "sku",
    "gtin",
    "serial",
    "origin_country",
    "origin_city",
    "origin_postal_prefix",
    "destination_country",
    "destination_city",
    "destination_postal_prefix",
    "dispatched_at",
    "promised_ship_by",
    "promised_delivery",
    "first_scan_at",
    "kafka_partition",
    "kafka_offset",
)


def event_row(record: ShipmentHistoryRecord, partition: int, offset: int) -> Row:
    """A ``shipment_events`` row."""
    return (
        record["event_id"],
        record["code"],
        record["kind"],
        record["event_time"],
        record["event_utc_offset_minutes"],
        record["received_time"],
        record["processed_time"],
        record["late"],
        record["source"],
        record["carrier"],
        record["tracking_number"],
        record["raw_event_code"],
        record["raw_description"],
        record["event_status"],
        record["event_sub_status"],
        *_location(record["location"]),
        record["retracts_event_id"],
        record["shipment_status"],
        record["shipment_sub_status"],
        record["status_version"],
        record["order_id"],
        record["seller_id"],
        record["seller_verified"],
        record["sku"],
        record["gtin"],
        record["serial"],
        *_place(record["origin"]),
        *_place(record["destination"]),
        record["dispatched_at"],
        record["promised_ship_by"],
        record["promised_delivery"],
        record["first_scan_at"],
        partition,
        offset,
    )


STATE_COLUMNS = (
    "code",
    "version",
    "status",
    "sub_status",
    "previous_status",
    "previous_sub_status",
    "changed_at",
    "cause_event_id",
    "emitted_at",
    "carrier",
    "tracking_number",
    *_LOCATION,
    "order_id",
    "seller_id",
    "origin_country",
    "destination_country",
    "dispatched_at",
    "first_scan_at",
    "delivered_at",
    "promised_delivery",
    "suspected_clone",
    "kafka_partition",
    "kafka_offset",
)


def state_row(record: ShipmentStatusChanged, partition: int, offset: int) -> Row:
    """A ``shipment_state`` row."""
    return (
        record["code"],
        record["version"],
        record["status"],
        record["sub_status"],
        record["previous_status"],
        record["previous_sub_status"],
        record["changed_at"],
        record["cause_event_id"],
        record["emitted_at"],
        record["carrier"],
        record["tracking_number"],
        *_location(record["location"]),
        record["order_id"],
        record["seller_id"],
        record["origin_country"],
        record["destination_country"],
        record["dispatched_at"],
        record["first_scan_at"],
        record["delivered_at"],
        record["promised_delivery"],
        record["suspected_clone"],
        partition,
        offset,
    )


ALERT_COLUMNS = (
    "alert_id",
    "code",
    "kind",
    "rule",
    "severity",
    "detected_at",
    "emitted_at",
    "message",
    "evidence_event_ids",
    "evidence",
    "metrics",
    "kafka_partition",
    "kafka_offset",
)


def alert_row(record: ShipmentAlert, partition: int, offset: int) -> Row:
    """An ``alerts`` row."""
    evidence = record["evidence"]
    return (
        record["alert_id"],
        record["code"],
        record["kind"],
        record["rule"],
        record["severity"],
        record["detected_at"],
        record["emitted_at"],
        record["message"],
        [item["event_id"] for item in evidence],
        json.dumps(evidence, default=_json_time, separators=(",", ":")),
        record["metrics"],
        partition,
        offset,
    )


def _json_time(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in alert evidence")


def tables(topics: TopicNames) -> dict[str, Table]:
    """The table of each consumed topic."""
    return {
        topics.history: Table(
            "shipment_events",
            RecordType.SHIPMENT_HISTORY_RECORD,
            EVENT_COLUMNS,
            cast(Callable[[Any, int, int], Row], event_row),
        ),
        topics.status: Table(
            "shipment_state",
            RecordType.SHIPMENT_STATUS_CHANGED,
            STATE_COLUMNS,
            cast(Callable[[Any, int, int], Row], state_row),
        ),
        topics.alerts: Table(
            "alerts",
            RecordType.SHIPMENT_ALERT,
            ALERT_COLUMNS,
            cast(Callable[[Any, int, int], Row], alert_row),
        ),
    }
