"""The compiled Avro readers read what fastavro reads, and refuse what does not fit."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from fastavro import schemaless_reader, schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas._reader import compile_reader, read_long
from schemas.codec import codec_for
from schemas.errors import CodecError
from schemas.records import RecordType
from tests.unit.schemas.strategies import for_schema


def _fastavro_bytes(schema: Any, record: Any) -> bytes:
    out = BytesIO()
    schemaless_writer(out, schema, record)
    return out.getvalue()


@pytest.mark.parametrize("record_type", list(RecordType))
@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_a_compiled_reader_reads_every_record_as_fastavro_does(
    record_type: RecordType, data: st.DataObject
) -> None:
    schema = codec_for(record_type).schema
    record = data.draw(for_schema(schema))
    body = _fastavro_bytes(schema, record)
    prefix = data.draw(st.binary(max_size=3))  # a record need not start at byte 0
    read, end = compile_reader(schema)(prefix + body, len(prefix))
    assert end == len(prefix) + len(body)
    assert read == schemaless_reader(BytesIO(body), schema, None)


@pytest.mark.parametrize(
    "value",
    [0, 1, -1, 63, -64, 64, -65, 8191, 8192, 2**31, -(2**31), 2**62, 2**63 - 1, -(2**63)],
)
def test_longs_of_every_width_are_read(value: int) -> None:
    body = _fastavro_bytes("long", value)
    assert read_long(b"\x00" + body, 1) == (value, 1 + len(body))


def test_negative_block_counts_are_read_with_their_byte_sizes() -> None:
    """Avro lets a writer give a block's count negated, followed by its size in bytes."""
    schema = {
        "type": "record",
        "name": "io.tracecode.test.Blocks",
        "fields": [{"name": "ids", "type": {"type": "array", "items": "string"}}],
    }
    items = b"\x02a\x02b"
    body = b"\x03" + bytes([len(items) * 2]) + items + b"\x00"  # count -2, then 4 bytes
    assert compile_reader(schema)(body, 0) == ({"ids": ["a", "b"]}, len(body))


@pytest.mark.parametrize(
    ("mangle", "why"),
    [
        (lambda body: body[:-3], "truncated"),
        (lambda body: b"\xfe\x7f" + body[1:], "a string length past the end"),
        (lambda body: b"\x01" + body[1:], "a negative length"),
    ],
)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_bytes_that_do_not_fit_raise_and_the_codec_explains_them(
    mangle: Any, why: str, data: st.DataObject
) -> None:
    codec = codec_for(RecordType.CARRIER_SCAN)
    record = data.draw(for_schema(codec.schema))
    encoded = codec.encode(record)
    header, body = encoded[:10], encoded[10:]
    broken = mangle(body)
    with pytest.raises((IndexError, ValueError, UnicodeDecodeError)):
        _, end = compile_reader(codec.schema)(broken, 0)
        if end != len(broken):
            raise ValueError(f"{why}: ends at {end} of {len(broken)}")
    with pytest.raises(CodecError):
        codec.decode(header + broken)


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_trailing_bytes_are_not_taken_for_a_record(data: st.DataObject) -> None:
    codec = codec_for(RecordType.SHIPMENT_STATUS_CHANGED)
    encoded = codec.encode(data.draw(for_schema(codec.schema)))
    with pytest.raises(CodecError, match="trailing bytes"):
        codec.decode(encoded + b"\x00")
