"""Sending what the join produces, a batch at a time: under exactly-once, inside the input
partition's transaction.

Records are collected synchronously while a fetched batch is joined (:meth:`OutputSender.add`)
and handed to the producers by :meth:`OutputSender.flush`: one aiokafka ``BatchBuilder`` per
producer, topic and partition, and one ``send_batch`` per builder, never an ``await`` per
record. Delivery is awaited by the commit (:mod:`streams.runtime.checkpoint`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import KafkaError
from aiokafka.partitioner import murmur2
from aiokafka.structs import RecordMetadata
from faust.exceptions import ProducerSendError
from faust.types import TP

from schemas.framing import OutputFraming
from streams.runtime.exactly_once import WorkerApp, WorkerProducer

OnDelivered = Callable[[int, int], None]
"""Called with the partition and the offset of the last record of a delivered batch."""


@dataclass(slots=True)
class _Pending:
    """Records for one producer and topic, in the order they were added."""

    transactional_id: str | None
    topic: str
    source_partition: int
    records: list[tuple[bytes | None, bytes | None, int | None]] = field(default_factory=list)
    on_delivered: OnDelivered | None = None


class OutputSender:
    """Collects output records per producer and topic; sends them a batch at a time."""

    def __init__(
        self,
        app: WorkerApp,
        input_partitions: int,
        keyed_by_code: Collection[str],
        framing: OutputFraming | None = None,
    ) -> None:
        self._app = app
        self._framing = framing
        """Confluent headers for the output topics (registry mode); ``None``: values as given."""
        self._input_partitions = input_partitions
        self._keyed_by_code = frozenset(keyed_by_code)
        """Topics whose keys are the canonical code of the input record that caused them."""
        self._pending: dict[tuple[str | None, str, int], _Pending] = {}
        self._transactional_ids: dict[TP, str] = {}
        self._generation = -1
        self._partition_counts: dict[str, int] = {}

    @property
    def pending(self) -> int:
        """Records added and not handed to a producer yet."""
        return sum(len(group.records) for group in self._pending.values())

    def add(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        source: TP,
        partition: int | None = None,
        on_delivered: OnDelivered | None = None,
    ) -> None:
        """Queue one record caused by a record of input partition ``source``.

        ``partition`` ``None`` partitions by key, like the producers of the input topics
        (murmur2); ``on_delivered`` is called once its batch is acknowledged.
        """
        app = self._app
        if self._framing is not None and value is not None:
            value = self._framing.frame(topic, value)
        transactional_id = self._transactional_id(source) if app.in_transaction else None
        group_key = (transactional_id, topic, source.partition)
        group = self._pending.get(group_key)
        if group is None:
            group = self._pending[group_key] = _Pending(
                transactional_id, topic, source.partition, on_delivered=on_delivered
            )
        group.records.append((key, value, partition))
        if transactional_id is not None:
            app.open_transactions[transactional_id] = source.partition

    def add_all(self, records: Iterable[tuple[str, bytes, bytes]], source: TP) -> None:
        """Queue records (topic, key, value) caused by a record of ``source``, each
        partitioned by key: :meth:`add` for the outputs of one step at once."""
        app = self._app
        transactional_id = self._transactional_id(source) if app.in_transaction else None
        pending = self._pending
        partition = source.partition
        added = False
        framing = self._framing
        for topic, key, encoded in records:
            value = encoded if framing is None else framing.frame(topic, encoded)
            group = pending.get((transactional_id, topic, partition))
            if group is None:
                group = pending[transactional_id, topic, partition] = _Pending(
                    transactional_id, topic, partition
                )
            group.records.append((key, value, None))
            added = True
        if added and transactional_id is not None:
            app.open_transactions[transactional_id] = partition

    async def flush(self) -> None:
        """Hand every queued record to its producer (delivery is not awaited).

        A group leaves the queue only once its batches are with the producer, so a flush
        cut short (a cancelled task) loses nothing: the next flush sends what is left.
        """
        while self._pending:
            group_key, group = next(iter(self._pending.items()))
            await self._send(group)
            del self._pending[group_key]

    async def _send(self, group: _Pending) -> None:
        producer = self._producer(group.transactional_id)
        count = await self._partition_count(producer, group.topic)
        builders: dict[int, Any] = {}
        sends: list[tuple[int, Any]] = []
        for key, value, partition in group.records:
            target = partition if partition is not None else self._partition(group, key, count)
            builder = builders.get(target)
            if builder is None:
                builder = builders[target] = producer.create_batch()
            if builder.append(key=key, value=value, timestamp=None) is None:  # full
                sends.append((target, builder))
                builder = builders[target] = producer.create_batch()
                builder.append(key=key, value=value, timestamp=None)
        sends.extend(builders.items())
        for target, builder in sends:
            try:
                delivery = await producer.send_batch(builder, group.topic, partition=target)
            except KafkaError as error:
                raise ProducerSendError(f"cannot send to {group.topic}: {error!r}") from error
            delivery.add_done_callback(self._on_done(group, builder.record_count()))

    def _on_done(
        self, group: _Pending, count: int
    ) -> Callable[[asyncio.Future[RecordMetadata]], None]:
        app, on_delivered, topic = self._app, group.on_delivered, group.topic

        def done(future: asyncio.Future[RecordMetadata]) -> None:
            producer = app.producer
            assert isinstance(producer, WorkerProducer)
            if future.cancelled():
                producer.failures.append(asyncio.CancelledError(f"delivery to {topic} cancelled"))
            elif (exception := future.exception()) is not None:
                producer.failures.append(exception)
            elif on_delivered is not None:
                metadata = future.result()
                on_delivered(metadata.partition, metadata.offset + count - 1)

        return done

    def _partition(self, group: _Pending, key: bytes | None, count: int) -> int:
        # Outputs keyed by a code whose input record was partitioned by that very key with
        # murmur2 (the join checks key == code) land on the same partition number when the
        # counts agree: no hash per record.
        if count == self._input_partitions and group.topic in self._keyed_by_code:
            return group.source_partition
        if key is None:
            return group.source_partition % count
        hashed: int = murmur2(key)
        return (hashed & 0x7FFFFFFF) % count

    async def _partition_count(self, producer: Any, topic: str) -> int:
        count = self._partition_counts.get(topic)
        if count is None:
            partitions = await producer.partitions_for(topic)
            count = self._partition_counts[topic] = len(partitions)
        assert isinstance(count, int)
        return count

    def _producer(self, transactional_id: str | None) -> Any:
        producer = self._app.producer
        assert isinstance(producer, WorkerProducer)
        return producer.client_for(transactional_id)

    def _transactional_id(self, source: TP) -> str:
        if self._app.consumer_generation_id != self._generation:
            self._generation = self._app.consumer_generation_id
            self._transactional_ids.clear()
        transactional_id = self._transactional_ids.get(source)
        if transactional_id is None:
            transactional_id = self._transactional_ids[source] = self._app.transactional_id(source)
        return transactional_id
