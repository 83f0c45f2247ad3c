"""The worker creates its changelog topic before it joins its group (real broker)."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from schemas.kafka import KafkaConnection
from schemas.topics import TopicNames
from streams.config import WorkerConfig
from streams.runtime.topics import ChangelogTopicError, ensure_changelog
from tests.helpers import unique


def config(kafka: KafkaConnection, tmp_path: Path, partitions: int = 3) -> WorkerConfig:
    return WorkerConfig(
        kafka=kafka,
        topics=TopicNames().with_prefix(unique("test-changelog") + "."),
        state_dir=tmp_path,
        partitions=partitions,
        app_id=unique("test-changelog"),
    )


def test_a_fresh_group_gets_a_compacted_changelog_with_one_partition_per_input(
    kafka: KafkaConnection, tmp_path: Path
) -> None:
    worker = config(kafka, tmp_path)
    assert ensure_changelog(worker) is True
    admin = AdminClient(kafka.librdkafka_config())
    topic = admin.list_topics(timeout=10).topics[worker.changelog_topic]
    assert len(topic.partitions) == 3
    resource = ConfigResource(ConfigResource.Type.TOPIC, worker.changelog_topic)
    settings = admin.describe_configs([resource])[resource].result()
    assert settings["cleanup.policy"].value == "compact"
    assert ensure_changelog(worker) is False, "an existing topic is left alone"


def test_a_changelog_with_other_partitions_is_refused(
    kafka: KafkaConnection, tmp_path: Path
) -> None:
    worker = config(kafka, tmp_path, partitions=3)
    admin = AdminClient(kafka.librdkafka_config())
    spec = NewTopic(worker.changelog_topic, num_partitions=2, replication_factor=1)
    admin.create_topics([spec])[worker.changelog_topic].result(30)
    with pytest.raises(ChangelogTopicError, match="has 2 partitions, the inputs 3"):
        ensure_changelog(worker)
