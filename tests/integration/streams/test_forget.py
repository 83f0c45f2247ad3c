"""Idle shipments leave the worker's table, and a worker restored from the changelog agrees."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiokafka.partitioner import murmur2
from confluent_kafka import Producer

from schemas.codec import codec_for
from schemas.codes import marketplace_code
from schemas.kafka import KafkaConnection
from schemas.records import RecordType
from schemas.status import SubStatus
from schemas.topics import TopicNames
from tests.integration.streams.conftest import WorkerFactory
from tests.integration.streams.support import PARTITIONS, WorkerProcess, wait_until_idle
from tests.unit.streams.test_transition import dispatch, scan

SCANS = codec_for(RecordType.CARRIER_SCAN)
DISPATCHES = codec_for(RecordType.SELLER_DISPATCH)
RULES = {"TRACECODE_WORKER_EXPIRE_DAYS": "8", "TRACECODE_WORKER_FORGET_DAYS": "10"}


def _partition(code: str) -> int:
    return (murmur2(code.encode()) & 0x7FFFFFFF) % PARTITIONS


def _publish(kafka: KafkaConnection, events: list[tuple[str, bytes, bytes]]) -> None:
    producer = Producer({**kafka.librdkafka_config(), "partitioner": "murmur2_random"})

    def delivered(error: Any, _message: Any) -> None:
        assert error is None, error

    for topic, key, value in events:
        producer.produce(topic, value, key, on_delivery=delivered)
    assert producer.flush(30) == 0


def _status(worker: WorkerProcess, code: str) -> int:
    status, _ = worker.get(f"/shipments/{quote(code, safe='')}")
    return status


def test_delivered_shipments_are_forgotten_and_stay_forgotten_after_a_restore(
    kafka: KafkaConnection, topics: TopicNames, group: str, worker: WorkerFactory
) -> None:
    delivered = [marketplace_code(7000 + index) for index in range(12)]
    events: list[tuple[str, bytes, bytes]] = []
    for index, code in enumerate(delivered):
        key = code.encode()
        picked_up = scan(f"a{index}", 2, SubStatus.PICKED_UP)
        handed_over = scan(f"b{index}", 9, SubStatus.DELIVERED_TO_RECIPIENT)
        events += [
            (topics.dispatches, key, DISPATCHES.encode({**dispatch(f"d{index}"), "code": code})),
            (topics.scans, key, SCANS.encode({**picked_up, "code": code})),
            (topics.scans, key, SCANS.encode({**handed_over, "code": code})),
        ]
    _publish(kafka, events)
    first = worker("w1", **RULES).start()
    first.wait_ready()
    wait_until_idle(kafka, group, topics)
    assert {_status(first, code) for code in delivered} == {200}

    # One later scan per partition moves every partition's clock past the forget time.
    movers: dict[int, str] = {}
    for number in range(8000, 9000):
        movers.setdefault(_partition(marketplace_code(number)), marketplace_code(number))
        if len(movers) == PARTITIONS:
            break
    _publish(
        kafka,
        [
            (topics.scans, code.encode(), SCANS.encode({**scan(f"m{p}", 24 * 11), "code": code}))
            for p, code in movers.items()
        ],
    )
    wait_until_idle(kafka, group, topics)
    assert {_status(first, code) for code in delivered} == {404}
    assert {_status(first, code) for code in movers.values()} == {200}
    assert "tracecode_streams_states_forgotten_total 12.0" in first.metrics()
    first.stop()

    # A worker with an empty state folder restores the table from the changelog: tombstones too.
    restored = worker("w2", **RULES).start()
    restored.wait_ready()
    assert {_status(restored, code) for code in movers.values()} == {200}
    assert {_status(restored, code) for code in delivered} == {404}
