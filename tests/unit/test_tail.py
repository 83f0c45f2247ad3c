"""``tracecode tail``'s parts without a broker: topic names, decoding, the two output formats."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from schemas.codec import codec_for
from schemas.records import RecordType, to_json
from schemas.topics import TopicNames
from tests.unit.schemas.samples import CODE, SAMPLES
from tracecode.cli.tail import _SUMMARIES
from tracecode.tail import TailedTopic, UnknownTopicError, decode, resolve_topic

TOPICS = TopicNames().with_prefix("unit.")


@dataclass
class _Message:
    """What the tail reads of a confluent-kafka message."""

    _value: bytes | None
    _key: bytes | None = CODE.encode()
    _stamp: int = 1_764_000_000_123

    def topic(self) -> str:
        return TOPICS.status

    def partition(self) -> int:
        return 2

    def offset(self) -> int:
        return 17

    def timestamp(self) -> tuple[int, int]:
        return (1, self._stamp)

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value


def test_a_topic_is_named_short_or_in_full() -> None:
    assert resolve_topic("status", TOPICS) == TailedTopic(
        TOPICS.status, RecordType.SHIPMENT_STATUS_CHANGED
    )
    assert resolve_topic(TOPICS.dead_letters, TOPICS).record_type is RecordType.DEAD_LETTER
    with pytest.raises(UnknownTopicError, match=r"one of: scans \(unit\.tracecode"):
        resolve_topic("shipments-changelog", TOPICS)


@pytest.mark.parametrize("record_type", list(_SUMMARIES), ids=lambda t: t.short_name)
def test_every_topic_s_records_decode_to_json_and_a_summary_line(record_type: RecordType) -> None:
    sample = SAMPLES[record_type]()
    tailed = TailedTopic("unit.topic", record_type)
    record = decode(tailed, _Message(codec_for(record_type).encode(sample)))
    assert record.error is None
    assert record.value == sample
    assert (record.partition, record.offset, record.key) == (2, 17, CODE)
    assert record.timestamp == datetime(2025, 11, 24, 16, 0, 0, 123000, tzinfo=UTC)
    line = json.loads(json.dumps(record.to_json()))
    assert line["value"] == to_json(sample)
    assert _SUMMARIES[record_type](sample)


def test_a_value_that_does_not_decode_is_shown_with_the_reason() -> None:
    tailed = TailedTopic(TOPICS.status, RecordType.SHIPMENT_STATUS_CHANGED)
    record = decode(tailed, _Message(b"not avro", _key=None, _stamp=-1))
    assert record.value is None
    assert record.error and "not an Avro single-object record" in record.error
    assert (record.key, record.timestamp) == (None, None)
    assert record.to_json()["error"] == record.error


def test_json_values_carry_times_as_iso_and_bytes_as_base64() -> None:
    when = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)
    assert to_json({"at": when, "raw": b"\x00\xff", "list": [when]}) == {
        "at": "2026-12-04T21:00:00+00:00",
        "raw": base64.b64encode(b"\x00\xff").decode(),
        "list": ["2026-12-04T21:00:00+00:00"],
    }
