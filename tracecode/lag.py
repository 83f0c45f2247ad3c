"""Consumer group lag and record counts, as ``tracecode status`` and the demo see them.

The end of a partition is its last stable offset (what a ``read_committed`` consumer can
reach). On topics written in Kafka transactions (the worker's outputs, the dead letters) the
offsets also count the transaction markers, which no consumer ever receives: a sink that stored
everything stays one offset "behind" the marker after its last record. :meth:`KafkaOffsets.count`
reads the records in question instead, for an exact figure where one is needed.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import (
    Consumer,
    IsolationLevel,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, OffsetSpec

from schemas.kafka import KafkaConnection

logger = logging.getLogger(__name__)

TP = tuple[str, int]


@dataclass(frozen=True, slots=True)
class PartitionLag:
    """A consumer group's position in one partition."""

    topic: str
    partition: int
    start: int
    """First offset still retained."""
    end: int
    """Last stable offset: where a ``read_committed`` consumer reaches the end."""
    committed: int | None
    """The group's committed offset (None: the group never committed here)."""

    @property
    def position(self) -> int:
        """Where the group resumes reading."""
        if self.committed is None:
            return self.start
        return max(self.committed, self.start)

    @property
    def lag(self) -> int:
        """Offsets between the position and the end (transaction markers included)."""
        return max(0, self.end - self.position)


@dataclass(frozen=True, slots=True)
class GroupLag:
    """A consumer group's lag on some topics."""

    group: str
    partitions: tuple[PartitionLag, ...]

    @property
    def total(self) -> int:
        return sum(p.lag for p in self.partitions)

    @property
    def consumed(self) -> int:
        """Sum of the positions: how far the group got, to compare two moments."""
        return sum(p.position for p in self.partitions)

    def by_topic(self) -> dict[str, int]:
        """Lag per topic, in the order the topics were asked for."""
        lags: dict[str, int] = {}
        for p in self.partitions:
            lags[p.topic] = lags.get(p.topic, 0) + p.lag
        return lags


