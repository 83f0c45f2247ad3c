from __future__ import annotations

import contextlib
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from fastavro import schemaless_reader
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.codec import MARKER, Codec, codec_for
from schemas.errors import (
    BadMarkerError,
    CodecError,
    CorruptRecordError,
    InvalidRecordError,
    TruncatedRecordError,
    UnknownFingerprintError,
    WrongRecordTypeError,
)
from schemas.records import RecordType
from schemas.registry import SchemaRegistry, default_registry

from .samples import SAMPLES, make_releases
from .strategies import for_schema


@pytest.mark.parametrize("record_type", list(RecordType))
def test_round_trip_any_record(record_type: RecordType) -> None:
    codec = codec_for(record_type)

    @settings(max_examples=150, deadline=None)
    @given(for_schema(codec.schema))
    def round_trip(record: dict[str, Any]) -> None:
        data = codec.encode(record)
        assert data[:2] == MARKER
        assert data[2:10] == codec.fingerprint
        assert codec.decode(data) == record

    round_trip()


def test_codec_for_is_cached() -> None:
    assert codec_for(RecordType.CARRIER_SCAN) is codec_for(RecordType.CARRIER_SCAN)


def test_fingerprint_is_the_registry_current_one() -> None:
    for record_type in RecordType:
        current = default_registry().current(record_type)
        assert codec_for(record_type).fingerprint == current.fingerprint


def test_bad_marker_says_what_it_found() -> None:
    codec = codec_for(RecordType.CARRIER_SCAN)
    with pytest.raises(BadMarkerError, match="found 7b 22") as info:
        codec.decode(b'{"event_id": "x"}')
    assert info.value.found == b'{"'
    with pytest.raises(BadMarkerError, match="no bytes"):
        codec.decode(b"")


def test_unknown_fingerprint_shows_it_in_hex_and_counts_known() -> None:
    codec = codec_for(RecordType.CARRIER_SCAN)
    fp = bytes.fromhex("0102030405060708")
    with pytest.raises(UnknownFingerprintError, match="0102030405060708") as info:
        codec.decode(MARKER + fp + b"\x00" * 20)
    assert info.value.known == len(default_registry())
    assert f"none of the {len(default_registry())} released schemas" in str(info.value)


def test_record_of_another_type_is_named() -> None:
    data = codec_for(RecordType.DEAD_LETTER).encode(SAMPLES[RecordType.DEAD_LETTER]())
    with pytest.raises(WrongRecordTypeError, match=r"io\.tracecode\.DeadLetter") as info:
        codec_for(RecordType.CARRIER_SCAN).decode(data)
    assert info.value.expected == RecordType.CARRIER_SCAN.value


@pytest.mark.parametrize("record_type", list(RecordType))
def test_every_truncation_raises_a_typed_error(record_type: RecordType) -> None:
    codec = codec_for(record_type)
    data = codec.encode(SAMPLES[record_type]())
    for size in range(len(data)):
        with pytest.raises(CodecError) as info:
            codec.decode(data[:size])
        if size >= 2:
            assert isinstance(info.value, TruncatedRecordError), size
            assert info.value.missing >= 1
            assert info.value.size == size


def test_truncated_message_says_where_and_how_much() -> None:
    codec = codec_for(RecordType.CARRIER_SCAN)
    data = codec.encode(SAMPLES[RecordType.CARRIER_SCAN]())
    with pytest.raises(TruncatedRecordError, match=r"reading location\.latitude") as info:
        # The country string (length byte 04, "CN"), the latitude's union index, then 3 of the
        # double's 8 bytes.
        cut = data.index(b"\x04CN") + 3 + 1 + 3
        codec.decode(data[:cut])
    assert info.value.missing == 5
    with pytest.raises(TruncatedRecordError, match="10-byte header") as header:
        codec.decode(data[:6])
    assert header.value.missing == 4


def test_trailing_bytes_are_corruption() -> None:
    codec = codec_for(RecordType.CARRIER_SCAN)
    data = codec.encode(SAMPLES[RecordType.CARRIER_SCAN]())
    with pytest.raises(CorruptRecordError, match="trailing bytes"):
        codec.decode(data + b"\x00")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_body_raises_only_codec_errors(body: bytes) -> None:
    codec = codec_for(RecordType.SHIPMENT_ALERT)
    with contextlib.suppress(CodecError):  # any other exception fails the test
        codec.decode(MARKER + codec.fingerprint + body)


