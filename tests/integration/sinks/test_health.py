"""The sink's ``/health`` against the real broker and chDB: not ready while a partition is
halted or ClickHouse fails, ready again once the fault is resolved."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from schemas.codec import RecordType
from schemas.kafka import KafkaConnection
from schemas.topics import TopicNames
from sinks.batching import Batch
from sinks.config import ClickHouseTarget, FaultPoint
from sinks.service import Sink
from tests import sinkdata
from tests.helpers import unique, wait_for
from tests.integration.sinks.conftest import PARTITIONS, sink_config
from tests.integration.sinks.helpers import create_topics, publish, running, scenario_items
from tracecode.settings import Settings


def health(sink: Sink) -> tuple[int, dict[str, Any]]:
    """The sink's ``/health``: HTTP status and body."""
    url = f"http://127.0.0.1:{sink.metrics_port}/health"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_health(sink: Sink, status: str, timeout: float = 60.0) -> dict[str, Any]:
    """Until ``/health`` reports ``status``; its body."""

    def reported() -> dict[str, Any] | None:
        if sink.metrics_port is None:
            return None
        code, body = health(sink)
        if body["status"] != status:
            return None
        assert code == (200 if status == "ready" else 503), body
        return body

    return wait_for(reported, timeout, f"the sink's /health to report {status}")


def test_failing_clickhouse_makes_the_sink_not_ready_until_it_recovers(
    kafka: KafkaConnection, settings: Settings, clickhouse_target: ClickHouseTarget
) -> None:
    scenario = sinkdata.simulated(shipments=60, seed=4)
    topics = TopicNames().with_prefix(unique("test-sink-health") + ".")
    create_topics(kafka, settings, topics, PARTITIONS)
    failing = threading.Event()

    def unreachable(point: FaultPoint, _batch: Batch) -> None:
        if point is FaultPoint.BEFORE_INSERT and failing.is_set():
            raise ConnectionError("ClickHouse unreachable (injected)")

    sink = Sink(
        sink_config(
            kafka,
            topics,
            clickhouse_target,
            unique("sink"),
            fault_hook=unreachable,
            unreachable_after=1.0,
        )
    )
    with running(sink) as thread:
        wait_health(sink, "ready")
        failing.set()
        ends = publish(kafka, scenario_items(scenario, topics))
        body = wait_health(sink, "clickhouse-unreachable")
        assert body["ready"] is False
        assert any("ClickHouse unreachable (injected)" in r for r in body["reasons"]), body
        failing.clear()
        thread.wait_stored(ends)
        wait_health(sink, "ready")


def test_a_halted_partition_makes_the_sink_not_ready_until_it_is_skipped(
    kafka: KafkaConnection, settings: Settings, clickhouse_target: ClickHouseTarget
) -> None:
    scenario = sinkdata.build(delivered=4)
    topics = TopicNames().with_prefix(unique("test-sink-health-halt") + ".")
    create_topics(kafka, settings, topics, 1)
    history = [
        (topics.history, RecordType.SHIPMENT_HISTORY_RECORD, r["code"], r) for r in scenario.history
    ]
    before = publish(kafka, history[:5], partition=0)
    bad_offset = before[(topics.history, 0)]
    publish(
        kafka,
        [(topics.history, RecordType.SHIPMENT_HISTORY_RECORD, "X", b"\xc3\x01garbage")],
        partition=0,
    )
    ends = publish(kafka, history[5:], partition=0)
    group = unique("sink")
    with running(Sink(sink_config(kafka, topics, clickhouse_target, group))) as thread:
        thread.wait_stored(before)
        body = wait_health(thread.sink, "halted")
        [reason] = body["reasons"]
        assert reason.startswith(f"{topics.history}[0] halted at offset {bad_offset}: "), body
    # What docs/sink.md tells an operator to do to drop the record: move the group past it.
    consumer = Consumer({**kafka.librdkafka_config(), "group.id": group})
    try:
        consumer.commit(
            offsets=[TopicPartition(topics.history, 0, bad_offset + 1)], asynchronous=False
        )
    finally:
        consumer.close()
    with running(Sink(sink_config(kafka, topics, clickhouse_target, group))) as thread:
        thread.wait_stored(ends)
        wait_health(thread.sink, "ready")
