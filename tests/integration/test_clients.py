"""The client libraries tracecode builds on, against the real broker.

confluent-kafka carries the producers and the sink; aiokafka is Faust's client, and its
transactions (produce + consumer offsets committed atomically) are what Faust's exactly-once
processing is made of.
"""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from schemas.kafka import KafkaConnection
from tests.helpers import unique


def create_topic(kafka: KafkaConnection, partitions: int = 1) -> str:
    name = unique("test-topic")
    admin = AdminClient(kafka.librdkafka_config())
    admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[
        name
    ].result(timeout=30)
    return name


def test_confluent_kafka_produce_and_consume(kafka: KafkaConnection, group_id: str) -> None:
    topic = create_topic(kafka, partitions=3)
    producer = Producer({**kafka.librdkafka_config(), "enable.idempotence": True, "acks": "all"})
    sent = {f"code-{i}".encode(): f"event-{i}".encode() for i in range(100)}
    for key, value in sent.items():
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0

    consumer = Consumer(
        {**kafka.librdkafka_config(), "group.id": group_id, "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    received: dict[bytes, bytes] = {}
    deadline = time.monotonic() + 60
    try:
        while len(received) < len(sent) and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            assert message.error() is None, message.error()
            key, value = message.key(), message.value()
            assert key is not None and value is not None
            received[key] = value
    finally:
        consumer.close()
    assert received == sent


def test_aiokafka_produce_and_consume(kafka: KafkaConnection, group_id: str) -> None:
    topic = create_topic(kafka, partitions=3)
    sent = {f"code-{i}".encode(): f"event-{i}".encode() for i in range(100)}

    async def scenario() -> dict[bytes, bytes]:
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
        await producer.start()
        try:
            for key, value in sent.items():
                await producer.send(topic, value, key=key)
            await producer.flush()
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka.bootstrap_servers,
            group_id=group_id,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        received: dict[bytes, bytes] = {}
        try:
            deadline = time.monotonic() + 60
            while len(received) < len(sent) and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=500)
                for messages in batches.values():
                    received.update((m.key, m.value) for m in messages)
        finally:
            await consumer.stop()
        return received

    assert asyncio.run(scenario()) == sent


def test_aiokafka_transaction_commits_output_and_offsets_atomically(
    kafka: KafkaConnection, group_id: str
) -> None:
    source, sink = create_topic(kafka), create_topic(kafka)
    source_partition = TopicPartition(source, 0)

    async def read_committed(topic: str, expected: int) -> list[bytes]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka.bootstrap_servers,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            group_id=None,
        )
        await consumer.start()
        values: list[bytes] = []
        try:
            # The consumer reaches the end of what is visible once its position equals the
            # last stable offset; poll until then, not for a fixed time.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=300)
                values.extend(m.value for ms in batches.values() for m in ms)
                partition = TopicPartition(topic, 0)
                end = (await consumer.end_offsets([partition]))[partition]
                if len(values) >= expected and await consumer.position(partition) >= end:
                    break
        finally:
            await consumer.stop()
        return values

    async def committed_offset() -> int | None:
        consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, group_id=group_id)
        await consumer.start()
        try:
            return await consumer.committed(source_partition)
        finally:
            await consumer.stop()

    async def scenario() -> tuple[list[bytes], int | None, list[bytes], int | None]:
        plain = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
        await plain.start()
        for i in range(6):
            await plain.send_and_wait(source, f"input-{i}".encode())
        await plain.stop()

        producer = AIOKafkaProducer(
            bootstrap_servers=kafka.bootstrap_servers, transactional_id=unique("test-tx")
        )
        await producer.start()
        try:
            async with producer.transaction():
                await producer.send(sink, b"out-1")
                await producer.send(sink, b"out-2")
                await producer.send_offsets_to_transaction({source_partition: 3}, group_id)
            after_commit = await read_committed(sink, expected=2), await committed_offset()

            await producer.begin_transaction()
            await producer.send(sink, b"aborted-1")
            await producer.send_offsets_to_transaction({source_partition: 6}, group_id)
            await producer.abort_transaction()

            async with producer.transaction():
                await producer.send(sink, b"out-3")
        finally:
            await producer.stop()
        return (*after_commit, await read_committed(sink, expected=3), await committed_offset())

    first, offset_after_commit, final, offset_after_abort = asyncio.run(scenario())
    assert first == [b"out-1", b"out-2"]
    assert offset_after_commit == 3
    # The aborted output is invisible and its offsets were not committed.
    assert final == [b"out-1", b"out-2", b"out-3"]
    assert offset_after_abort == 3
