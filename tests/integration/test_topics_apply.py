"""`tracecode topics apply` against the real broker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka import TIMESTAMP_LOG_APPEND_TIME, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from schemas.kafka import KafkaConnection
from schemas.topics import TopicNames
from tests.helpers import unique, wait_for
from tracecode.settings import Settings
from tracecode.topics import (
    IncompatibleTopicError,
    TopicsConfig,
    admin_client,
    apply,
    describe,
    topic_specs,
)


def test_apply_creates_everything_then_changes_nothing(
    kafka: KafkaConnection, topic_names: TopicNames
) -> None:
    admin = admin_client(kafka)
    specs = topic_specs(topic_names, TopicsConfig(partitions=4))

    first = apply(admin, specs)
    assert [c.action for c in first.changes] == ["created"] * 8
    states = describe(admin, specs)
    assert all(s.exists and not s.config_drift and not s.problems for s in states)
    assert {s.spec.name: s.partitions for s in states}[topic_names.scans] == 4
    assert {s.spec.name: s.configs["cleanup.policy"] for s in states}[
        topic_names.status
    ] == "compact"

    second = apply(admin, specs)
    assert not second.changed
    assert sorted(second.unchanged) == sorted(s.name for s in specs)


def test_the_broker_stamps_the_input_records(
    kafka: KafkaConnection, topic_names: TopicNames
) -> None:
    """With broker timestamps, a producer's own timestamp gives way to the broker's append time
    on the inputs (the worker's arrival-order merge then orders by it), not on the outputs."""
    config = TopicsConfig(partitions=1, broker_timestamps=True)
    apply(admin_client(kafka), topic_specs(topic_names, config))
    producer = Producer(kafka.librdkafka_config())
    for topic in (topic_names.scans, topic_names.dispatches, topic_names.status):
        producer.produce(topic, key=b"code", value=b"value", timestamp=1_000)
    assert producer.flush(30) == 0
    consumer = Consumer(
        {**kafka.librdkafka_config(), "group.id": unique("stamps"), "enable.auto.commit": False}
    )
    stamps = {}
    try:
        for topic in (topic_names.scans, topic_names.dispatches, topic_names.status):
            consumer.assign([TopicPartition(topic, 0, 0)])
            message = wait_for(lambda: consumer.poll(1.0), timeout=30, what=f"the {topic} record")
            assert message.error() is None
            stamps[topic] = message.timestamp()
    finally:
        consumer.close()
    for topic in (topic_names.scans, topic_names.dispatches):
        kind, stamp = stamps[topic]
        assert kind == TIMESTAMP_LOG_APPEND_TIME
        assert stamp > 1_000_000_000_000  # the broker's clock, not the producer's 1 s
    assert stamps[topic_names.status][1] == 1_000


def test_apply_updates_drifted_configs(kafka: KafkaConnection, topic_names: TopicNames) -> None:
    admin = admin_client(kafka)
    apply(admin, topic_specs(topic_names, TopicsConfig(retention_hours=168)))

    result = apply(admin, topic_specs(topic_names, TopicsConfig(retention_hours=24)))

    updated = {c.topic: c.details for c in result.changes}
    # The compacted status topic and the dead letters have no event retention to change.
    assert set(updated) == {
        topic_names.scans,
        topic_names.dispatches,
        topic_names.history,
        topic_names.alerts,
    }
    assert updated[topic_names.scans] == ["retention.ms: 604800000 -> 86400000"]
    # The broker applies a config change once it has replayed it from the metadata log.
    wanted = topic_specs(topic_names, TopicsConfig(retention_hours=24))
    wait_for(
        lambda: True if all(not s.config_drift for s in describe(admin, wanted)) else None,
        timeout=30,
        what="the new retention to show in the topic configs",
    )


def test_wrong_partition_count_is_an_error_and_changes_nothing(
    kafka: KafkaConnection, topic_names: TopicNames
) -> None:
    admin = admin_client(kafka)
    raw = AdminClient(kafka.librdkafka_config())
    raw.create_topics([NewTopic(topic_names.dispatches, num_partitions=2, replication_factor=1)])[
        topic_names.dispatches
    ].result(timeout=30)
    wait_for(
        lambda: raw.list_topics(timeout=10).topics.get(topic_names.dispatches),
        timeout=30,
        what="the wrong topic in the metadata",
    )
    specs = topic_specs(topic_names, TopicsConfig(partitions=6))

    with pytest.raises(IncompatibleTopicError) as raised:
        apply(admin, specs)

    error = raised.value
    assert [(p.topic, p.property, p.expected, p.actual) for p in error.problems] == [
        (topic_names.dispatches, "partitions", 6, 2)
    ]
    assert "co-partitioning" in (error.hint or "")
    assert ".v2" in (error.hint or "")
    # Checked before anything changed: the other topics were not created.
    assert [s.exists for s in describe(admin, specs)] == [
        spec.name == topic_names.dispatches for spec in specs
    ]
    partitions = raw.list_topics(topic_names.dispatches, timeout=10).topics
    assert len(partitions[topic_names.dispatches].partitions) == 2


def run_cli(
    settings: Settings, prefix: str, *args: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TRACECODE_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_connection().bootstrap_servers,
        "TRACECODE_TOPICS_PREFIX": prefix,
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "tracecode", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_cli_apply_twice_reports_no_changes_the_second_time(
    kafka: KafkaConnection, settings: Settings, topic_names: TopicNames, tmp_path: Path
) -> None:
    prefix = topic_names.scans.removesuffix(TopicNames().scans)

    first = run_cli(settings, prefix, "topics", "apply", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("created") == 8

    second = run_cli(settings, prefix, "topics", "apply", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "No changes" in second.stdout
    assert "created" not in second.stdout

    listing = run_cli(settings, prefix, "topics", "list", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.count(" ok") == 8


def test_cli_apply_with_wrong_partitions_exits_non_zero_with_explanation(
    kafka: KafkaConnection, settings: Settings, topic_names: TopicNames, tmp_path: Path
) -> None:
    prefix = topic_names.scans.removesuffix(TopicNames().scans)
    raw = AdminClient(kafka.librdkafka_config())
    raw.create_topics([NewTopic(topic_names.scans, num_partitions=1, replication_factor=1)])[
        topic_names.scans
    ].result(timeout=30)
    wait_for(
        lambda: raw.list_topics(timeout=10).topics.get(topic_names.scans),
        timeout=30,
        what="the wrong topic in the metadata",
    )

    result = run_cli(settings, prefix, "topics", "apply", cwd=tmp_path)

    assert result.returncode == 1
    assert f"{topic_names.scans}: partitions is 1, the spec says 6" in result.stderr
    assert "co-partitioning" in result.stderr
    assert "Traceback" not in result.stderr