def test_garbage_enum_index_is_reported_as_corrupt() -> None:
    codec = codec_for(RecordType.DEAD_LETTER)
    record = SAMPLES[RecordType.DEAD_LETTER]()
    data = bytearray(codec.encode(record))
    # Break the first union index (timestamp: null or long) to a branch that does not exist.
    # Header, topic (length byte + text), partition 3 (1 varint byte), offset 1234567 (4 bytes).
    at = 10 + 1 + len(record["topic"]) + 1 + 4
    data[at] = 0x0A
    with pytest.raises(CorruptRecordError, match="branch index 5 out of range"):
        codec.decode(bytes(data))


@pytest.mark.parametrize(
    ("change", "field_name", "rule"),
    [
        ({"status": "ON_THE_MOON"}, "status", "avro-enum-symbol"),
        ({"unexpected": 1}, "unexpected", "avro-unknown-field"),
        ({"event_utc_offset_minutes": "480"}, "event_utc_offset_minutes", "avro-type"),
        ({"location": {"city": 3}}, "location.city", "avro-type"),
        ({"carrier": None}, "carrier", "avro-type"),
    ],
)
def test_encoding_an_invalid_record_names_the_field(
    change: dict[str, Any], field_name: str, rule: str
) -> None:
    record: dict[str, Any] = dict(SAMPLES[RecordType.CARRIER_SCAN]())
    for key, value in change.items():
        record[key] = {**record[key], **value} if isinstance(value, dict) else value
    with pytest.raises(InvalidRecordError) as info:
        codec_for(RecordType.CARRIER_SCAN).encode(record)
    assert (info.value.field, info.value.rule) == (field_name, rule)


def test_missing_field_without_default_is_invalid() -> None:
    record: dict[str, Any] = dict(SAMPLES[RecordType.CARRIER_SCAN]())
    del record["raw_event_code"]
    with pytest.raises(InvalidRecordError, match="raw_event_code") as info:
        codec_for(RecordType.CARRIER_SCAN).encode(record)
    assert info.value.rule == "avro-required"


def test_missing_field_with_default_takes_the_default() -> None:
    record: dict[str, Any] = dict(SAMPLES[RecordType.CARRIER_SCAN]())
    del record["retracts_event_id"]
    codec = codec_for(RecordType.CARRIER_SCAN)
    assert codec.decode(codec.encode(record))["retracts_event_id"] is None


def _evolved(tmp_path: Path) -> SchemaRegistry:
    def change(files: dict[str, dict[str, Any]]) -> None:
        scan = files["io.tracecode.CarrierScan"]
        scan["fields"].append(
            {"name": "weight_grams", "type": ["null", "int"], "default": None, "doc": "Weight."}
        )
        files["io.tracecode.EventSource"]["symbols"].insert(0, "DRONE")

    return SchemaRegistry(make_releases(tmp_path, change))


def test_old_writer_is_resolved_into_the_current_reader(tmp_path: Path) -> None:
    old = Codec(RecordType.CARRIER_SCAN, SchemaRegistry(make_releases(tmp_path / "old")))
    new = Codec(RecordType.CARRIER_SCAN, _evolved(tmp_path / "new"))
    record = SAMPLES[RecordType.CARRIER_SCAN]()
    assert old.fingerprint != new.fingerprint
    assert new.decode(old.encode(record)) == {**record, "weight_grams": None}


def test_unchanged_record_keeps_its_fingerprint_across_releases(tmp_path: Path) -> None:
    registry = _evolved(tmp_path)
    assert len(registry.versions(RecordType.SHIPMENT_ALERT)) == 1
    assert len(registry.versions(RecordType.CARRIER_SCAN)) == 2
    alerts = Codec(RecordType.SHIPMENT_ALERT, registry)
    assert alerts.fingerprint == codec_for(RecordType.SHIPMENT_ALERT).fingerprint


def test_new_enum_symbol_reads_as_the_enum_default_for_old_readers(tmp_path: Path) -> None:
    # What the evolution guard relies on: an old reader maps a symbol it does not know to the
    # enum's default instead of failing.
    registry = _evolved(tmp_path)
    new = Codec(RecordType.CARRIER_SCAN, registry)
    v1 = registry.versions(RecordType.CARRIER_SCAN)[0].schema
    record = {**SAMPLES[RecordType.CARRIER_SCAN](), "source": "DRONE", "weight_grams": 900}
    body = BytesIO(new.encode(record)[10:])
    assert schemaless_reader(body, new.schema, v1)["source"] == "UNKNOWN"
