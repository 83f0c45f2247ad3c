"""Reading events from files: the simulator's JSON lines round-trip, and every bad line is
reported with its number and reason."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from producers.events import EventKind, InputRecord, encode_event
from producers.files import (
    CSV_COLUMNS,
    InputFormat,
    LineError,
    OtherKind,
    ParsedLine,
    read_events,
    to_json_line,
)
from producers.replay import replay
from producers.simulator import SimulationConfig, simulate

READ_AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
SCAN = {
    "code": "tc-0000 0000 0001 l",
    "carrier": "cainiao",
    "raw_event_code": "SC_INBOUND_SUCCESS",
    "raw_description": "Arrived at sorting center",
    "sub_status": "ARRIVED_AT_FACILITY",
    "location": {"city": "Guangzhou", "country": "CN", "latitude": 23.13, "longitude": 113.26},
    "event_time": "2026-10-30T14:05:00+08:00",
}


def read(
    text: str, kind: EventKind = EventKind.SCAN, fmt: InputFormat = InputFormat.JSONL
) -> list[object]:
    return list(read_events(io.StringIO(text), kind, fmt, clock=lambda: READ_AT))


def check(kind: EventKind) -> object:
    return lambda record: encode_event(kind, record)


def lines(*objects: object) -> str:
    return "".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objects)


def test_dry_run_output_reads_back_as_the_same_records() -> None:
    sim = simulate(SimulationConfig(40, datetime(2026, 11, 1, tzinfo=UTC), seed=2))
    events = list(sim.events())
    text = "".join(to_json_line(e.kind, e.record) + "\n" for e in events)
    for kind in EventKind:
        items = read(text, kind)
        records = [i.record for i in items if isinstance(i, ParsedLine)]
        assert records == [e.record for e in events if e.kind is kind]
        assert sum(isinstance(i, OtherKind) for i in items) == sum(
            e.kind is not kind for e in events
        )


def test_a_minimal_scan_gets_canonical_code_defaults_and_a_stable_id() -> None:
    (item,) = read(lines(SCAN))
    assert isinstance(item, ParsedLine)
    record = item.record
    assert record["code"] == "TC000000000001L"
    assert record["status"] == "IN_TRANSIT"
    assert record["event_time"] == datetime(2026, 10, 30, 6, 5, tzinfo=UTC)
    assert record["event_utc_offset_minutes"] == 480
    assert record["received_time"] == READ_AT
    assert record["source"] == "FILE"
    assert record["tracking_number"] is None
    (again,) = read(lines({**SCAN, "code": "TC000000000001L"}))
    assert isinstance(again, ParsedLine)
    assert again.record["event_id"] == record["event_id"]
    (other,) = read(lines({**SCAN, "raw_event_code": "SC_OUTBOUND_SUCCESS"}))
    assert isinstance(other, ParsedLine)
    assert other.record["event_id"] != record["event_id"]
    encode_event(EventKind.SCAN, record)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"code": "TC000000000001L",', "not valid JSON"),
        ("[1, 2]", "expected a JSON object, found list"),
        ({k: v for k, v in SCAN.items() if k != "carrier"}, "missing field 'carrier'"),
        ({k: v for k, v in SCAN.items() if k != "code"}, "missing field 'code'"),
        ({**SCAN, "code": "TC000000000001X"}, "bad code 'TC000000000001X': marketplace-check"),
        ({**SCAN, "code": "https://id.gs1.org/01/09506000134353/21/A1"}, "gtin-check-digit"),
        ({**SCAN, "event_time": "2026-10-30 14:05"}, "has no UTC offset"),
        ({**SCAN, "event_time": "yesterday"}, "bad timestamp in 'event_time'"),
        ({**SCAN, "event_time": True}, "bad timestamp in 'event_time'"),
        ({**SCAN, "evnt_time": "2026-10-30T14:05:00Z"}, "unknown field 'evnt_time'"),
        ({**SCAN, "sub_status": "TELEPORTED"}, "field 'sub_status': 'TELEPORTED' is not one of"),
        ({**SCAN, "location": {"country": "Spain"}}, "field 'location.country'"),
        ({**SCAN, "kind": "return"}, "unknown kind 'return'"),
    ],
)
def test_bad_lines_are_reported_with_their_number(line: object, reason: str) -> None:
    text = lines(SCAN, "", line, {**SCAN, "raw_event_code": "X2"})
    sent: list[InputRecord] = []

    def send(record: InputRecord) -> None:
        encode_event(EventKind.SCAN, record)
        sent.append(record)

    report = replay(read(text), send)
    assert report.published == 2 == len(sent)
    (error,) = report.rejected
    assert error.line == 3
    assert reason in error.reason
    assert str(error).startswith("line 3: ")


def test_strict_stops_at_the_first_bad_line() -> None:
    text = lines(SCAN, "not json", {**SCAN, "raw_event_code": "X2"}, "[]")
    sent: list[InputRecord] = []
    report = replay(read(text), sent.append, strict=True)
    assert report.published == 1 == len(sent)
    assert report.stopped_at == 2
    assert [e.line for e in report.rejected] == [2]
    assert not report.ok


def test_lines_of_the_other_kind_are_skipped_not_rejected() -> None:
    report = replay(
        read(lines(SCAN, {"kind": "dispatch"}, {**SCAN, "kind": "scan"})), check(EventKind.SCAN)
    )
    assert (report.published, report.other_kind, report.ok) == (2, 1, True)


CSV_HEADER = (
    "code,order_id,seller_id,seller_verified,sku,quantity,dispatch_time,origin_country,"
    "destination_country,destination_city\n"
)


def test_csv_dispatches_fill_gs1_product_fields_from_the_code() -> None:
    text = CSV_HEADER + (
        "https://example.com/01/09506000134352/21/ABC1?x=1,8001,S1,yes,SKU-1,2,"
        "2026-10-30T09:00:00+08:00,CN,ES,Madrid\n"
    )
    (item,) = read(text, EventKind.DISPATCH, InputFormat.CSV)
    assert isinstance(item, ParsedLine)
    record = item.record
    assert record["code"] == "(01)09506000134352(21)ABC1"
    assert record["product"] == {  # type: ignore[typeddict-item]
        "sku": "SKU-1",
        "gtin": "09506000134352",
        "serial": "ABC1",
        "digital_link": "https://example.com/01/09506000134352/21/ABC1?x=1",
    }
    assert record["seller_verified"] is True  # type: ignore[typeddict-item]
    assert record["quantity"] == 2  # type: ignore[typeddict-item]
    assert record["dispatch_utc_offset_minutes"] == 480  # type: ignore[typeddict-item]
    assert record["destination"] == {"country": "ES", "city": "Madrid", "postal_prefix": None}  # type: ignore[typeddict-item]
    encode_event(EventKind.DISPATCH, record)


def test_csv_bad_rows_are_reported_by_their_line() -> None:
    good = "TC000000000001L,8001,S1,no,SKU-1,1,2026-10-30T09:00:00Z,CN,ES,\n"
    text = (
        CSV_HEADER
        + good
        + good.replace(",1,", ",one,")
        + good.replace("CN", "XX")
        + good
        + "TC000000000001L\n"
    )
    report = replay(read(text, EventKind.DISPATCH, InputFormat.CSV), check(EventKind.DISPATCH))
    assert report.published == 2
    assert [(e.line, e.reason.split(":")[0]) for e in report.rejected] == [
        (3, "bad value in column 'quantity'"),
        (4, "field 'origin.country'"),
        (6, "missing field 'order_id'"),
    ]


def test_csv_header_problems_reject_the_file() -> None:
    (error,) = read("code,order_id,colour\n1,2,3\n", EventKind.DISPATCH, InputFormat.CSV)
    assert isinstance(error, LineError) and error.line == 1
    assert "unknown column(s) colour" in error.reason
    assert "missing column(s) seller_id" in error.reason


def test_csv_columns_are_documented() -> None:
    text = (Path(__file__).parents[3] / "docs" / "ingest.md").read_text(encoding="utf-8")
    for column in CSV_COLUMNS:
        assert f"`{column}`" in text, column
