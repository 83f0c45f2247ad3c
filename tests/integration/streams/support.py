"""Running real ``tracecode worker`` processes, reading topics back, and the reference join."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from schemas.codec import codec_for
from schemas.codes import DEFAULT_MARKETPLACE_FORMAT
from schemas.errors import CodecError
from schemas.framing import Framing
from schemas.kafka import KafkaConnection
from schemas.records import RecordType, ShipmentAlert, ShipmentState, ShipmentStatusChanged, to_json
from schemas.topics import TopicNames
from streams.join.merge import merge_key, merged
from streams.join.partition import PartitionJoin
from streams.join.transition import Rules
from streams.runtime.processor import Rejected, read_event
from tests.helpers import free_port, unique, wait_for
from tracecode.topics import TopicsConfig, admin_client, apply, topic_specs

PARTITIONS = 6
NOW = datetime(2026, 11, 26, tzinfo=UTC)
"""Wall-clock time of the reference join (wall-clock fields are not compared)."""
WALL_CLOCK_FIELDS = frozenset({"updated_at", "emitted_at", "processed_time"})


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None


def create_topics(
    kafka: KafkaConnection,
    prefix: str,
    partitions: int = PARTITIONS,
    broker_timestamps: bool = False,
) -> TopicNames:
    """The tracecode topics under ``prefix``, created as ``tracecode topics apply`` does."""
    names = TopicNames().with_prefix(prefix)
    config = TopicsConfig(partitions=partitions, broker_timestamps=broker_timestamps)
    apply(admin_client(kafka), topic_specs(names, config))
    return names


def read_topic(kafka: KafkaConnection, topic: str) -> list[Record]:
    """Every committed record of ``topic``, partition by partition in offset order."""
    consumer = Consumer(
        {
            **kafka.librdkafka_config(),
            "group.id": unique("reader"),
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        partitions = sorted(metadata.partitions)
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in partitions
        }
        pending = {p for p in partitions if ends[p] > 0}
        consumer.assign([TopicPartition(topic, p, 0) for p in pending])
        records: list[Record] = []
        deadline = time.monotonic() + 60
        while pending:
            if time.monotonic() > deadline:
                raise AssertionError(f"reading {topic} did not reach the end of {sorted(pending)}")
            message = consumer.poll(1.0)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == error._PARTITION_EOF:
                    pending.discard(message.partition())
                    continue
                raise AssertionError(f"reading {topic}: {error}")
            records.append(
                Record(
                    topic,
                    message.partition(),
                    message.offset(),
                    message.timestamp()[1],
                    message.key(),
                    message.value(),
                )
            )
        records.sort(key=lambda r: (r.partition, r.offset))
        return records
    finally:
        consumer.close()


def decoded(records: Iterable[Record], record_type: RecordType) -> Iterator[Any]:
    codec = codec_for(record_type)
    for record in records:
        assert record.value is not None
        yield codec.decode(record.value)


@dataclass
class Reference:
    """What the join makes of the input topics: the same code the worker runs, in one process."""

    states: dict[str, ShipmentState] = field(default_factory=dict)
    stream_time: dict[int, datetime | None] = field(default_factory=dict)
    partition_of: dict[str, int] = field(default_factory=dict)
    status_changes: dict[str, list[ShipmentStatusChanged]] = field(
        default_factory=lambda: defaultdict(list)
    )
    alerts: dict[str, list[ShipmentAlert]] = field(default_factory=lambda: defaultdict(list))
    history_ids: list[tuple[str, str]] = field(default_factory=list)
    """(code, event id) of every history record."""
    rejected: dict[tuple[str, int, int], str] = field(default_factory=dict)
    """(topic, partition, offset) -> stage of every input record the join cannot use."""


def reference_join(
    kafka: KafkaConnection,
    topics: TopicNames,
    rules: Rules | None = None,
    framing: Framing | None = None,
) -> Reference:
    """Replay the input topics through :class:`PartitionJoin`, partition by partition, in the
    worker's arrival order (``framing``: inputs in Confluent framing too)."""
    rules = rules or Rules()
    inputs = {topics.dispatches: RecordType.SELLER_DISPATCH, topics.scans: RecordType.CARRIER_SCAN}
    by_partition: dict[int, dict[str, list[Record]]] = defaultdict(lambda: defaultdict(list))
    for topic in inputs:
        for record in read_topic(kafka, topic):
            by_partition[record.partition][topic].append(record)
    reference = Reference()
    ranks = {topic: rank for rank, topic in enumerate(inputs)}
    for partition in range(PARTITIONS):
        states = reference.states
        join = PartitionJoin(rules, states.get)
        streams = [
            [
                (merge_key(r.timestamp_ms, ranks[topic], r.offset), r)
                for r in by_partition[partition][topic]
            ]
            for topic in inputs
        ]
        for record in merged(streams):
            try:
                value = record.value
                if framing is not None and value:
                    value = framing.single_object(value)
                event = read_event(
                    inputs[record.topic], record.key, value, DEFAULT_MARKETPLACE_FORMAT
                )
            except CodecError:
                reference.rejected[(record.topic, record.partition, record.offset)] = "decode"
                continue
            except Rejected as rejected:
                reference.rejected[(record.topic, record.partition, record.offset)] = (
                    rejected.stage.value
                )
                continue
            reference.partition_of[event["code"]] = partition
            step = join.process(event, NOW)
            states.update(step.writes)
            for code, transition in step.changes:
                if transition.history is not None:
                    reference.history_ids.append((code, transition.history["event_id"]))
                if transition.status_change is not None:
                    reference.status_changes[code].append(transition.status_change)
                reference.alerts[code].extend(transition.alerts)
        reference.stream_time[partition] = join.stream_time
    return reference


