"""Kafka plumbing of the benchmarks: topic sets, publishing, lag and background readers."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from producers.core import EventProducer
from producers.events import EventKind
from schemas.codec import codec_for
from schemas.kafka import KafkaConnection
from schemas.records import RecordType
from schemas.topics import TopicNames
from tracecode.lag import TP, KafkaOffsets
from tracecode.settings import Settings
from tracecode.topics import admin_client, apply, topic_specs


@dataclass(frozen=True, slots=True)
class Event:
    """An input event encoded once, so every topic set gets the very same bytes."""

    kind: EventKind
    code: str
    event_id: str
    time: datetime
    """Event time (a dispatch's dispatch time)."""
    value: bytes


def provision(settings: Settings, prefix: str) -> TopicNames:
    """A fresh set of the tracecode topics under ``prefix``, as ``tracecode topics apply``
    makes them."""
    topics = TopicNames().with_prefix(prefix)
    apply(admin_client(settings.kafka_connection()), topic_specs(topics, settings.topics_config()))
    return topics


def producer(settings: Settings, topics: TopicNames) -> EventProducer:
    """The producer ``tracecode simulate`` uses, pointed at ``topics``."""
    return EventProducer(replace(settings.producer_config("tracecode-bench"), topics=topics))


def publish(settings: Settings, topics: TopicNames, events: Sequence[Event]) -> None:
    """Publish ``events`` as fast as the producer goes, until every one is acknowledged."""
    sender = producer(settings, topics)
    for event in events:
        sender.send_encoded(event.kind, event.code, event.value)
    close(sender, len(events))


def close(sender: EventProducer, events: int) -> None:
    """Wait, for a bounded time, until everything sent is acknowledged; raises
    ``DeliveryError`` if some was not."""
    sender.close(timeout=120 + events / 5_000)


def input_topics(topics: TopicNames) -> list[str]:
    return [topics.scans, topics.dispatches]


def output_topics(topics: TopicNames) -> list[str]:
    return [topics.history, topics.status, topics.alerts, topics.dead_letters]


def partitions(kafka: KafkaConnection, topics: Iterable[str]) -> list[TopicPartition]:
    """Every partition of ``topics``, positioned at the beginning."""
    metadata = admin_client(kafka).list_topics(timeout=10).topics
    return [
        TopicPartition(topic, partition, OFFSET_BEGINNING)
        for topic in topics
        for partition in sorted(metadata[topic].partitions)
    ]


class GroupProgress:
    """A consumer group's committed progress through some topics (its lag, as ``tracecode
    status`` sees it)."""

    def __init__(self, kafka: KafkaConnection, group: str, topics: Sequence[str]) -> None:
        self._offsets = KafkaOffsets(kafka)
        self._group = group
        self._topics = topics
        self.lag: int | None = None
        self.consumed = 0

    def caught_up(self) -> bool:
        """Whether the group has committed every record of the topics."""
        try:
            lag = self._offsets.group_lag(self._group, self._topics)
        except KafkaException:  # a coordinator still loading, a leader moving: ask again
            return False
        self.lag, self.consumed = lag.total, lag.consumed
        return lag.total == 0

    def close(self) -> None:
        self._offsets.close()


def stable_ends(kafka: KafkaConnection, topics: Sequence[str]) -> dict[TP, int]:
    """The last stable offset of every partition of ``topics``: where a ``read_committed``
    reader has everything committed so far."""
    with KafkaOffsets(kafka) as offsets:
        return {tp: end for tp, (_, end) in offsets.ends(offsets.partitions(topics)).items()}


OnRecord = Callable[[bytes | None, float], None]
"""Called from the reader's thread with a record's value and the Unix time it arrived."""


class Reader(threading.Thread):
    """Reads topics ``read_committed`` from their beginning in the background, noting when the
    records arrive.

    Without ``on_record`` it fetches in big batches and only counts (arrival times are then as
    coarse as a batch); with it, record by record, so each arrival time is taken as soon as the
    client has the record. With ``history`` (one of ``topics``), it also keeps the earliest
    ``processed_time`` of the history records: the join stamps it when it starts processing a
    batch of input records, and a partition's records come in processing order, so the first
    record of each partition holds that partition's earliest.
    """

    def __init__(
        self,
        kafka: KafkaConnection,
        topics: Sequence[str],
        on_record: OnRecord | None = None,
        history: str | None = None,
    ) -> None:
        super().__init__(name=f"reader-{topics[0]}", daemon=True)
        self._consumer = Consumer(
            {
                **kafka.librdkafka_config(),
                # Assigned partitions only: this group never joins or commits.
                "group.id": f"bench-reader-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
            }
        )
        self._consumer.assign(partitions(kafka, topics))
        self._on_record = on_record
        self._stopping = threading.Event()
        self._positions: dict[TP, int] = {}
        self.counts = dict.fromkeys(topics, 0)
        self._history = history
        self._stamped: set[TP] = set()
        self._decode_history = codec_for(RecordType.SHIPMENT_HISTORY_RECORD).decode
        self.first_timestamp: float | None = None
        """Earliest record timestamp (when the writer sent it), Unix seconds."""
        self.first_processed: float | None = None
        """Earliest ``processed_time`` of the history records, Unix seconds."""
        self.last_arrival: float | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self._stopping.is_set():
                if self._on_record is None:
                    messages = self._consumer.consume(10_000, 0.2)
                else:
                    message = self._consumer.poll(0.2)
                    messages = [] if message is None else [message]
                now = time.time()
                for message in messages:
                    self._take(message, now)
        except BaseException as error:  # surfaced by check(), in the measuring thread
            self.error = error
        finally:
            self._consumer.close()

    def _take(self, message: Message, now: float) -> None:
        failure = message.error()
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        assert topic is not None and partition is not None and offset is not None
        tp = (topic, partition)
        if failure is not None:
            if failure.code() != KafkaError._PARTITION_EOF:
                raise KafkaException(failure)
            self._positions[tp] = max(self._positions.get(tp, 0), offset)
            return
        if topic == self._history and tp not in self._stamped:
            self._stamped.add(tp)
            processed = self._decode_history(message.value() or b"")["processed_time"].timestamp()
            if self.first_processed is None or processed < self.first_processed:
                self.first_processed = processed
        self._positions[tp] = offset + 1
        self.counts[topic] += 1
        stamp = message.timestamp()[1] / 1000
        if self.first_timestamp is None or stamp < self.first_timestamp:
            self.first_timestamp = stamp
        self.last_arrival = now
        if self._on_record is not None:
            self._on_record(message.value(), now)

    def check(self) -> None:
        """Raise what stopped the reader, if anything did."""
        if self.error is not None:
            raise RuntimeError(f"reading {', '.join(self.counts)} failed: {self.error}")

    def reached(self, ends: Mapping[TP, int]) -> bool:
        """Whether the reader is past ``ends`` (offsets; transaction markers are never
        delivered, so only the end of the partition tells it got there)."""
        self.check()
        return all(self._positions.get(tp, 0) >= end for tp, end in ends.items())

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def close(self) -> None:
        self._stopping.set()
        self.join(30)


def delete_everything(
    kafka: KafkaConnection, prefix: str, patience: float = 45.0
) -> tuple[int, int]:
    """Delete the topics and consumer groups whose names hold ``prefix`` (not only at the
    start: Quix Streams names its changelog topics ``changelog__{group}...``); returns how many
    of each were deleted.

    A worker is a static group member, which stays in its group until its session times out
    (30 s) after it stopped: such groups are retried for up to ``patience`` seconds.
    """
    admin = admin_client(kafka)
    topics = [name for name in admin.list_topics(timeout=10).topics if prefix in name]
    if topics:
        for future in admin.delete_topics(topics, operation_timeout=60).values():
            future.result()
    listed = admin.list_consumer_groups(request_timeout=10).result()
    groups = [g.group_id for g in listed.valid if prefix in g.group_id]
    deleted = 0
    deadline = time.monotonic() + patience
    while groups:
        futures = admin.delete_consumer_groups(groups, request_timeout=30)
        left = []
        for group, future in futures.items():
            try:
                future.result()
                deleted += 1
            except KafkaException:
                left.append(group)
        if not left or time.monotonic() > deadline:
            break
        groups = left
        time.sleep(2)
    return len(topics), deleted
