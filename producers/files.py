"""Events in files: JSON lines (scans and dispatches) and CSV (dispatches).

A JSON line is one object with the record's fields (``schemas.records``, the Avro field names,
nested objects for ``location``, ``product``, ``origin`` and ``destination``), optionally a
``"kind"`` (``"scan"`` or ``"dispatch"``): exactly what ``tracecode simulate --dry-run`` writes,
so its output can be replayed. Lines of the other kind are skipped and counted, so one mixed
file can be replayed with one command per kind. The CSV columns are :data:`CSV_COLUMNS`.

Reading is forgiving where the meaning is clear (docs/ingest.md has the full list):

- timestamps are ISO-8601 text with a UTC offset (``2026-11-02T14:05:00+01:00``,
  ``...Z``) or integers of epoch milliseconds; text without an offset is rejected;
- ``code`` may be any accepted form (``schemas.codes``): it is stored in canonical form;
- ``event_id`` may be left out: it is then derived from the event's content, so replaying the
  same file again yields the same ids (which the join ignores as duplicates);
- ``received_time`` defaults to the time the line is read, ``source`` to ``FILE``;
- scans: ``status`` follows from ``sub_status`` (or the default sub-status from ``status``),
  ``event_utc_offset_minutes`` from the offset written in ``event_time``;
- dispatches: ``dispatch_utc_offset_minutes`` follows from ``dispatch_time`` likewise, and a
  GS1 code fills in the product's GTIN, serial and Digital Link when they are missing.

Everything else must be there and well-formed; the record then goes through the same encoding
and validation as every other event (:func:`producers.events.encode_event`).
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TextIO, cast

from producers.events import EventKind, InputRecord
from schemas.codec import codec_for
from schemas.codes import CodeKind, parse_code
from schemas.errors import InvalidCodeError, InvalidRecordError
from schemas.status import DEFAULT_SUB_STATUS, STATUS_OF, Status, SubStatus

DEFAULT_SOURCE = "FILE"

TIMESTAMP_FIELDS: dict[EventKind, tuple[str, ...]] = {
    EventKind.SCAN: ("event_time", "received_time"),
    EventKind.DISPATCH: ("dispatch_time", "promised_ship_by", "promised_delivery", "received_time"),
}

CSV_COLUMNS: dict[str, str] = {
    "event_id": "event id (optional: derived from the content)",
    "code": "traceability code, any accepted form (required)",
    "order_id": "marketplace order id (required)",
    "seller_id": "marketplace seller id (required)",
    "seller_verified": "true/false, yes/no or 1/0 (default false)",
    "sku": "seller's SKU (required)",
    "gtin": "GTIN of the product",
    "serial": "serial number of the item (GS1 AI 21)",
    "digital_link": "GS1 Digital Link URI of the item",
    "quantity": "units in the parcel (default 1)",
    "dispatch_time": "when the seller dispatched, ISO-8601 with offset (required)",
    "dispatch_utc_offset_minutes": "seller's UTC offset (default: from dispatch_time)",
    "promised_ship_by": "promised first carrier scan, ISO-8601",
    "promised_delivery": "promised delivery, ISO-8601",
    "carrier": "carrier slug, when known",
    "tracking_number": "tracking number, when known",
    "origin_country": "ISO 3166-1 alpha-2 (required)",
    "origin_city": "origin city",
    "origin_postal_prefix": "origin postal code prefix",
    "destination_country": "ISO 3166-1 alpha-2 (required)",
    "destination_city": "destination city",
    "destination_postal_prefix": "destination postal code prefix",
    "received_time": "when tracecode received it (default: when read)",
    "source": "EventSource symbol (default FILE)",
}
"""The dispatch CSV columns (header row required, any order, unknown columns rejected)."""

CSV_REQUIRED = (
    "code",
    "order_id",
    "seller_id",
    "sku",
    "dispatch_time",
    "origin_country",
    "destination_country",
)

_ID_NAMESPACE = uuid.UUID("8f6d3c1e-5b0a-4f4e-9a57-2c1d6b1e7a10")
"""Namespace of the event ids derived from content (UUID version 5)."""


class InputFormat(StrEnum):
    """How a file holds its events."""

    JSONL = "jsonl"
    CSV = "csv"


@dataclass(frozen=True, slots=True)
class ParsedLine:
    """A line that holds an event of the expected kind."""

    line: int
    record: InputRecord


@dataclass(frozen=True, slots=True)
class LineError:
    """A line that cannot be published, and why."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class OtherKind:
    """A line holding an event of the other kind (skipped)."""

    line: int


