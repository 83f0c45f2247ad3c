"""One worker's throughput next to raw confluent-kafka consume + decode of the same input.

Run: ``python -m bench.worker`` (or ``.venv/bin/python bench/worker.py``); the broker must be up
(``tracecode broker up``). A simulator run (all hard cases) is published once into fresh topics
with the configured partition count; then, in the same run:

- ``raw``: a confluent-kafka consumer reads both input topics from the start and decodes every
  record (``schemas.codec``): the ceiling of reading the input in Python;
- ``worker``: one ``tracecode worker`` process (a real subprocess, its own group and state
  folder) joins the same input, once exactly-once and once at-least-once. Its throughput is
  measured from the output: input events divided by the time between the first and the last
  history record it wrote (record timestamps, set when the worker sends them), once the group
  has committed every input record.

Prints events/s for each and the ratio to the raw ceiling. Never asserted: the machines are
shared and noisy, compare the figures of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from producers.config import ProducerConfig
from producers.core import EventProducer
from producers.simulator import SimulationConfig, simulate
from schemas.codec import codec_for
from schemas.kafka import KafkaConnection
from schemas.records import RecordType
from schemas.topics import TopicNames
from tracecode.settings import Settings, load_settings
from tracecode.topics import admin_client, apply, topic_specs

_UNTIL = datetime(2026, 11, 1, tzinfo=UTC)
_GROUP = "bench"


def _publish(settings: Settings, topics: TopicNames, shipments: int) -> int:
    simulation = simulate(SimulationConfig(shipments=shipments, until=_UNTIL, seed=7))
    config = ProducerConfig(connection=settings.kafka_connection(), topics=topics)
    with EventProducer(config) as producer:
        for event in simulation.events():
            producer.send(event.kind, event.record)
    return simulation.event_count


def _partitions(kafka: KafkaConnection, topic: str) -> list[TopicPartition]:
    admin = AdminClient(kafka.librdkafka_config())
    metadata = admin.list_topics(topic, timeout=10).topics[topic]
    return [TopicPartition(topic, partition, 0) for partition in sorted(metadata.partitions)]


def _raw(kafka: KafkaConnection, topics: TopicNames, events: int) -> float:
    codecs = {
        topics.scans: codec_for(RecordType.CARRIER_SCAN),
        topics.dispatches: codec_for(RecordType.SELLER_DISPATCH),
    }
    consumer = Consumer(
        {
            **kafka.librdkafka_config(),
            "group.id": f"bench-raw-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    consumer.assign(_partitions(kafka, topics.scans) + _partitions(kafka, topics.dispatches))
    started = time.perf_counter()
    seen = 0
    while seen < events:
        for message in consumer.consume(10_000, timeout=1.0):
            if message.error() is None:
                codecs[message.topic()].decode(message.value())
                seen += 1
    elapsed = time.perf_counter() - started
    consumer.close()
    return events / elapsed


def _lag(kafka: KafkaConnection, group: str, topics: TopicNames) -> int:
    admin = AdminClient(kafka.librdkafka_config())
    tps = _partitions(kafka, topics.scans) + _partitions(kafka, topics.dispatches)
    request = ConsumerGroupTopicPartitions(
        group, [TopicPartition(tp.topic, tp.partition) for tp in tps]
    )
    committed = {
        (tp.topic, tp.partition): max(tp.offset, 0)
        for tp in admin.list_consumer_group_offsets([request])[group].result().topic_partitions
    }
    consumer = Consumer({**kafka.librdkafka_config(), "group.id": group})
    try:
        ends = {
            (tp.topic, tp.partition): consumer.get_watermark_offsets(tp, timeout=10)[1]
            for tp in tps
        }
    finally:
        consumer.close()
    return sum(end - committed[key] for key, end in ends.items())


def _span(kafka: KafkaConnection, topic: str, since: float) -> float:
    """Seconds between the first and the last committed record of ``topic`` written after
    ``since`` (Unix time): the worker runs of one bench share the output topics."""
    consumer = Consumer(
        {
            **kafka.librdkafka_config(),
            "group.id": f"bench-read-{uuid.uuid4().hex[:8]}",
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
        }
    )
    partitions = _partitions(kafka, topic)
    consumer.assign(partitions)
    pending = {tp.partition for tp in partitions}
    first = last = None
    while pending:
        message = consumer.poll(1.0)
        if message is None:
            continue
        if message.error() is not None:
            pending.discard(message.partition())
            continue
        stamp = message.timestamp()[1] / 1000
        if stamp < since:
            continue
        first = stamp if first is None else min(first, stamp)
        last = stamp if last is None else max(last, stamp)
    consumer.close()
    assert first is not None and last is not None, f"{topic} is empty"
    return last - first


def _worker(
    settings: Settings, prefix: str, guarantee: str, topics: TopicNames, events: int
) -> tuple[float, float]:
    """Events/s from the output, and wall seconds from ready to idle."""
    group = f"{_GROUP}-{guarantee.replace('_', '-')}"
    kafka = settings.kafka_connection()
    with tempfile.TemporaryDirectory(prefix="tracecode-bench-") as data:
        port = _free_port()
        env = {
            **os.environ,
            "TRACECODE_TOPICS_PREFIX": prefix,
            "TRACECODE_DATA_DIR": data,
            "TRACECODE_WORKER_GROUP": group,
            "TRACECODE_WORKER_WEB_PORT": str(port),
            "TRACECODE_WORKER_PROCESSING_GUARANTEE": guarantee,
        }
        log = Path(data) / "worker.log"
        since = time.time()
        with log.open("wb") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "tracecode", "worker"], env=env, stdout=out, stderr=out
            )
        try:
            _wait(lambda: _ready(port), 120, "the worker to be ready", worker, log)
            started = time.perf_counter()
            _wait(lambda: _lag(kafka, prefix + group, topics) == 0, 1800, "idle", worker, log)
            wall = time.perf_counter() - started
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(120)
    return events / _span(kafka, topics.history, since), wall


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            return bool(json.loads(response.read())["status"] == "ready")
    except OSError:
        return False


def _wait(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    worker: subprocess.Popen[bytes],
    log: Path,
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if worker.poll() is not None:
            raise SystemExit(f"the worker exited:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.5)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=2000)
    args = parser.parse_args()
    settings = load_settings()
    kafka = settings.kafka_connection()
    prefix = f"bench-worker-{uuid.uuid4().hex[:8]}."
    topics = TopicNames().with_prefix(prefix)
    apply(admin_client(kafka), topic_specs(topics, settings.topics_config()))
    try:
        events = _publish(settings, topics, args.shipments)
        print(
            f"input: {args.shipments} shipments, {events} events, "
            f"{settings.topics.partitions} partitions"
        )
        raw = _raw(kafka, topics, events)
        print(f"raw confluent-kafka consume + decode: {raw:10,.0f} events/s")
        for guarantee in ("exactly_once", "at_least_once"):
            rate, wall = _worker(settings, prefix, guarantee, topics, events)
            print(
                f"worker ({guarantee:>13}):             {rate:10,.0f} events/s "
                f"({rate / raw:.2f} of raw; {wall:.0f} s from ready to idle)"
            )
    finally:
        admin = AdminClient(kafka.librdkafka_config())
        mine = [name for name in admin.list_topics(timeout=10).topics if name.startswith(prefix)]
        if mine:
            for future in admin.delete_topics(mine, operation_timeout=30).values():
                future.result()


if __name__ == "__main__":
    main()
