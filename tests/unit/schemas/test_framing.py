"""Confluent Schema Registry framing: registration, writing, reading both framings.

The registry is confluent-kafka's in-process mock (no registry server can be installed here);
the reader that proves the records are standard is confluent-kafka's own AvroDeserializer.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry._sync.mock_schema_registry_client import (
    MockSchemaRegistryClient,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from schemas.codec import MARKER, codec_for
from schemas.errors import BadMarkerError, CodecError, TruncatedRecordError
from schemas.framing import (
    COMPATIBILITY,
    Framing,
    SchemaNotRegisteredError,
    SchemaRegistryConnection,
    SchemaRegistryRequestError,
    UnknownSchemaIdError,
    avro_topics,
    schema_json,
    subject_of,
)
from schemas.records import RecordType
from schemas.registry import default_registry
from schemas.topics import CARRIED, TopicNames

from .samples import SAMPLES

TOPICS = TopicNames().with_prefix("unit.")
MOCK = SchemaRegistryConnection("mock://unit")


def framing() -> Framing:
    return Framing(MOCK, TOPICS)


def test_every_avro_topic_gets_every_release_under_its_topic_named_subject() -> None:
    registered = framing().register()  # the mock was filled at start: nothing new
    assert registered and not any(version.newly_registered for version in registered)
    registry = default_registry()
    expected = [
        (subject_of(topic), version.release)
        for topic, record_type in avro_topics(TOPICS).items()
        for version in registry.versions(record_type)
    ]
    assert [(version.subject, version.release) for version in registered] == expected
    assert subject_of(TOPICS.status) == "unit.tracecode.shipment-status.v1-value"
    assert TOPICS.webhook_subscriptions not in avro_topics(TOPICS)  # JSON, not Avro


def test_two_processes_on_a_mock_registry_agree_on_the_ids() -> None:
    first, second = framing().output([TOPICS.status]), framing().output([TOPICS.status])
    assert first.schema_id(TOPICS.status) == second.schema_id(TOPICS.status) is not None


class RecordingClient(MockSchemaRegistryClient):
    """The mock, remembering the compatibility levels set (the mock itself keeps none)."""

    def __init__(self) -> None:
        super().__init__({"url": "mock://recording"})
        self.levels: dict[str, str] = {}
        self.calls: list[str] = []

    def set_compatibility(self, subject_name: str | None = None, level: str | None = None) -> str:
        assert subject_name is not None and level is not None
        self.levels[subject_name] = level
        self.calls.append(f"compatibility {subject_name}")
        return level

    def register_schema(
        self, subject_name: str, schema: Any, normalize_schemas: bool = False
    ) -> int:
        self.calls.append(f"register {subject_name}")
        return super().register_schema(subject_name, schema, normalize_schemas)


def test_a_real_registry_gets_full_transitive_before_the_first_schema_of_a_subject() -> None:
    client = RecordingClient()
    real = SchemaRegistryConnection("http://registry.invalid:8081")
    first = Framing(real, TOPICS, client=client).register()
    assert all(version.newly_registered for version in first)
    subjects = {subject_of(topic) for topic in avro_topics(TOPICS)}
    assert client.levels == dict.fromkeys(subjects, COMPATIBILITY)
    for subject in subjects:
        calls = [call for call in client.calls if call.endswith(subject)]
        assert calls[0] == f"compatibility {subject}", calls
    again = Framing(real, TOPICS, client=client).register()
    assert [v.schema_id for v in again] == [v.schema_id for v in first]
    assert not any(version.newly_registered for version in again)


@pytest.mark.parametrize(("name", "record_type"), CARRIED.items())
def test_framed_records_are_read_by_confluents_deserializer_and_by_ours(
    name: str, record_type: RecordType
) -> None:
    topic = getattr(TOPICS, name)
    frame = framing()
    codec = codec_for(record_type)
    record = SAMPLES[record_type]()
    single = codec.encode(record)
    framed = frame.output([topic]).frame(topic, single)
    schema_id = frame.output([topic]).schema_id(topic)
    assert framed[:1] == b"\x00" and int.from_bytes(framed[1:5], "big") == schema_id
    assert framed[5:] == single[10:]  # the same body: no re-encoding
    theirs = AvroDeserializer(frame.client)(framed, SerializationContext(topic, MessageField.VALUE))
    assert theirs == codec.decode(single)
    assert codec.decode(frame.single_object(framed)) == codec.decode(single)


def test_single_object_records_pass_unchanged_so_a_topic_can_hold_both() -> None:
    single = codec_for(RecordType.SHIPMENT_STATUS_CHANGED).encode(
        SAMPLES[RecordType.SHIPMENT_STATUS_CHANGED]()
    )
    assert framing().single_object(single) is single
    assert framing().single_object(b"garbage") == b"garbage"  # the codec judges it


def test_topics_not_in_the_output_set_are_not_framed() -> None:
    single = codec_for(RecordType.SHIPMENT_STATE).encode(SAMPLES[RecordType.SHIPMENT_STATE]())
    assert framing().output([TOPICS.status]).frame("unit.changelog", single) is single


def test_a_record_from_a_confluent_serializer_is_read() -> None:
    """An external producer with confluent-kafka's serializer and our registered schema."""
    frame = framing()
    serializer = AvroSerializer(
        frame.client,
        schema_json(default_registry().current(RecordType.CARRIER_SCAN)),
        conf={"auto.register.schemas": False},
    )
    scan = SAMPLES[RecordType.CARRIER_SCAN]()
    data = serializer(scan, SerializationContext(TOPICS.scans, MessageField.VALUE))
    assert data is not None and data[:1] == b"\x00"
    single = frame.single_object(data)
    assert single[:2] == MARKER
    codec = codec_for(RecordType.CARRIER_SCAN)
    assert codec.decode(single) == codec.decode(codec.encode(scan))