def comparable(value: Any) -> Any:
    """A record or state as JSON, without the wall-clock fields."""
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if k not in WALL_CLOCK_FIELDS}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return to_json(value)


def differences(actual: Any, expected: Any) -> dict[str, tuple[Any, Any]]:
    """The top-level fields in which two comparable states differ."""
    actual, expected = comparable(actual), comparable(expected)
    return {
        key: (actual.get(key), expected.get(key))
        for key in sorted(set(actual) | set(expected))
        if actual.get(key) != expected.get(key)
    }


class WorkerProcess:
    """One ``tracecode worker`` process with its own id, web port and data folder."""

    def __init__(
        self,
        kafka: KafkaConnection,
        prefix: str,
        group: str,
        worker_id: str,
        data_dir: Path,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.worker_id = worker_id
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / f"{worker_id}.log"
        self.env = {
            **os.environ,
            "TRACECODE_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "TRACECODE_TOPICS_PREFIX": prefix,
            "TRACECODE_TOPICS_PARTITIONS": str(PARTITIONS),
            "TRACECODE_DATA_DIR": str(data_dir),
            "TRACECODE_WORKER_ID": worker_id,
            "TRACECODE_WORKER_GROUP": group,
            "TRACECODE_WORKER_WEB_PORT": str(self.port),
            "TRACECODE_WORKER_SESSION_TIMEOUT": "10",
            "TRACECODE_LOG_LEVEL": "INFO",
            **(extra_env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tracecode", "worker"], env=self.env, stdout=log, stderr=log
            )
        return self

    def wait_ready(self, timeout: float = 120.0) -> dict[str, Any]:
        def ready() -> dict[str, Any] | None:
            self._check_alive()
            status, body = self.get("/health")
            return body if status == 200 else None

        return wait_for(ready, timeout, f"worker {self.worker_id} to be ready", interval=0.5)

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            body = error.read() or b"null"
            try:
                return error.code, json.loads(body)
            except ValueError:  # aiohttp's own error pages are text
                return error.code, body.decode(errors="replace")
        except (urllib.error.URLError, ConnectionError):
            return 0, None

    def metrics(self) -> str:
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as response:
            text: str = response.read().decode()
            return text

    def get_response(self, path: str) -> tuple[int, dict[str, str], Any]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:
                return response.status, dict(response.headers), json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), json.loads(error.read() or b"null")

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 60.0) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        code = self.process.wait(timeout)
        self.process = None
        return code

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        self.process = None

    def _check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            log = self.log.read_text(errors="replace")
            # The tail shows the stop; the cause is the first crash logged before it.
            crash = next((line for line in log.splitlines() if "Crashed reason=" in line), "")
            raise AssertionError(
                f"worker {self.worker_id} exited with {self.process.returncode}:\n"
                f"{crash[:6000]}\n[...]\n{log[-4000:]}"
            )


def wait_until_idle(
    kafka: KafkaConnection, group: str, topics: TopicNames, timeout: float = 240.0
) -> None:
    """Until the group has committed every input record and the outputs stopped growing."""
    admin = AdminClient(kafka.librdkafka_config())
    consumer = Consumer({**kafka.librdkafka_config(), "group.id": unique("lag")})
    inputs = [
        TopicPartition(t, p) for t in (topics.scans, topics.dispatches) for p in range(PARTITIONS)
    ]
    outputs = [
        TopicPartition(t, p)
        for t in (topics.status, topics.history, topics.alerts)
        for p in range(PARTITIONS)
    ]

    def ends(tps: list[TopicPartition]) -> list[int]:
        return [consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in tps]

    last_outputs: list[int] = []
    lagging: dict[str, int] = {}

    def idle() -> bool | None:
        nonlocal last_outputs, lagging
        request = ConsumerGroupTopicPartitions(group, inputs)
        result = admin.list_consumer_group_offsets([request])[group].result()
        committed = {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions}
        lagging = {
            f"{tp.topic}[{tp.partition}]": end - max(committed[(tp.topic, tp.partition)], 0)
            for tp, end in zip(inputs, ends(inputs), strict=True)
            if end > max(committed[(tp.topic, tp.partition)], 0)
        }
        outputs_now = ends(outputs)
        quiet = not lagging and outputs_now == last_outputs
        last_outputs = outputs_now
        return True if quiet else None

    try:
        wait_for(idle, timeout, "the workers to process every input record", interval=1.0)
    except AssertionError as error:
        raise AssertionError(f"{error}; records not committed: {lagging}") from None
    finally:
        consumer.close()
