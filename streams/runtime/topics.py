"""The changelog topic, created before the worker joins its group.

Faust declares a table's changelog topic only once the worker runs, while the group's first
assignment may already be computed: an assignment made while the topic is missing gave the
workers of a fresh group no partitions at all (``Ignoring missing topic``) for minutes. So the
worker creates the topic itself before Faust starts, as Faust would have (compacted, one
partition per input partition), and waits until the cluster's metadata lists it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from streams.config import WorkerConfig

logger = logging.getLogger(__name__)


class ChangelogTopicError(Exception):
    """The changelog topic cannot be created, or does not fit the worker's partitions."""


def ensure_changelog(config: WorkerConfig, timeout: float = 30.0) -> bool:
    """Create the ``shipments`` changelog topic unless it exists; ``True`` when created.

    Raises :class:`ChangelogTopicError` when it cannot, and ``KafkaException`` while the
    broker does not answer.
    """
    properties: dict[str, Any] = {
        **config.kafka.librdkafka_config(),
        "logger": logging.getLogger(f"{__name__}.librdkafka"),
    }
    admin = AdminClient(properties)
    topic = config.changelog_topic
    created = False
    if _partitions(admin, topic, timeout) is None:
        spec = NewTopic(
            topic,
            num_partitions=config.partitions,
            replication_factor=config.replication_factor,
            config={"cleanup.policy": "compact"},
        )
        try:
            admin.create_topics([spec], operation_timeout=timeout)[topic].result(timeout)
            created = True
        except KafkaException as error:
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:  # another worker's
                raise ChangelogTopicError(
                    f"cannot create the changelog topic {topic}: {error.args[0].str()}; create "
                    "it by hand (compacted, one partition per input partition) or grant the "
                    "worker CREATE on the cluster"
                ) from None
    deadline = time.monotonic() + timeout
    while (partitions := _partitions(admin, topic, timeout)) is None:
        if time.monotonic() > deadline:
            raise ChangelogTopicError(f"the changelog topic {topic} did not appear in {timeout} s")
        time.sleep(0.2)
    if partitions != config.partitions:
        raise ChangelogTopicError(
            f"the changelog topic {topic} has {partitions} partitions, the inputs "
            f"{config.partitions}: a table partition must match its input partition"
        )
    if created:
        logger.info("changelog topic created", extra={"topic": topic, "partitions": partitions})
    return created


def _partitions(admin: AdminClient, topic: str, timeout: float) -> int | None:
    """How many partitions ``topic`` has, all with a leader; ``None`` while it has none."""
    # Metadata of every topic: a request naming the topic could auto-create it, uncompacted.
    metadata = admin.list_topics(timeout=timeout).topics.get(topic)
    if metadata is None or metadata.error is not None or not metadata.partitions:
        return None
    if any(p.leader < 0 for p in metadata.partitions.values()):
        return None
    return len(metadata.partitions)
