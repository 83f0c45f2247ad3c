"""Publishing against the real broker: the simulator through the producer core, file replay,
and the commands end to end (including Ctrl-C in the middle of a run)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import murmur2
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Message, TopicPartition

from producers.config import ProducerConfig
from producers.core import EventProducer
from producers.events import EventKind
from producers.files import read_events, to_json_line
from producers.replay import replay
from producers.simulator import SimulationConfig, Tally, simulate
from schemas.codec import codec_for
from schemas.codes import parse_code
from schemas.kafka import KafkaConnection
from schemas.topics import TopicNames
from tests.helpers import unique, wait_for
from tracecode.settings import Settings
from tracecode.topics import admin_client, apply, topic_specs

UNTIL = datetime(2026, 11, 1, tzinfo=UTC)
TRACECODE = str(Path(sys.executable).with_name("tracecode"))


def create_input_topics(kafka: KafkaConnection, names: TopicNames, settings: Settings) -> int:
    wanted = (names.scans, names.dispatches)
    specs = [s for s in topic_specs(names, settings.topics_config()) if s.name in wanted]
    apply(admin_client(kafka), specs)
    return settings.topics.partitions


def read_topic(kafka: KafkaConnection, topic: str, timeout: float = 60.0) -> list[Message]:
    """Every record in ``topic`` now: each partition read up to its high watermark."""
    consumer = Consumer({**kafka.librdkafka_config(), "group.id": unique("test-reader")})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in partitions
        }
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        messages: list[Message] = []
        expected = sum(ends.values())
        deadline = time.monotonic() + timeout
        while len(messages) < expected:
            assert time.monotonic() < deadline, f"read {len(messages)} of {expected} records"
            message = consumer.poll(0.5)
            if message is not None:
                assert message.error() is None, message.error()
                messages.append(message)
        return messages
    finally:
        consumer.close()


def test_simulated_traffic_lands_decodable_keyed_and_co_partitioned(
    kafka: KafkaConnection, topic_names: TopicNames, settings: Settings
) -> None:
    partitions = create_input_topics(kafka, topic_names, settings)
    simulation = simulate(SimulationConfig(shipments=1200, until=UNTIL, seed=21))
    tally = Tally(simulation)
    with EventProducer(ProducerConfig(kafka, topics=topic_names)) as producer:
        producer.ensure_topics()
        for event in simulation.events():
            producer.send(event.kind, event.record)
            tally.add(event)
    stats = producer.stats
    assert stats.acknowledged == stats.sent == tally.events == simulation.event_count
    assert stats.failed == 0

    partition_of_code: defaultdict[str, set[int]] = defaultdict(set)
    received: Counter[tuple[EventKind, str]] = Counter()
    for kind in EventKind:
        messages = read_topic(kafka, kind.topic(topic_names))
        assert len(messages) == tally.by_kind[kind]
        codec = codec_for(kind.record_type)
        for message in messages:
            record = codec.decode(message.value())  # type: ignore[arg-type]
            key = message.key()
            assert isinstance(key, bytes)
            code = key.decode()
            assert code == record["code"] == parse_code(code).canonical
            assert message.partition() == (murmur2(key) & 0x7FFFFFFF) % partitions
            partition_of_code[code].add(message.partition())  # type: ignore[arg-type]
            received[kind, record["event_id"]] += 1
    assert all(len(found) == 1 for found in partition_of_code.values())
    assert set(partition_of_code) == set(simulation.truth)
    sent = Counter((e.kind, e.record["event_id"]) for e in simulation.events())
    assert received == sent


def test_replay_publishes_every_good_line_and_reports_each_bad_one(
    kafka: KafkaConnection, topic_names: TopicNames, settings: Settings
) -> None:
    create_input_topics(kafka, topic_names, settings)
    events = [
        e
        for e in simulate(SimulationConfig(20, UNTIL, seed=8)).events()
        if e.kind is EventKind.SCAN
    ]
    lines = [to_json_line(e.kind, e.record) for e in events]
    good = dict(enumerate(lines, start=1))
    bad = {
        3: "{not json",
        7: json.dumps({**json.loads(lines[6]), "code": "TC12"}),
        11: lines[10].replace('"carrier": ', '"courier": '),
        15: json.dumps({**json.loads(lines[14]), "event_time": "2026-10-01 10:00"}),
    }
    good = {n: line for n, line in good.items() if n not in bad}
    text = "\n".join(bad.get(n, line) for n, line in enumerate(lines, start=1)) + "\n"

    with EventProducer(ProducerConfig(kafka, topics=topic_names)) as producer:
        report = replay(read_events(io.StringIO(text), EventKind.SCAN), producer.send_scan)
    assert report.published == len(good) == producer.stats.acknowledged
    assert [(e.line, e.reason.split(":")[0]) for e in report.rejected] == [
        (3, "not valid JSON"),
        (7, "bad code 'TC12'"),
        (11, "unknown field 'courier'"),
        (15, "bad timestamp in 'event_time'"),
    ]
    codec = codec_for(EventKind.SCAN.record_type)
    published = {codec.decode(m.value())["event_id"] for m in read_topic(kafka, topic_names.scans)}  # type: ignore[arg-type]
    assert published == {json.loads(line)["event_id"] for line in good.values()}


def _env(prefix: str) -> dict[str, str]:
    return {**os.environ, "TRACECODE_TOPICS_PREFIX": prefix, "COLUMNS": "200"}


def test_dry_run_piped_into_ingest_publishes_the_same_events(
    kafka: KafkaConnection, settings: Settings
) -> None:
    prefix = unique("test") + "."
    env = _env(prefix)
    subprocess.run([TRACECODE, "topics", "apply"], env=env, check=True, capture_output=True)
    simulated = subprocess.run(
        [TRACECODE, "simulate", "-n", "150", "--until", "2026-11-01", "--dry-run"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    kinds = Counter(json.loads(line)["kind"] for line in simulated.splitlines())
    names = TopicNames().with_prefix(prefix)
    for kind in EventKind:
        done = subprocess.run(
            [TRACECODE, "ingest", kind.plural, "-"],
            input=simulated,
            check=False,
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        assert f"{kinds[kind.value]:,} published, {kinds[kind.value]:,} acknowledged" in done.stdout
        assert len(read_topic(kafka, kind.topic(names))) == kinds[kind.value]


def test_ctrl_c_during_a_run_delivers_what_was_sent_and_reports_it(
    kafka: KafkaConnection,
) -> None:
    prefix = unique("test") + "."
    env = _env(prefix)
    subprocess.run([TRACECODE, "topics", "apply"], env=env, check=True, capture_output=True)
    names = TopicNames().with_prefix(prefix)
    run = subprocess.Popen(
        [TRACECODE, "simulate", "-n", "5000", "--rate", "2000", "--until", "2026-11-01"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: True if _high_watermark(kafka, names.scans) >= 500 else None,
            timeout=60,
            what="the run to publish 500 scans",
            interval=0.2,
        )
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130, err
    assert "stopped early" in out
    match = re.search(r"Published ([\d,]+) events to .*: ([\d,]+) acknowledged, 0 failed", out)
    assert match, out
    sent, acked = (int(group.replace(",", "")) for group in match.groups())
    assert sent == acked
    stored = sum(len(read_topic(kafka, kind.topic(names))) for kind in EventKind)
    assert stored == acked
    assert acked < 5000 * 14  # it did stop early


def _high_watermark(kafka: KafkaConnection, topic: str) -> int:
    """Records in ``topic`` so far (0 while its partitions are still getting leaders)."""
    consumer = Consumer({**kafka.librdkafka_config(), "group.id": unique("test-watch")})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in partitions
        )
    except KafkaException:
        return 0
    finally:
        consumer.close()


def test_publishing_without_topics_says_what_to_do(kafka: KafkaConnection) -> None:
    env = _env(unique("test") + ".")
    done = subprocess.run(
        [TRACECODE, "simulate", "-n", "10", "--until", "2026-11-01"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "do not exist" in done.stderr
    assert "tracecode topics apply" in done.stderr


def test_the_workers_client_reads_the_compressed_batches(
    kafka: KafkaConnection, topic_names: TopicNames, settings: Settings
) -> None:
    """Faust consumes with aiokafka, which needs cramjam to decompress zstd and lz4 batches."""
    create_input_topics(kafka, topic_names, settings)
    events = [
        e
        for e in simulate(SimulationConfig(20, UNTIL, seed=3)).events()
        if e.kind is EventKind.SCAN
    ]
    config = ProducerConfig(kafka, topics=topic_names)
    assert config.compression == "zstd"
    with EventProducer(config) as producer:
        for event in events:
            producer.send(event.kind, event.record)

    async def consume() -> list[bytes]:
        consumer = AIOKafkaConsumer(
            topic_names.scans,
            bootstrap_servers=kafka.bootstrap_servers,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=unique("test-aiokafka"),
        )
        await consumer.start()
        values: list[bytes] = []
        try:
            async with asyncio.timeout(60):
                while len(values) < len(events):
                    batches = await consumer.getmany(timeout_ms=500)
                    values += [m.value for batch in batches.values() for m in batch if m.value]
        finally:
            await consumer.stop()
        return values

    codec = codec_for(EventKind.SCAN.record_type)
    received = {codec.decode(value)["event_id"] for value in asyncio.run(consume())}
    assert received == {e.record["event_id"] for e in events}
