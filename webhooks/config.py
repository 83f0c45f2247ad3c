"""The webhooks service's configuration: a plain frozen object the shell builds from settings."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from schemas.framing import SchemaRegistryConnection
from schemas.kafka import KafkaConnection
from schemas.topics import TopicNames

MAX_IN_FLIGHT = 64


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter between the attempts of one delivery."""

    initial: float = 1.0
    """Seconds before the first retry, before jitter."""
    maximum: float = 3600.0
    """Cap of the delay between two attempts, before jitter."""

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum:
            raise ValueError("backoff needs 0 < initial <= maximum")

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after ``attempts`` failed attempts (1-based): the capped exponential
        delay times a random factor in [0.5, 1), so subscribers that failed together do not
        retry together."""
        base = min(self.maximum, self.initial * 2.0 ** max(0, attempts - 1))
        return base * (0.5 + 0.5 * (rng or random).random())


@dataclass(frozen=True, slots=True)
class WebhooksConfig:
    """Everything the webhooks service needs; see ``tracecode.settings`` for the defaults."""

    kafka: KafkaConnection
    topics: TopicNames
    schema_registry: SchemaRegistryConnection | None = None
    """The Schema Registry: records are read in either framing and dead letters written in
    Confluent framing; ``None``: single-object framing only."""
    group_prefix: str = "tracecode-webhooks"
    """Each subscription reads in a consumer group of its own: ``<group_prefix>.<id>``."""
    request_timeout: float = 10.0
    """Seconds one POST may take (connect, send, answer) before it counts as failed."""
    backoff: Backoff = field(default_factory=Backoff)
    horizon: float = 86_400.0
    """Seconds after its record was emitted that a delivery is given up (dead-lettered)."""
    in_flight: int = 16
    """Deliveries one subscriber may have outstanding at once (sent or waiting to retry)."""
    metrics_port: int | None = 9465
    """Port of ``/metrics``; None: off."""
    metrics_host: str = "127.0.0.1"
    poll_timeout: float = 0.2
    """Seconds one consumer poll waits for records."""
    commit_interval: float = 1.0
    """Seconds between commits of a subscriber's progress and retry state."""
    session_timeout: float = 45.0

    def __post_init__(self) -> None:
        if self.request_timeout <= 0:
            raise ValueError("request_timeout must be positive")
        if self.horizon <= 0:
            raise ValueError("horizon must be positive")
        if not 1 <= self.in_flight <= MAX_IN_FLIGHT:
            # The pending records' retry state must fit in the commit metadata.
            raise ValueError(f"in_flight must be between 1 and {MAX_IN_FLIGHT}")
        if self.commit_interval <= 0:
            raise ValueError("commit_interval must be positive")

    def group_id(self, subscription_id: str) -> str:
        """The consumer group of one subscription."""
        return f"{self.group_prefix}.{subscription_id}"