def test_an_id_the_registry_does_not_know_is_a_codec_error() -> None:
    with pytest.raises(UnknownSchemaIdError, match="schema id 99999: the registry at mock://unit"):
        framing().single_object(b"\x00" + (99999).to_bytes(4, "big") + b"\x02")
    assert issubclass(UnknownSchemaIdError, CodecError)  # consumers dead-letter it


def test_a_schema_of_no_tracecode_release_is_a_codec_error() -> None:
    frame = framing()
    foreign = '{"type":"record","name":"Other","fields":[{"name":"x","type":"long"}]}'
    schema_id = frame.client.register_schema("other-value", Schema(foreign, "AVRO"))
    with pytest.raises(UnknownSchemaIdError, match="none of tracecode's released schemas"):
        frame.single_object(b"\x00" + schema_id.to_bytes(4, "big") + b"\x02")


def test_a_cut_header_is_truncated() -> None:
    with pytest.raises(TruncatedRecordError, match="5-byte Confluent header"):
        framing().single_object(b"\x00\x00\x01")


def test_a_writer_whose_schema_is_not_registered_is_told_to_apply() -> None:
    bare = MockSchemaRegistryClient({"url": "mock://empty"})
    frame = Framing(SchemaRegistryConnection("http://registry.invalid:8081"), TOPICS, client=bare)
    with pytest.raises(SchemaNotRegisteredError, match="run `tracecode topics apply`"):
        frame.output([TOPICS.status])


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_registry_is_a_request_error_not_a_bad_record() -> None:
    down = SchemaRegistryConnection(f"http://127.0.0.1:{closed_port()}", timeout_s=2)
    frame = Framing(down, TOPICS)
    with pytest.raises(SchemaRegistryRequestError, match="could not look up"):
        frame.output([TOPICS.status])
    with pytest.raises(SchemaRegistryRequestError, match="could not fetch schema 7") as info:
        frame.single_object(b"\x00" + (7).to_bytes(4, "big") + b"\x02")
    assert not isinstance(info.value, CodecError)  # retried later, never dead-lettered


def test_a_reader_without_a_registry_says_what_the_record_is() -> None:
    framed = (
        framing()
        .output([TOPICS.status])
        .frame(
            TOPICS.status,
            codec_for(RecordType.SHIPMENT_STATUS_CHANGED).encode(
                SAMPLES[RecordType.SHIPMENT_STATUS_CHANGED]()
            ),
        )
    )
    with pytest.raises(BadMarkerError, match="Confluent Schema Registry framed record"):
        codec_for(RecordType.SHIPMENT_STATUS_CHANGED).decode(framed)


@pytest.mark.parametrize(
    ("url", "auth", "message"),
    [
        ("registry:8081", None, "must start with http://, https:// or mock://"),
        ("", None, "must start with"),
        ("http://registry:8081", "user-without-password", "user:password"),
    ],
)
def test_a_bad_connection_is_refused_at_start(url: str, auth: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SchemaRegistryConnection(url, basic_auth_user_info=auth)
