"""Registry mode end to end: a deployment switched to Confluent framing mid-stream.

Real broker, real worker processes, the real sink on chDB. The Schema Registry is
confluent-kafka's in-process mock: no registry server can be installed from the package
registries these machines reach (Apicurio's app needs artifacts Maven Central does not serve
here, Karapace is not on PyPI). Each process fills its own mock in one fixed order
(``schemas.framing``), so the worker, the producers and this test agree on the schema ids.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from producers.config import ProducerConfig
from producers.core import EventProducer
from producers.simulator import SimulationConfig, simulate
from schemas.codec import codec_for
from schemas.framing import Framing, SchemaRegistryConnection
from schemas.kafka import KafkaConnection
from schemas.records import RecordType
from schemas.topics import TopicNames
from sinks.config import ClickHouseTarget
from sinks.query import QueryClient
from sinks.service import Sink
from tests.helpers import unique
from tests.integration.sinks.conftest import sink_config
from tests.integration.sinks.helpers import running
from tests.integration.streams.conftest import WorkerFactory
from tests.integration.streams.simulation import UNTIL
from tests.integration.streams.support import (
    PARTITIONS,
    Record,
    comparable,
    read_topic,
    reference_join,
    wait_until_idle,
)
from tracecode.tail import Tail, resolve_topic

MOCK = "mock://tracecode-integration"
SINGLE_OBJECT, CONFLUENT = b"\xc3", b"\x00"
OUTPUTS = {
    "status": RecordType.SHIPMENT_STATUS_CHANGED,
    "history": RecordType.SHIPMENT_HISTORY_RECORD,
    "alerts": RecordType.SHIPMENT_ALERT,
    "dead_letters": RecordType.DEAD_LETTER,
}


def publish(
    kafka: KafkaConnection, topics: TopicNames, events: list[Any], registry: str | None
) -> None:
    connection = None if registry is None else SchemaRegistryConnection(registry)
    config = ProducerConfig(connection=kafka, topics=topics, schema_registry=connection)
    with EventProducer(config) as producer:
        for event in events:
            producer.send(event.kind, event.record)


def send_raw(kafka: KafkaConnection, topic: str, key: bytes, value: bytes) -> None:
    producer = Producer({**kafka.librdkafka_config(), "partitioner": "murmur2_random"})
    producer.produce(topic, value, key)
    assert producer.flush(30) == 0


def test_a_switch_to_confluent_framing_loses_nothing_and_every_reader_reads_both(
    kafka: KafkaConnection,
    topics: TopicNames,
    group: str,
    worker: WorkerFactory,
    chdb_folder: Path,
) -> None:
    framing = Framing(SchemaRegistryConnection(MOCK), topics)
    events = list(simulate(SimulationConfig(shipments=300, until=UNTIL, seed=11)).events())
    half = len(events) // 2

    # Before the switch: single-object everywhere, one bad input among the events.
    publish(kafka, topics, events[:half], registry=None)
    send_raw(kafka, topics.scans, b"TC-before", b"not avro")
    joined = worker("w1").start()
    joined.wait_ready()
    wait_until_idle(kafka, group, topics)
    assert joined.stop() == 0

    # The switch: producers and worker restarted with the registry; an input naming a schema
    # id the registry does not hold is dead-lettered like any undecodable record.
    publish(kafka, topics, events[half:], registry=MOCK)
    send_raw(kafka, topics.scans, b"TC-after", b"\x00" + (4242).to_bytes(4, "big") + b"\x02")
    joined.env["TRACECODE_SCHEMA_REGISTRY_URL"] = MOCK
    joined.start()
    joined.wait_ready()
    wait_until_idle(kafka, group, topics)

    inputs = [*read_topic(kafka, topics.scans), *read_topic(kafka, topics.dispatches)]
    assert Counter(r.value[:1] for r in inputs if r.value) == {
        SINGLE_OBJECT: half,
        b"n": 1,
        CONFLUENT: len(events) - half + 1,
    }

    ids = framing.output([getattr(topics, name) for name in OUTPUTS])
    outputs: dict[str, list[Record]] = {}
    for name, record_type in OUTPUTS.items():
        topic = getattr(topics, name)
        records = outputs[name] = read_topic(kafka, topic)
        framings = Counter(r.value[:1] for r in records if r.value)
        assert set(framings) == {SINGLE_OBJECT, CONFLUENT}, (name, framings)
        framed_ids = {
            int.from_bytes(r.value[1:5], "big") for r in records if r.value[:1] == CONFLUENT
        }
        assert framed_ids == {ids.schema_id(topic)}, name
        codec = codec_for(record_type)
        theirs = AvroDeserializer(framing.client)
        context = SerializationContext(topic, MessageField.VALUE)
        for record in records:
            assert record.value is not None
            ours = codec.decode(framing.single_object(record.value))
            if record.value[:1] == CONFLUENT:  # standard tooling reads what the worker wrote
                assert theirs(record.value, context) == ours

    # Across the switch the worker's output is the join of every input, whatever its framing.
    reference = reference_join(kafka, topics, framing=framing)
    status = defaultdict(list)
    for record in outputs["status"]:
        assert record.value is not None
        change = codec_for(RecordType.SHIPMENT_STATUS_CHANGED).decode(
            framing.single_object(record.value)
        )
        status[change["code"]].append(comparable(change))
    expected = {
        code: [comparable(change) for change in changes]
        for code, changes in reference.status_changes.items()
        if changes
    }
    assert dict(status) == expected
    letters = [
        codec_for(RecordType.DEAD_LETTER).decode(framing.single_object(r.value))
        for r in outputs["dead_letters"]
        if r.value
    ]
    assert sorted((letter["key"], letter["error_class"]) for letter in letters) == [
        (b"TC-after", "UnknownSchemaIdError"),
        (b"TC-before", "BadMarkerError"),
    ]

    # `tracecode tail` reads both framings of the status topic.
    with Tail(kafka, resolve_topic(topics.status, topics), True, framing) as tail:
        tailed = list(itertools.islice(tail.records(), len(outputs["status"])))
    assert [t.error for t in tailed if t.error] == []

    # The sink stores both framings: every history record once.
    target = ClickHouseTarget(dsn=f"chdb://{chdb_folder}", database=unique("reg").replace("-", "_"))
    config = sink_config(
        kafka, topics, target, unique("sink"), schema_registry=SchemaRegistryConnection(MOCK)
    )
    ends = {
        (name, partition): 1 + max(r.offset for r in outputs[key] if r.partition == partition)
        for key, name in (("history", topics.history), ("status", topics.status))
        for partition in range(PARTITIONS)
        if any(r.partition == partition for r in outputs[key])
    }
    with running(Sink(config)) as sink:
        sink.wait_stored(ends)
    with QueryClient.open(target) as client:
        stored = client.query("SELECT count(), uniqExact(event_id) FROM shipment_events")
    assert stored.result_rows[0] == (len(outputs["history"]),) * 2
