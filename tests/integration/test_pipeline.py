"""The whole pipeline on the real broker and chDB: simulator -> worker -> sink -> ClickHouse.

Once everything is idle, ClickHouse must hold exactly what the worker published and agree with
the worker's own table: one ``shipment_events`` row per accepted event, ``shipment_state FINAL``
equal to the worker's state for every code, every alert present.
"""

from __future__ import annotations

import urllib.parse
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from schemas.kafka import KafkaConnection
from schemas.records import RecordType
from schemas.topics import TopicNames
from sinks.clickhouse import connect
from sinks.config import ClickHouseTarget
from sinks.service import Sink
from tests.helpers import unique
from tests.integration.sinks.conftest import sink_config
from tests.integration.sinks.helpers import Ends, running
from tests.integration.streams.simulation import publish_simulation
from tests.integration.streams.support import (
    PARTITIONS,
    WorkerProcess,
    create_topics,
    decoded,
    read_topic,
    wait_until_idle,
)

pytestmark = pytest.mark.integration

SHIPMENTS = 600


@pytest.fixture
def worker(kafka: KafkaConnection, tmp_path: Path) -> Iterator[tuple[WorkerProcess, TopicNames]]:
    prefix = unique("test-pipeline") + "."
    topics = create_topics(kafka, prefix)
    process = WorkerProcess(kafka, prefix, "streams", "w1", tmp_path)
    try:
        yield process.start(), topics
    finally:
        process.close()


def output_ends(kafka: KafkaConnection, topics: TopicNames) -> Ends:
    consumer = Consumer({**kafka.librdkafka_config(), "group.id": unique("ends")})
    try:
        ends = {}
        for topic in (topics.history, topics.status, topics.alerts):
            for partition in range(PARTITIONS):
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=10
                )
                # Transaction markers take offsets too: the sink settles past the last one.
                if high > low:
                    ends[(topic, partition)] = high
        return ends
    finally:
        consumer.close()


def test_clickhouse_holds_exactly_what_the_worker_decided(
    kafka: KafkaConnection,
    worker: tuple[WorkerProcess, TopicNames],
    chdb_folder: Path,
) -> None:
    process, topics = worker
    simulation = publish_simulation(kafka, topics, SHIPMENTS, seed=11)
    process.wait_ready()
    wait_until_idle(kafka, process.env["TRACECODE_TOPICS_PREFIX"] + "streams", topics)

    history = list(decoded(read_topic(kafka, topics.history), RecordType.SHIPMENT_HISTORY_RECORD))
    alerts = list(decoded(read_topic(kafka, topics.alerts), RecordType.SHIPMENT_ALERT))
    accepted = {(record["code"], record["event_id"]) for record in history}
    assert len(accepted) == len(history), "the worker published an event's history twice"

    target = ClickHouseTarget(
        dsn=f"chdb://{chdb_folder}", database=unique("pipeline").replace("-", "_")
    )
    config = sink_config(kafka, topics, target, unique("sink"), batch_max_rows=500)
    with running(Sink(config)) as sink:
        sink.wait_stored(output_ends(kafka, topics), timeout=180)

    client = connect(target)
    try:
        rows = client.query("SELECT code, event_id FROM shipment_events").result_rows
        assert len(rows) == len(history), "shipment_events is not one row per accepted event"
        assert {(code, event_id) for code, event_id in rows} == accepted

        stored_states = {
            code: (status, sub_status, version)
            for code, status, sub_status, version in client.query(
                "SELECT code, status, sub_status, version FROM shipment_state FINAL"
            ).result_rows
        }
        stored_alerts = Counter(
            alert_id for (alert_id,) in client.query("SELECT alert_id FROM alerts").result_rows
        )
        dispatches = client.query("SELECT count() FROM dispatches").result_rows[0][0]
    finally:
        client.close()

    assert stored_alerts == Counter(alert["alert_id"] for alert in alerts)
    assert {alert["kind"] for alert in alerts} >= {
        "STALLED",
        "UNKNOWN_CODE",
        "SUSPECTED_CLONE",
        "DISPATCH_SLA_BREACH",
    }
    assert dispatches == sum(1 for record in history if record["kind"] == "DISPATCH")

    codes = set(simulation.truth)
    assert set(stored_states) == codes
    for code in sorted(codes):
        status, state = process.get("/shipments/" + urllib.parse.quote(code, safe=""))
        assert status == 200, f"{code}: {state}"
        assert stored_states[code] == (
            state["status"],
            state["sub_status"],
            state["status_version"],
        ), f"shipment_state FINAL disagrees with the worker for {code}"
