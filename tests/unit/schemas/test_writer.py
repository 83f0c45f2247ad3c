"""The compiled Avro writers write what fastavro writes, and refuse what fastavro refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

import pytest
from fastavro import schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas._writer import _varint, compile_writer
from schemas.codec import codec_for
from schemas.errors import InvalidRecordError
from schemas.records import RecordType
from tests.unit.schemas.strategies import for_schema


def _fastavro(schema: Any, record: Any, strict: bool = True) -> bytes:
    out = BytesIO()
    schemaless_writer(out, schema, record, strict_allow_default=strict)
    return out.getvalue()


def _as_millis(value: Any) -> Any:
    """``value`` with every datetime as the int of milliseconds fastavro also accepts."""
    if isinstance(value, datetime):
        return (value - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    if isinstance(value, dict):
        return {key: _as_millis(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_millis(item) for item in value]
    return value


@pytest.mark.parametrize("record_type", list(RecordType))
@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_the_compiled_code_writes_every_record_as_fastavro_does(
    record_type: RecordType, data: st.DataObject
) -> None:
    schema = codec_for(record_type).schema
    record = data.draw(for_schema(schema))
    writer = compile_writer(schema)
    assert writer.compiled(record) == _fastavro(schema, record)
    # Timestamps given as ints of milliseconds are written as they are, as fastavro does.
    as_ints = _as_millis(record)
    assert writer.compiled(as_ints) == _fastavro(schema, as_ints)


@pytest.mark.parametrize("bits", range(0, 64, 7))
def test_longs_of_every_width_are_written_as_fastavro_writes_them(bits: int) -> None:
    for value in {2**bits - 1, 2**bits, -(2**bits), -(2**bits) - 1, 2**63 - 1, -(2**63)}:
        if -(2**63) <= value < 2**63:
            assert _varint(value) == _fastavro("long", value)


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 2**80])
def test_a_long_out_of_range_is_refused(value: int) -> None:
    with pytest.raises(OverflowError):
        _varint(value)


def _scan() -> dict[str, Any]:
    codec = codec_for(RecordType.CARRIER_SCAN)
    return dict(for_schema(codec.schema).example())


@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"unknown_field": 1}, "a field the schema does not have"),
        ({"status": "TELEPORTED"}, "an enum symbol the schema does not have"),
        ({"event_time": 2**70}, "a long out of range"),
        ({"event_id": None}, "None for a string"),
        ({"location": "Shenzhen"}, "a string for a record"),
    ],
)
def test_what_fastavro_refuses_the_compiled_code_refuses_and_the_codec_explains(
    change: dict[str, Any], why: str
) -> None:
    codec = codec_for(RecordType.CARRIER_SCAN)
    record = {**_scan(), **change}
    writer = compile_writer(codec.schema)
    with pytest.raises(Exception):  # noqa: B017 - any exception sends it to fastavro
        writer.compiled(record)
    with pytest.raises(InvalidRecordError):
        codec.encode(record)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
def test_a_missing_field_without_default_is_refused() -> None:
    record = _scan()
    del record["carrier"]
    with pytest.raises(KeyError):
        compile_writer(codec_for(RecordType.CARRIER_SCAN).schema).compiled(record)
    with pytest.raises(InvalidRecordError):
        codec_for(RecordType.CARRIER_SCAN).encode(record)


def test_what_only_fastavro_accepts_is_written_by_fastavro() -> None:
    """A bytearray for a bytes field is refused by the compiled code; the writer hands it to
    fastavro and writes its bytes."""
    schema = codec_for(RecordType.DEAD_LETTER).schema
    letter = {
        "topic": "scans",
        "partition": 0,
        "offset": 7,
        "timestamp": None,
        "key": bytearray(b"TC1"),
        "value": None,
        "headers": [],
        "stage": "decode",
        "error_class": "BadMarkerError",
        "error_message": "not an Avro record",
        "failed_at": datetime(2026, 11, 1, tzinfo=UTC),
    }
    writer = compile_writer(schema)
    with pytest.raises(TypeError):
        writer.compiled(letter)
    assert writer(letter) == _fastavro(schema, letter)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
def test_a_writer_that_is_not_strict_writes_part_of_a_wider_record() -> None:
    schema = codec_for(RecordType.CARRIER_SCAN).schema
    record = {**_scan(), "extra": "ignored"}
    writer = compile_writer(schema, strict=False)
    assert writer.compiled(record) == _fastavro(schema, record, strict=False)
