"""The producer core against a fake librdkafka boundary: keys, topics, a full queue, delivery
reports and failures, flushing on the way out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from confluent_kafka import KafkaError

from producers.config import ProducerConfig
from producers.core import DeliveryError, EventProducer, MissingTopicsError
from producers.events import EventKind, encode_event
from producers.simulator import SimulationConfig, simulate
from schemas.codec import codec_for
from schemas.errors import InvalidRecordError
from schemas.kafka import KafkaConnection
from schemas.records import CarrierScan, RecordType, SellerDispatch
from schemas.topics import TopicNames

TOPICS = TopicNames().with_prefix("unit.")


@dataclass
class FakeMessage:
    _topic: str
    _key: bytes
    _value: bytes

    def topic(self) -> str:
        return self._topic

    def key(self) -> bytes:
        return self._key

    def value(self) -> bytes:
        return self._value


@dataclass
class FakeClient:
    """Queues produced messages and reports each on poll/flush, like librdkafka."""

    config: dict[str, Any]
    capacity: int = 1_000_000
    fail: Callable[[FakeMessage], KafkaError | None] = lambda message: None
    queued: list[FakeMessage] = field(default_factory=list)
    produced: list[FakeMessage] = field(default_factory=list)
    buffer_errors: int = 0
    topics: tuple[str, ...] = (TOPICS.scans, TOPICS.dispatches)

    def produce(self, topic: str, value: bytes, key: bytes) -> None:
        if len(self.queued) >= self.capacity:
            self.buffer_errors += 1
            raise BufferError("Local: Queue full")
        message = FakeMessage(topic, key, value)
        self.queued.append(message)
        self.produced.append(message)

    def poll(self, timeout: float) -> int:
        served, self.queued = self.queued, []
        for message in served:
            self.config["on_delivery"](self.fail(message), message)
        return len(served)

    def flush(self, timeout: float) -> int:
        self.poll(timeout)
        return 0

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> Any:
        @dataclass
        class Meta:
            error: object = None

        @dataclass
        class Cluster:
            topics: dict[str, Meta]

        return Cluster({name: Meta() for name in self.topics})

    def __len__(self) -> int:
        return len(self.queued)


def make(**client: Any) -> tuple[EventProducer, list[FakeClient]]:
    clients: list[FakeClient] = []

    def factory(config: dict[str, Any]) -> FakeClient:
        clients.append(FakeClient(config, **client))
        return clients[-1]

    config = ProducerConfig(KafkaConnection("127.0.0.1:1"), topics=TOPICS)
    return EventProducer(config, client_factory=factory), clients


def sample(count: int = 200) -> list[tuple[EventKind, CarrierScan | SellerDispatch]]:
    sim = simulate(SimulationConfig(30, datetime(2026, 11, 1, tzinfo=UTC), seed=4))
    return [(e.kind, e.record) for e in sim.events()][:count]


def test_events_are_keyed_by_code_on_the_topic_of_their_kind() -> None:
    producer, (client,) = make()
    events = sample()
    with producer:
        for kind, record in events:
            producer.send(kind, record)
    assert len(client.produced) == len(events)
    for (kind, record), message in zip(events, client.produced, strict=True):
        assert message.topic() == kind.topic(TOPICS)
        assert message.key() == record["code"].encode()
        assert codec_for(kind.record_type).decode(message.value()) == record
    assert producer.stats.acknowledged == len(events)


def test_guarantees_are_configured() -> None:
    _, (client,) = make()
    config = client.config
    assert config["enable.idempotence"] is True
    assert config["acks"] == "all"
    assert config["partitioner"] == "murmur2_random"
    assert config["compression.type"] == "zstd"
    assert config["bootstrap.servers"] == "127.0.0.1:1"
    # Leaders lost in a broker restart are learnt again well within the delivery timeout.
    assert config["topic.metadata.refresh.interval.ms"] < config["delivery.timeout.ms"] / 4


def test_a_full_queue_makes_send_wait_and_nothing_is_dropped() -> None:
    producer, (client,) = make(capacity=7)
    events = sample()
    for kind, record in events:
        producer.send(kind, record)
    stats = producer.close()
    assert client.buffer_errors > 0
    assert len(client.produced) == stats.sent == stats.acknowledged == len(events)
    assert [m.value() for m in client.produced] == [encode_event(k, r) for k, r in events]


def test_delivery_failures_are_counted_kept_with_event_ids_and_raised() -> None:
    events = sample()
    doomed = {record["event_id"] for _, record in events[::10]}
    scans = codec_for(RecordType.CARRIER_SCAN)
    dispatches = codec_for(RecordType.SELLER_DISPATCH)

    def fail(message: FakeMessage) -> KafkaError | None:
        codec = scans if message.topic() == TOPICS.scans else dispatches
        if codec.decode(message.value())["event_id"] in doomed:
            return KafkaError(KafkaError._MSG_TIMED_OUT)
        return None

    producer, _ = make(fail=fail)
    for kind, record in events:
        producer.send(kind, record)
    with pytest.raises(DeliveryError) as raised:
        producer.close()
    stats = raised.value.stats
    assert stats.failed == len(doomed)
    assert stats.acknowledged == len(events) - len(doomed)
    assert {f.event_id for f in stats.failures} == doomed
    assert all("timed out" in f.error.lower() for f in stats.failures)
    assert f"{len(doomed)} of {len(events)} events were not delivered" in str(raised.value)


def test_leaving_on_an_error_flushes_and_notes_failures_on_that_error() -> None:
    producer, (client,) = make(fail=lambda message: KafkaError(KafkaError._MSG_TIMED_OUT))
    kind, record = sample(1)[0]
    with pytest.raises(KeyboardInterrupt) as raised, producer:
        producer.send(kind, record)
        raise KeyboardInterrupt
    assert len(client) == 0
    assert producer.stats.failed == 1
    assert any("1 of 1 events were not delivered" in note for note in raised.value.__notes__)


def test_invalid_records_are_refused_before_queueing() -> None:
    producer, (client,) = make()
    kind, record = next((k, r) for k, r in sample() if k is EventKind.SCAN)
    with pytest.raises(InvalidRecordError, match=r"location\.country"):
        producer.send(kind, {**record, "location": {**record["location"], "country": "XX"}})  # type: ignore[typeddict-item]
    with pytest.raises(InvalidRecordError, match="carrier"):
        producer.send(kind, {k: v for k, v in record.items() if k != "carrier"})  # type: ignore[arg-type]
    assert client.produced == []
    assert producer.stats.sent == 0


def test_missing_topics_are_named() -> None:
    producer, _ = make(topics=(TOPICS.scans,))
    with pytest.raises(MissingTopicsError, match="tracecode topics apply") as raised:
        producer.ensure_topics()
    assert raised.value.missing == [TOPICS.dispatches]


def test_flush_reports_progress_and_stops_at_its_timeout() -> None:
    producer, (client,) = make()
    client.flush = lambda timeout: 0  # type: ignore[method-assign]  # a broker that never answers
    kind, record = sample(1)[0]
    producer.send(kind, record)
    seen = []
    stats = producer.flush(0.2, on_progress=seen.append)
    assert stats.in_flight == 1
    assert seen and seen[-1].in_flight == 1
    with pytest.raises(DeliveryError, match=r"1 of 1 events had no delivery report"):
        producer.close(0.1)
