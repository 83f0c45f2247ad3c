"""The producer's configuration: a plain object the shell builds from the settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from schemas.framing import SchemaRegistryConnection
from schemas.kafka import KafkaConnection
from schemas.topics import TopicNames

Compression = Literal["none", "gzip", "snappy", "lz4", "zstd"]


@dataclass(frozen=True, slots=True)
class ProducerConfig:
    """How events are published: where, and the producer's tuning.

    The defaults favour throughput with every guarantee kept: idempotence (no duplicates or
    reordering on retries), ``acks=all``, batches that wait up to ``linger_ms`` to fill, and
    zstd compression: ``bench/producer.py`` measures the same throughput as lz4 with 40 % fewer
    bytes stored and sent (docs/producing.md).
    """

    connection: KafkaConnection
    topics: TopicNames = field(default_factory=TopicNames)
    schema_registry: SchemaRegistryConnection | None = None
    """The Schema Registry: events are written in Confluent framing; ``None``: single-object."""
    client_id: str = "tracecode-producer"
    compression: Compression = "zstd"
    linger_ms: float = 20.0
    """How long a partition's batch may wait for more events before it is sent."""
    batch_size: int = 1_000_000
    """Largest batch per partition, in bytes."""
    queue_max_messages: int = 200_000
    """Events the local queue holds before ``produce`` must wait for deliveries."""
    delivery_timeout_ms: int = 120_000
    """How long an event may take to be acknowledged, retries included, before it fails."""
    validate: bool = True
    """Check each record against ``schemas.validation`` before sending it."""
    max_failures_kept: int = 10_000
    """Delivery failures kept with their event ids (all are counted)."""
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """Further librdkafka properties; they override the ones above."""

    def __post_init__(self) -> None:
        if self.linger_ms < 0:
            raise ValueError(f"linger_ms must be 0 or more, not {self.linger_ms}")
        for name in ("batch_size", "queue_max_messages", "delivery_timeout_ms"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)}")

    def librdkafka(self) -> dict[str, Any]:
        """The librdkafka properties of the producer."""
        return {
            **self.connection.librdkafka_config(),
            "client.id": self.client_id,
            "enable.idempotence": True,
            "acks": "all",
            "compression.type": self.compression,
            "linger.ms": self.linger_ms,
            "batch.size": self.batch_size,
            "queue.buffering.max.messages": self.queue_max_messages,
            "delivery.timeout.ms": self.delivery_timeout_ms,
            # A single broker shutting down reports its partitions leaderless; once it is back,
            # librdkafka may learn their leader only at its next periodic metadata refresh (5 min
            # by default, past the delivery timeout): every event queued meanwhile then fails.
            "topic.metadata.refresh.interval.ms": 10_000,
            # Java-compatible murmur2 on the key: the partition Faust's table router expects,
            # and the same partition number for a code's scans and dispatches.
            "partitioner": "murmur2_random",
            **self.extra,
        }
