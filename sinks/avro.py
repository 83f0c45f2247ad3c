"""Batches as Avro object container files, so ClickHouse decodes the records, not Python.

Kafka values are Avro single-object encoded: a 10-byte header (marker and the writer schema's
fingerprint) and the record's Avro body. A batch needs no decoding to be inserted: the sink
wraps each body in an *envelope* record that adds the Kafka partition and offset (two varints
in front of the body, which is all Avro's binary encoding of that record is), and writes the
envelopes as one block of an object container file whose header carries the envelope schema.
ClickHouse's ``Avro`` input format reads it into the ``*_avro`` staging tables, and their
materialized views map the fields to columns.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

MAGIC = b"Obj\x01"
_SYNC = os.urandom(16)
"""Sync marker of every container this process writes (any 16 bytes do)."""


def zigzag(value: int) -> bytes:
    """Avro's binary encoding of an ``int`` or ``long``."""
    n = (value << 1) ^ (value >> 63)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _avro_bytes(data: bytes) -> bytes:
    return zigzag(len(data)) + data


def envelope_schema(record_schema: str) -> str:
    """The envelope schema around ``record_schema`` (a JSON schema, e.g. a canonical form)."""
    return (
        '{"type":"record","name":"io.tracecode.sink.Envelope","fields":['
        '{"name":"kafka_partition","type":"int"},'
        '{"name":"kafka_offset","type":"long"},'
        f'{{"name":"value","type":{record_schema}}}]}}'
    )


def envelope(partition: int, offset: int, body: bytes) -> bytes:
    """One envelope record: the Kafka coordinates, then the record's Avro body."""
    return zigzag(partition) + zigzag(offset) + body


def container(schema: str, records: Sequence[bytes]) -> bytes:
    """An object container file holding ``records`` (encoded with ``schema``) in one block."""
    metadata = (
        zigzag(2)
        + _avro_bytes(b"avro.schema")
        + _avro_bytes(schema.encode())
        + _avro_bytes(b"avro.codec")
        + _avro_bytes(b"null")
        + zigzag(0)
    )
    data = b"".join(records)
    return MAGIC + metadata + _SYNC + zigzag(len(records)) + zigzag(len(data)) + data + _SYNC