FileItem = ParsedLine | LineError | OtherKind


class BadLine(ValueError):
    """What is wrong with one line (its reason)."""


def read_events(
    stream: TextIO,
    kind: EventKind,
    fmt: InputFormat = InputFormat.JSONL,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Iterator[FileItem]:
    """Each non-blank line of ``stream`` as a record of ``kind``, an error or a skip."""
    if fmt is InputFormat.CSV:
        if kind is not EventKind.DISPATCH:
            raise ValueError("CSV holds dispatches only; scans come as JSON lines")
        yield from _read_csv(stream, clock)
        return
    for number, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            yield LineError(number, f"not valid JSON: {error.msg} at column {error.colno}")
            continue
        yield _item(number, value, kind, clock)


def _item(number: int, value: Any, kind: EventKind, clock: Callable[[], datetime]) -> FileItem:
    if not isinstance(value, dict):
        return LineError(number, f"expected a JSON object, found {type(value).__name__}")
    line_kind = value.pop("kind", None)
    if line_kind is not None and line_kind != kind.value:
        if line_kind in {k.value for k in EventKind}:
            return OtherKind(number)
        return LineError(number, f"unknown kind {line_kind!r}: expected 'scan' or 'dispatch'")
    try:
        return ParsedLine(number, to_record(value, kind, clock()))
    except BadLine as error:
        return LineError(number, str(error))


def to_record(fields: dict[str, Any], kind: EventKind, received: datetime) -> InputRecord:
    """The record ``fields`` describe, with the defaults above filled in (raises ``BadLine``)."""
    record = dict(fields)
    offsets: dict[str, int] = {}
    for name in TIMESTAMP_FIELDS[kind]:
        if record.get(name) is not None:
            record[name], offsets[name] = parse_timestamp(record[name], name)
    if "code" not in record:
        raise BadLine("missing field 'code'")
    if not isinstance(record["code"], str):
        raise BadLine(f"field 'code' must be text, found {type(record['code']).__name__}")
    try:
        code = parse_code(record["code"])
    except InvalidCodeError as error:
        raise BadLine(f"bad code {record['code']!r}: {error.rule}: {error.detail}") from None
    if kind is EventKind.SCAN:
        _scan_defaults(record, offsets)
    else:
        _dispatch_defaults(record, offsets, code.kind, record["code"])
    record["code"] = code.canonical
    record.setdefault("source", DEFAULT_SOURCE)
    if "event_id" not in record:
        record["event_id"] = content_event_id(kind, record)
    record.setdefault(
        "received_time", received.replace(microsecond=received.microsecond // 1000 * 1000)
    )
    # The round trip checks the record against its schema and fills in the defaults (null for
    # the optional fields left out): the record becomes exactly what consumers will read.
    codec = codec_for(kind.record_type)
    try:
        return cast(InputRecord, codec.decode(codec.encode(cast(Any, record))))
    except InvalidRecordError as error:
        raise BadLine(describe_invalid(error)) from None


def describe_invalid(error: InvalidRecordError) -> str:
    """The reason a record is invalid, for a person reading a line report."""
    if error.rule == "avro-required":
        return f"missing field {error.field!r}"
    if error.rule == "avro-unknown-field":
        return f"unknown field {error.field!r}"
    return f"field {error.field!r}: {error.rule}: {error.detail}"


def parse_timestamp(value: Any, name: str) -> tuple[datetime, int]:
    """A UTC datetime (millisecond precision) and the UTC offset in minutes it was written in."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            moment = datetime.fromtimestamp(value / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            raise BadLine(f"bad timestamp in {name!r}: {value} ms is out of range") from None
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise BadLine(f"bad timestamp in {name!r}: {value!r} is not ISO-8601") from None
    else:
        raise BadLine(
            f"bad timestamp in {name!r}: expected ISO-8601 text or epoch milliseconds, "
            f"found {type(value).__name__}"
        )
    offset = moment.utcoffset()
    if offset is None:
        raise BadLine(f"bad timestamp in {name!r}: {value!r} has no UTC offset (add Z or +hh:mm)")
    utc = moment.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000), int(
        offset.total_seconds() // 60
    )


def content_event_id(kind: EventKind, record: dict[str, Any]) -> str:
    """A stable id for an event given without one: a UUID of its content (not of when or how
    it was received), so the same event read twice gets the same id."""
    content = {k: v for k, v in record.items() if k not in ("received_time", "source")}
    text = json.dumps(content, sort_keys=True, default=_json_default, ensure_ascii=False)
    return str(uuid.uuid5(_ID_NAMESPACE, f"{kind.value}:{text}"))


def _scan_defaults(record: dict[str, Any], offsets: dict[str, int]) -> None:
    sub, status = record.get("sub_status"), record.get("status")
    for name, value, known in (("sub_status", sub, SubStatus), ("status", status, Status)):
        if value is not None and value not in known.__members__:
            raise BadLine(f"field {name!r}: {value!r} is not one of {', '.join(known)}")
    if sub is None and status is not None:
        record["sub_status"] = DEFAULT_SUB_STATUS[Status(status)].value
    elif status is None and sub is not None:
        record["status"] = STATUS_OF[SubStatus(sub)].value
    if "event_utc_offset_minutes" not in record and "event_time" in offsets:
        record["event_utc_offset_minutes"] = offsets["event_time"]


def _dispatch_defaults(
    record: dict[str, Any], offsets: dict[str, int], code_kind: CodeKind, text: str
) -> None:
    if "dispatch_utc_offset_minutes" not in record and "dispatch_time" in offsets:
        record["dispatch_utc_offset_minutes"] = offsets["dispatch_time"]
    product = record.get("product")
    if code_kind is CodeKind.SGTIN and isinstance(product, dict):
        code = parse_code(text)
        product.setdefault("gtin", code.gtin)
        product.setdefault("serial", code.serial)
        if text.strip().lower().startswith("http"):
            product.setdefault("digital_link", text.strip())


def _read_csv(stream: TextIO, clock: Callable[[], datetime]) -> Iterator[FileItem]:
    reader = csv.DictReader(stream)
    header = reader.fieldnames or []
    unknown = [name for name in header if name not in CSV_COLUMNS]
    missing = [name for name in CSV_REQUIRED if name not in header]
    if unknown or missing or not header:
        problems = []
        if unknown:
            problems.append(f"unknown column(s) {', '.join(unknown)}")
        if missing:
            problems.append(f"missing column(s) {', '.join(missing)}")
        yield LineError(1, "bad header: " + "; ".join(problems or ["no header row"]))
        return
    start = reader.line_num + 1
    for row in reader:
        try:
            fields = _csv_fields(row)
            yield ParsedLine(start, to_record(fields, EventKind.DISPATCH, clock()))
        except BadLine as error:
            yield LineError(start, str(error))
        start = reader.line_num + 1


def _csv_fields(row: dict[str | Any, str | Any]) -> dict[str, Any]:
    if None in row:
        raise BadLine(f"{len(row[None])} more value(s) than columns")
    cells = {name: value.strip() for name, value in row.items() if value not in (None, "")}
    fields: dict[str, Any] = {
        name: cells[name]
        for name in (
            "event_id",
            "code",
            "order_id",
            "seller_id",
            "dispatch_time",
            "promised_ship_by",
            "promised_delivery",
            "carrier",
            "tracking_number",
            "received_time",
            "source",
        )
        if name in cells
    }
    fields["seller_verified"] = _boolean(cells.get("seller_verified", "false"), "seller_verified")
    fields["quantity"] = _whole(cells.get("quantity", "1"), "quantity")
    if "dispatch_utc_offset_minutes" in cells:
        fields["dispatch_utc_offset_minutes"] = _whole(
            cells["dispatch_utc_offset_minutes"], "dispatch_utc_offset_minutes"
        )
    fields["product"] = {
        "sku": cells.get("sku"),
        **{name: cells[name] for name in ("gtin", "serial", "digital_link") if name in cells},
    }
    for place in ("origin", "destination"):
        fields[place] = {
            "country": cells.get(f"{place}_country"),
            "city": cells.get(f"{place}_city"),
            "postal_prefix": cells.get(f"{place}_postal_prefix"),
        }
    return fields


def _boolean(text: str, column: str) -> bool:
    value = text.lower()
    if value in ("true", "yes", "1"):
        return True
    if value in ("false", "no", "0"):
        return False
    raise BadLine(f"bad value in column {column!r}: {text!r} is not true/false")


def _whole(text: str, column: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise BadLine(f"bad value in column {column!r}: {text!r} is not a whole number") from None


def to_json_line(kind: EventKind, record: InputRecord) -> str:
    """One event as a JSON line (no newline): ``kind`` first, datetimes as ISO-8601 UTC."""
    return json.dumps({"kind": kind.value, **record}, default=_json_default, ensure_ascii=False)


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