class KafkaOffsets:
    """Reads partition ends, committed offsets and record counts from one cluster."""

    def __init__(self, connection: KafkaConnection, timeout: float = 10.0) -> None:
        self._connection = connection
        self._timeout = timeout
        config: dict[str, Any] = {**connection.librdkafka_config(), "logger": logger}
        self._admin = AdminClient(config)
        self._consumers: dict[str, Consumer] = {}

    def partitions(self, topics: Iterable[str]) -> list[TP]:
        """Every partition of ``topics``; raises ``KafkaException`` for a missing topic."""
        metadata = self._admin.list_topics(timeout=self._timeout).topics
        found: list[TP] = []
        for topic in topics:
            described = metadata.get(topic)
            if described is None or described.error is not None:
                raise KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, topic))
            found += [(topic, p) for p in sorted(described.partitions)]
        return found

    def ends(self, partitions: Sequence[TP]) -> dict[TP, tuple[int, int]]:
        """(first retained offset, last stable offset) of each partition."""
        # confluent-kafka leaves these two factories untyped.
        earliest = self._offsets(partitions, OffsetSpec.earliest())  # type: ignore[no-untyped-call]
        latest = self._offsets(partitions, OffsetSpec.latest())  # type: ignore[no-untyped-call]
        return {tp: (earliest[tp], latest[tp]) for tp in partitions}

    def group_lag(self, group: str, topics: Iterable[str]) -> GroupLag:
        """``group``'s committed offsets against the ends of ``topics``."""
        partitions = self.partitions(topics)
        ends = self.ends(partitions)
        offsets = self._group_consumer(group).committed(
            [TopicPartition(topic, p) for topic, p in partitions], timeout=self._timeout
        )
        committed: dict[TP, int | None] = {
            (tp.topic, tp.partition): tp.offset if tp.offset >= 0 else None for tp in offsets
        }
        return GroupLag(
            group,
            tuple(
                PartitionLag(topic, p, *ends[(topic, p)], committed.get((topic, p)))
                for topic, p in partitions
            ),
        )

    def remaining(self, lag: GroupLag, limit: int = 10_000) -> dict[str, int] | None:
        """The records each topic holds after the group's position, counted exactly (None when
        more than ``limit``)."""
        left = {(p.topic, p.partition): (p.position, p.end) for p in lag.partitions if p.lag}
        counts = self.count(left, limit)
        if counts is None:
            return None
        by_topic = dict.fromkeys((p.topic for p in lag.partitions), 0)
        for (topic, _), count in counts.items():
            by_topic[topic] += count
        return by_topic

    def count(self, ranges: Mapping[TP, tuple[int, int]], limit: int) -> dict[TP, int] | None:
        """The committed records in ``ranges`` (topic partition -> [from, to) offsets), read
        with ``read_committed``; None when there are more than ``limit`` or reading took too
        long."""
        todo = {tp: span for tp, span in ranges.items() if span[0] < span[1]}
        if not todo:
            return {}
        # A transaction adds at most one marker per record to a partition.
        if sum(to - start for start, to in todo.values()) > 2 * limit + len(todo):
            return None
        consumer = Consumer(
            {
                **self._connection.librdkafka_config(),
                # Assigned partitions only: this group never joins or commits.
                "group.id": f"tracecode-counter-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
            },
            logger=logger,
        )
        try:
            return _count(consumer, todo, limit, time.monotonic() + self._timeout)
        finally:
            consumer.close()

    def records(self, topics: Iterable[str], limit: int = 10_000) -> tuple[int, bool]:
        """Records retained in ``topics``: (count, exact). Exact when at most ``limit``, else
        the offset span (markers included)."""
        partitions = self.partitions(topics)
        ends = self.ends(partitions)
        exact = self.count(ends, limit)
        if exact is not None:
            return sum(exact.values()), True
        return sum(end - start for start, end in ends.values()), False

    def close(self) -> None:
        """Close the consumers :meth:`group_lag` opened."""
        for consumer in self._consumers.values():
            consumer.close()
        self._consumers.clear()

    def __enter__(self) -> KafkaOffsets:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _group_consumer(self, group: str) -> Consumer:
        # A consumer of the group, never subscribed, so it never joins it: it only fetches the
        # committed offsets. (The admin client's offset fetch can crash librdkafka while the
        # group coordinator is still loading, right after a broker start.)
        consumer = self._consumers.get(group)
        if consumer is None:
            consumer = Consumer(
                {
                    **self._connection.librdkafka_config(),
                    "group.id": group,
                    "enable.auto.commit": False,
                    # Committed offsets of open transactions are not returned until they commit.
                    "isolation.level": "read_committed",
                },
                logger=logger,
            )
            self._consumers[group] = consumer
        return consumer

    def _offsets(self, partitions: Sequence[TP], spec: OffsetSpec) -> dict[TP, int]:
        if not partitions:
            return {}
        deadline = time.monotonic() + self._timeout
        while True:
            futures = self._admin.list_offsets(
                {TopicPartition(topic, p): spec for topic, p in partitions},
                isolation_level=IsolationLevel.READ_COMMITTED,
                request_timeout=self._timeout,
            )
            try:
                return {(tp.topic, tp.partition): f.result().offset for tp, f in futures.items()}
            except KafkaException as error:
                if not _transient(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


_NO_LEADER_YET = frozenset(
    {
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
    }
)


def _transient(error: KafkaException) -> bool:
    # Right after a topic is created its partitions may have no leader yet, and librdkafka
    # does not mark every such answer of an admin request as retriable.
    reason = error.args[0]
    return bool(reason.retriable() or reason.code() in _NO_LEADER_YET)


def _count(
    consumer: Any, ranges: Mapping[TP, tuple[int, int]], limit: int, deadline: float
) -> dict[TP, int] | None:
    consumer.assign([TopicPartition(topic, p, start) for (topic, p), (start, _) in ranges.items()])
    pending = set(ranges)
    counts = dict.fromkeys(ranges, 0)
    found = 0
    while pending:
        if time.monotonic() > deadline:
            return None
        for message in consumer.consume(1000, 0.2):
            tp = (message.topic(), message.partition())
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    pending.discard(tp)
                    continue
                raise KafkaException(error)
            if tp not in pending or message.offset() >= ranges[tp][1]:
                pending.discard(tp)
                continue
            counts[tp] += 1
            found += 1
            if found > limit:
                return None
    return counts
