"""The Avro container the sink builds, read back by fastavro (an independent reader)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import fastavro

from schemas.codec import RecordType, codec_for
from schemas.registry import default_registry
from sinks.avro import container, envelope, envelope_schema, zigzag
from tests import sinkdata


def test_zigzag_matches_the_avro_spec() -> None:
    assert [zigzag(n) for n in (0, -1, 1, -2, 2, 64)] == [
        b"\x00",
        b"\x01",
        b"\x02",
        b"\x03",
        b"\x04",
        b"\x80\x01",
    ]
    assert zigzag(2**40) == fastavro_long(2**40)


def fastavro_long(value: int) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, {"type": "long"}, value)
    return out.getvalue()


def test_container_of_envelopes_reads_back_as_the_records() -> None:
    scenario = sinkdata.build(delivered=2)
    codec = codec_for(RecordType.SHIPMENT_STATUS_CHANGED)
    schema = envelope_schema(
        default_registry().current(RecordType.SHIPMENT_STATUS_CHANGED).canonical_form
    )
    bodies = [envelope(5, 1000 + i, codec.encode(r)[10:]) for i, r in enumerate(scenario.status)]
    read = list(fastavro.reader(io.BytesIO(container(schema, bodies))))
    assert [(r["kafka_partition"], r["kafka_offset"]) for r in read] == [
        (5, 1000 + i) for i in range(len(scenario.status))
    ]
    first = read[0]["value"]
    expected = scenario.status[0]
    assert first["code"] == expected["code"] and first["version"] == expected["version"]
    # The canonical form carries no logical types: timestamps travel as epoch milliseconds.
    assert datetime.fromtimestamp(first["changed_at"] / 1000, UTC) == expected["changed_at"]
