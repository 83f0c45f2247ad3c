"""Publishing the scenario's records and running the sink in a thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from schemas.codec import RecordType, codec_for
from schemas.kafka import KafkaConnection
from schemas.topics import TopicNames
from sinks.service import Sink
from tests.helpers import wait_for
from tests.sinkdata import Scenario
from tracecode.settings import Settings
from tracecode.topics import admin_client, apply, topic_specs

Ends = dict[tuple[str, int], int]
"""Offset after the last record, per topic partition."""


def create_topics(
    kafka: KafkaConnection, settings: Settings, topics: TopicNames, partitions: int
) -> None:
    config = replace(settings.topics_config(), partitions=partitions)
    apply(admin_client(kafka), topic_specs(topics, config))


def publish(
    kafka: KafkaConnection,
    items: Sequence[tuple[str, RecordType, str, Any]],
    partition: int | None = None,
) -> Ends:
    """Publish (topic, record type, key, record or raw bytes) items in order, keyed by code."""
    producer = Producer(
        {**kafka.librdkafka_config(), "partitioner": "murmur2_random", "enable.idempotence": True}
    )
    ends: Ends = {}

    def delivered(error: KafkaError | None, message: Message) -> None:
        assert error is None, f"delivery failed: {error}"
        topic, part, offset = message.topic(), message.partition(), message.offset()
        assert topic is not None and part is not None and offset is not None
        ends[(topic, part)] = max(ends.get((topic, part), 0), offset + 1)

    for topic, record_type, key, record in items:
        value = record if isinstance(record, bytes) else codec_for(record_type).encode(record)
        extra = {} if partition is None else {"partition": partition}
        producer.produce(topic, value, key=key.encode(), on_delivery=delivered, **extra)
        producer.poll(0)
    assert producer.flush(30) == 0
    return ends


def scenario_items(
    scenario: Scenario, topics: TopicNames
) -> list[tuple[str, RecordType, str, Any]]:
    """The worker's outputs of ``scenario`` as publishable items."""
    return [
        *(
            (topics.history, RecordType.SHIPMENT_HISTORY_RECORD, r["code"], r)
            for r in scenario.history
        ),
        *(
            (topics.status, RecordType.SHIPMENT_STATUS_CHANGED, r["code"], r)
            for r in scenario.status
        ),
        *((topics.alerts, RecordType.SHIPMENT_ALERT, r["code"], r) for r in scenario.alerts),
    ]


class SinkThread:
    """A sink running in a thread; failures of the thread are raised by :meth:`check`."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sink", daemon=True)

    def _run(self) -> None:
        try:
            self.sink.run()
        except BaseException as error:  # reported by check()
            self.error = error

    def start(self) -> None:
        self._thread.start()

    def check(self) -> None:
        if self.error is not None:
            raise AssertionError(f"the sink failed: {self.error!r}") from self.error

    def stop(self) -> None:
        self.sink.stop()
        self._thread.join(timeout=60)
        assert not self._thread.is_alive(), "the sink did not stop"
        self.check()

    def wait_stored(self, ends: Ends, timeout: float = 90.0) -> None:
        """Until every partition is settled up to its end offset."""

        def settled() -> bool | None:
            self.check()
            positions = self.sink.positions()
            return all(positions.get(tp, -1) >= end for tp, end in ends.items()) or None

        wait_for(settled, timeout, f"the sink to store up to {ends}")


@contextmanager
def running(sink: Sink) -> Iterator[SinkThread]:
    thread = SinkThread(sink)
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


def metric(sink: Sink, name: str, **labels: str) -> float:
    """Current value of one of the sink's metrics (0 when never set)."""
    value = sink.metrics.registry.get_sample_value(name, labels)
    return value or 0.0


def wait_metric(
    sink: Sink, name: str, at_least: float, timeout: float = 60.0, **labels: str
) -> None:
    wait_for(
        lambda: True if metric(sink, name, **labels) >= at_least else None,
        timeout,
        f"{name}{labels} >= {at_least}",
    )
