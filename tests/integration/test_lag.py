"""Consumer lag and record counts against the real broker, transaction markers included."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from schemas.kafka import KafkaConnection
from tests.helpers import unique
from tracecode.lag import KafkaOffsets


@pytest.fixture
def topic(kafka: KafkaConnection) -> Iterator[str]:
    """Partition 0: 10 plain records; 1: 5 records committed in a transaction; 2: 3 aborted."""
    name = unique("test-lag")
    admin = AdminClient(kafka.librdkafka_config())
    admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])[name].result()
    plain = Producer(kafka.librdkafka_config())
    for i in range(10):
        plain.produce(name, value=b"v%d" % i, partition=0)
    plain.flush(30)
    transactional = Producer(
        {**kafka.librdkafka_config(), "transactional.id": unique("test-lag-tx")}
    )
    transactional.init_transactions(30)
    transactional.begin_transaction()
    for i in range(5):
        transactional.produce(name, value=b"c%d" % i, partition=1)
    transactional.commit_transaction(30)
    transactional.begin_transaction()
    for i in range(3):
        transactional.produce(name, value=b"a%d" % i, partition=2)
    transactional.flush(30)
    transactional.abort_transaction(30)
    yield name


def commit(kafka: KafkaConnection, group: str, topic: str, offsets: dict[int, int]) -> None:
    consumer = Consumer({**kafka.librdkafka_config(), "group.id": group})
    try:
        consumer.commit(
            offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()], asynchronous=False
        )
    finally:
        consumer.close()


def test_lag_counts_offsets_and_remaining_counts_records(
    kafka: KafkaConnection, topic: str, group_id: str
) -> None:
    commit(kafka, group_id, topic, {0: 10, 1: 2})

    with KafkaOffsets(kafka) as offsets:
        lag = offsets.group_lag(group_id, [topic])
        by_partition = {p.partition: p for p in lag.partitions}
        assert by_partition[0].lag == 0
        # Three committed records left, plus the commit marker.
        assert (by_partition[1].committed, by_partition[1].end) == (2, 6)
        assert by_partition[1].lag == 4
        # Never committed: everything retained counts, the aborted records and marker too.
        assert by_partition[2].committed is None
        assert by_partition[2].lag == 4
        assert lag.consumed == 12

        assert offsets.remaining(lag) == {topic: 3}
        assert offsets.records([topic]) == (15, True)
        assert offsets.count({(topic, 0): (0, 10)}, limit=5) is None


def test_a_group_at_the_marker_has_nothing_left(
    kafka: KafkaConnection, topic: str, group_id: str
) -> None:
    # Where a sink ends up after storing everything: after the last record, before the marker.
    commit(kafka, group_id, topic, {0: 10, 1: 5, 2: 0})

    with KafkaOffsets(kafka) as offsets:
        lag = offsets.group_lag(group_id, [topic])
        assert lag.total == 1 + 4
        assert offsets.remaining(lag) == {topic: 0}
