"""Python shapes of the Avro records: one :class:`~typing.TypedDict` per Avro record type.

Records are plain dicts with the avsc field names. ``timestamp-millis`` fields are timezone-aware
UTC :class:`~datetime.datetime` values (fastavro converts both ways); enum fields are ``str``
values equal to the Avro symbols (``schemas.status.Status`` / ``SubStatus`` members are ``str``
too). A test keeps these classes and the current release's avsc files field-for-field equal.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, TypedDict


class RecordType(StrEnum):
    """The top-level record types that travel on Kafka; the value is the Avro full name."""

    CARRIER_SCAN = "io.tracecode.CarrierScan"
    SELLER_DISPATCH = "io.tracecode.SellerDispatch"
    SHIPMENT_STATUS_CHANGED = "io.tracecode.ShipmentStatusChanged"
    SHIPMENT_HISTORY_RECORD = "io.tracecode.ShipmentHistoryRecord"
    SHIPMENT_ALERT = "io.tracecode.ShipmentAlert"
    DEAD_LETTER = "io.tracecode.DeadLetter"
    SHIPMENT_STATE = "io.tracecode.ShipmentState"
    """The streams worker's table value (on its changelog topic); no component reads it."""

    @property
    def short_name(self) -> str:
        """The Avro name without namespace, e.g. ``CarrierScan``."""
        return self.value.rsplit(".", 1)[1]


class Location(TypedDict):
    """``io.tracecode.Location``: where a carrier scan happened."""

    facility_id: str | None
    city: str | None
    country: str | None
    latitude: float | None
    longitude: float | None


class Place(TypedDict):
    """``io.tracecode.Place``: origin or destination of a dispatch."""

    country: str
    city: str | None
    postal_prefix: str | None


class Product(TypedDict):
    """``io.tracecode.Product``: identity of the product in the parcel."""

    sku: str
    gtin: str | None
    serial: str | None
    digital_link: str | None


class CarrierScan(TypedDict):
    """``io.tracecode.CarrierScan``: one carrier tracking event."""

    event_id: str
    code: str
    carrier: str
    tracking_number: str | None
    raw_event_code: str
    raw_description: str
    status: str
    sub_status: str
    location: Location
    event_time: datetime
    event_utc_offset_minutes: int
    received_time: datetime
    source: str
    retracts_event_id: str | None


class SellerDispatch(TypedDict):
    """``io.tracecode.SellerDispatch``: a seller handing a parcel over for shipping."""

    event_id: str
    code: str
    order_id: str
    seller_id: str
    seller_verified: bool
    product: Product
    quantity: int
    dispatch_time: datetime
    dispatch_utc_offset_minutes: int
    promised_ship_by: datetime | None
    promised_delivery: datetime | None
    carrier: str | None
    tracking_number: str | None
    origin: Place
    destination: Place
    received_time: datetime
    source: str


class ShipmentStatusChanged(TypedDict):
    """``io.tracecode.ShipmentStatusChanged``: a shipment's status or sub-status changed."""

    code: str
    version: int
    status: str
    sub_status: str
    previous_status: str | None
    previous_sub_status: str | None
    changed_at: datetime
    cause_event_id: str | None
    emitted_at: datetime
    carrier: str | None
    tracking_number: str | None
    location: Location | None
    order_id: str | None
    seller_id: str | None
    origin_country: str | None
    destination_country: str | None
    dispatched_at: datetime | None
    first_scan_at: datetime | None
    delivered_at: datetime | None
    promised_delivery: datetime | None
    suspected_clone: bool


class ShipmentHistoryRecord(TypedDict):
    """``io.tracecode.ShipmentHistoryRecord``: one accepted event with its shipment context."""

    event_id: str
    code: str
    kind: str
    event_time: datetime
    event_utc_offset_minutes: int
    received_time: datetime
    processed_time: datetime
    late: bool
    source: str
    carrier: str | None
    tracking_number: str | None
    raw_event_code: str | None
    raw_description: str | None
    event_status: str | None
    event_sub_status: str | None
    location: Location | None
    retracts_event_id: str | None
    shipment_status: str
    shipment_sub_status: str
    status_version: int
    order_id: str | None
    seller_id: str | None
    seller_verified: bool | None
    sku: str | None
    gtin: str | None
    serial: str | None
    origin: Place | None
    destination: Place | None
    dispatched_at: datetime | None
    promised_ship_by: datetime | None
    promised_delivery: datetime | None
    first_scan_at: datetime | None


class AlertEvidence(TypedDict):
    """``io.tracecode.AlertEvidence``: one input event that supports an alert."""

    event_id: str
    kind: str
    event_time: datetime
    carrier: str | None
    tracking_number: str | None
    status: str | None
    sub_status: str | None
    location: Location | None


class ShipmentAlert(TypedDict):
    """``io.tracecode.ShipmentAlert``: something about a shipment needs attention."""

    alert_id: str
    code: str
    kind: str
    rule: str
    severity: str
    detected_at: datetime
    emitted_at: datetime
    message: str
    evidence: list[AlertEvidence]
    metrics: dict[str, float]


class KafkaHeader(TypedDict):
    """``io.tracecode.KafkaHeader``: one Kafka record header."""

    key: str
    value: bytes | None


class DeadLetter(TypedDict):
    """``io.tracecode.DeadLetter``: an input record that could not be decoded or validated."""

    topic: str
    partition: int
    offset: int
    timestamp: datetime | None
    key: bytes | None
    value: bytes | None
    headers: list[KafkaHeader]
    stage: str
    error_class: str
    error_message: str
    failed_at: datetime


class ScanFold(TypedDict):
    """``io.tracecode.ScanFold``: the fold of the scans a shipment state no longer keeps."""

    last_event_time: datetime
    last_event_id: str
    last_scan: CarrierScan
    sub_status: str | None
    first_scan_at: datetime
    delivered_at: datetime | None
    tracking_numbers: list[str]
    clone_rules: list[str]
    scan_count: int


class ShipmentState(TypedDict):
    """``io.tracecode.ShipmentState``: the streams worker's per-shipment state."""

    code: str
    dispatch: SellerDispatch | None
    dispatch_event_ids: list[str]
    scans: list[CarrierScan]
    evicted: ScanFold | None
    retracted_event_ids: list[str]
    status: str
    sub_status: str
    status_version: int
    carrier: str | None
    tracking_number: str | None
    location: Location | None
    first_scan_at: datetime | None
    last_scan_at: datetime | None
    delivered_at: datetime | None
    scan_count: int
    tracking_numbers: list[str]
    clone_rules: list[str]
    last_event_time: datetime | None
    expired_at: datetime | None
    alerted: list[str]
    updated_at: datetime


RECORD_CLASSES: dict[RecordType, type] = {
    RecordType.CARRIER_SCAN: CarrierScan,
    RecordType.SELLER_DISPATCH: SellerDispatch,
    RecordType.SHIPMENT_STATUS_CHANGED: ShipmentStatusChanged,
    RecordType.SHIPMENT_HISTORY_RECORD: ShipmentHistoryRecord,
    RecordType.SHIPMENT_ALERT: ShipmentAlert,
    RecordType.DEAD_LETTER: DeadLetter,
    RecordType.SHIPMENT_STATE: ShipmentState,
}
"""The TypedDict of each record type."""


def to_json(value: Any) -> Any:
    """A decoded record (or any value in one) in JSON types, ready for ``json.dumps``: times as
    ISO 8601 text, bytes as base64."""
    if isinstance(value, Mapping):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value
