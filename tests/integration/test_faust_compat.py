"""Faust (faust-streaming with its aiokafka) on this broker, exactly-once.

A worker must create its internal topics (changelog, repartition, assignor leader), join its
group, and process events inside Kafka transactions: the chosen Kafka version depends on it
(docs/kafka-version.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from schemas.kafka import KafkaConnection
from tests.helpers import unique, wait_for

APP = Path(__file__).with_name("faust_eos_app.py")


def test_exactly_once_faust_worker_with_table_and_repartition(
    kafka: KafkaConnection, tmp_path: Path
) -> None:
    app_id, source, sink = unique("test-faust"), unique("test-src"), unique("test-out")
    admin = AdminClient(kafka.librdkafka_config())
    futures = admin.create_topics([NewTopic(t, num_partitions=3) for t in (source, sink)])
    for future in futures.values():
        future.result(timeout=30)
    producer = Producer(kafka.librdkafka_config())
    for i in range(30):
        event = {"code": f"code-{i % 3}", "count": 1}
        producer.produce(source, key=f"k{i}".encode(), value=json.dumps(event).encode())
    assert producer.flush(30) == 0

    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, str(APP), "worker", "--loglevel", "info"],
        env={
            **os.environ,
            "FAUST_TEST_BROKER": kafka.bootstrap_servers,
            "FAUST_TEST_APP": app_id,
            "FAUST_TEST_SOURCE": source,
            "FAUST_TEST_SINK": sink,
            "FAUST_TEST_DATADIR": str(tmp_path / "faust"),
        },
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=APP.parent,
    )
    consumer = Consumer(
        {
            **kafka.librdkafka_config(),
            "group.id": unique("test-reader"),
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe([sink])
    latest: dict[bytes, bytes] = {}
    try:

        def all_counted() -> bool | None:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                latest[message.key() or b""] = message.value() or b""
            return True if sorted(latest.values()) == [b"10"] * 3 else None

        wait_for(all_counted, timeout=120, what="the worker to count every event")
        topics = admin.list_topics(timeout=10).topics
    finally:
        consumer.close()
        worker.terminate()
        worker.wait(timeout=60)
        log.close()

    assert latest == {b"code-0": b"10", b"code-1": b"10", b"code-2": b"10"}
    partitions = {name: len(meta.partitions) for name, meta in topics.items()}
    assert partitions[f"{app_id}-totals-changelog"] == 3
    assert partitions[f"{app_id}-__assignor-__leader"] == 1
    # Faust names repartition topics after the agent's module path; match on the source name.
    repartition = [n for n in partitions if n.endswith(f"-{source}-by-code-repartition")]
    assert [partitions[name] for name in repartition] == [3], partitions
    # Exactly-once: Faust ran transactional producers.
    assert "transactional producers" in (tmp_path / "worker.log").read_text()
