"""Topics as code: one declarative spec per tracecode topic, applied idempotently.

:func:`topic_specs` turns the topic names and a :class:`TopicsConfig` into :class:`TopicSpec`
objects; :func:`apply` creates the missing topics and brings the configs of existing ones in line.
A partition count is never changed in place: Kafka routes a key to ``hash(key) % partitions``, so
changing it moves keys between partitions, breaks the co-partitioning of scans and dispatches
(the join reads both sides of a code from the same partition number) and strands the state
already built for each key. Such a change is a new topic generation (``.v2`` names) instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from schemas.kafka import KafkaConnection
from schemas.topics import TopicNames
from tracecode.errors import TracecodeError

logger = logging.getLogger(__name__)

_HOUR_MS = 3_600_000


class TopicsError(TracecodeError):
    """Topics could not be inspected or changed."""


class KafkaUnreachableError(TopicsError):
    """No broker answered at the configured bootstrap servers."""


class IncompatibleTopicError(TopicsError):
    """Existing topics differ from the spec in a way that must not be changed in place."""

    def __init__(self, message: str, *, problems: Sequence[Incompatibility], hint: str) -> None:
        super().__init__(message, hint=hint)
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class Incompatibility:
    """One property of an existing topic that :func:`apply` will not change."""

    topic: str
    property: str
    expected: int
    actual: int


@dataclass(frozen=True, slots=True)
class TopicsConfig:
    """Sizing and retention of the tracecode topics (mapped from the settings)."""

    partitions: int = 6
    """Partitions of the keyed topics: scans, dispatches, status, history, alerts."""
    dead_letter_partitions: int = 1
    replication_factor: int = 1
    min_insync_replicas: int = 1
    retention_hours: int = 168
    """Retention of the event topics; -1 keeps events forever."""
    dead_letter_retention_hours: int = 720
    broker_timestamps: bool = False
    """Have the broker stamp the input records (``LogAppendTime``) instead of their producers."""

    def __post_init__(self) -> None:
        if self.partitions < 1 or self.dead_letter_partitions < 1:
            raise ValueError("partition counts must be at least 1")
        if self.replication_factor < 1:
            raise ValueError("replication_factor must be at least 1")
        if not 1 <= self.min_insync_replicas <= self.replication_factor:
            raise ValueError(
                f"min_insync_replicas ({self.min_insync_replicas}) must be between 1 and the "
                f"replication factor ({self.replication_factor})"
            )
        for name in ("retention_hours", "dead_letter_retention_hours"):
            value = getattr(self, name)
            if value == 0 or value < -1:
                raise ValueError(f"{name} must be positive, or -1 for no time limit")


class CleanupPolicy(StrEnum):
    """Kafka's ``cleanup.policy``."""

    DELETE = "delete"
    COMPACT = "compact"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """What one topic must look like."""

    name: str
    partitions: int
    replication_factor: int
    cleanup_policy: CleanupPolicy
    min_insync_replicas: int
    retention_ms: int | None
    """``None`` for compacted topics: they keep the latest record per key."""
    timestamp_type: str | None = None
    """``message.timestamp.type`` of the input topics, whose record timestamps order the
    worker's arrival-order merge (``CreateTime`` or ``LogAppendTime``); ``None`` for the
    others, which keep the broker's default."""

    @property
    def configs(self) -> dict[str, str]:
        """The topic-level configs the spec sets, as Kafka spells them."""
        configs = {
            "cleanup.policy": self.cleanup_policy.value,
            "min.insync.replicas": str(self.min_insync_replicas),
        }
        if self.retention_ms is not None:
            configs["retention.ms"] = str(self.retention_ms)
        if self.timestamp_type is not None:
            configs["message.timestamp.type"] = self.timestamp_type
        return configs


def topic_specs(names: TopicNames, config: TopicsConfig) -> list[TopicSpec]:
    """The spec of every tracecode topic, in pipeline order."""

    def retention(hours: int) -> int:
        return -1 if hours == -1 else hours * _HOUR_MS

    def keyed(
        name: str, policy: CleanupPolicy = CleanupPolicy.DELETE, *, input_topic: bool = False
    ) -> TopicSpec:
        # One partition count for every keyed topic: scans and dispatches are joined by key
        # and must be co-partitioned; the outputs keep the same key-to-partition mapping.
        return TopicSpec(
            name=name,
            partitions=config.partitions,
            replication_factor=config.replication_factor,
            cleanup_policy=policy,
            min_insync_replicas=config.min_insync_replicas,
            retention_ms=None
            if policy is CleanupPolicy.COMPACT
            else retention(config.retention_hours),
            timestamp_type=(
                ("LogAppendTime" if config.broker_timestamps else "CreateTime")
                if input_topic
                else None
            ),
        )

    def dead_letters(name: str) -> TopicSpec:
        return TopicSpec(
            name=name,
            partitions=config.dead_letter_partitions,
            replication_factor=config.replication_factor,
            cleanup_policy=CleanupPolicy.DELETE,
            min_insync_replicas=config.min_insync_replicas,
            retention_ms=retention(config.dead_letter_retention_hours),
        )

    return [
        keyed(names.scans, input_topic=True),
        keyed(names.dispatches, input_topic=True),
        keyed(names.status, CleanupPolicy.COMPACT),
        keyed(names.history),
        keyed(names.alerts),
        dead_letters(names.dead_letters),
        # A handful of small values that every webhooks service reads in full: one partition.
        TopicSpec(
            name=names.webhook_subscriptions,
            partitions=1,
            replication_factor=config.replication_factor,
            cleanup_policy=CleanupPolicy.COMPACT,
            min_insync_replicas=config.min_insync_replicas,
            retention_ms=None,
        ),
        dead_letters(names.webhook_dead_letters),
    ]


@dataclass(frozen=True, slots=True)
class TopicState:
    """A spec next to what the cluster has."""

    spec: TopicSpec
    exists: bool
    partitions: int | None = None
    replication_factor: int | None = None
    configs: Mapping[str, str] = field(default_factory=dict)
    """The cluster's values of the configs the spec sets."""

    @property
    def config_drift(self) -> dict[str, tuple[str | None, str]]:
        """Configs that differ from the spec: name -> (actual, wanted)."""
        return {
            key: (self.configs.get(key), wanted)
            for key, wanted in self.spec.configs.items()
            if self.configs.get(key) != wanted
        }

    @property
    def problems(self) -> list[Incompatibility]:
        """Differences :func:`apply` refuses to fix."""
        found = []
        if self.partitions is not None and self.partitions != self.spec.partitions:
            found.append(
                Incompatibility(self.spec.name, "partitions", self.spec.partitions, self.partitions)
            )
        if (
            self.replication_factor is not None
            and self.replication_factor != self.spec.replication_factor
        ):
            found.append(
                Incompatibility(
                    self.spec.name,
                    "replication factor",
                    self.spec.replication_factor,
                    self.replication_factor,
                )
            )
        return found


@dataclass(frozen=True, slots=True)
class TopicChange:
    """One change :func:`apply` made."""

    topic: str
    action: str
    """``created`` or ``updated``."""
    details: list[str]


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What :func:`apply` did."""

    changes: list[TopicChange]
    unchanged: list[str]

    @property
    def changed(self) -> bool:
        """Whether anything was created or updated."""
        return bool(self.changes)


def admin_client(connection: KafkaConnection, timeout: float = 10.0) -> AdminClient:
    """An admin client for ``connection``, checked to reach the cluster within ``timeout``."""
    config: dict[str, Any] = {
        **connection.librdkafka_config(),
        "logger": logging.getLogger(f"{__name__}.librdkafka"),
    }
    admin = AdminClient(config)
    try:
        admin.list_topics(timeout=timeout)
    except KafkaException as error:
        raise KafkaUnreachableError(
            f"no Kafka broker answered at {connection.bootstrap_servers} within {timeout:.0f} s "
            f"({error.args[0]})",
            hint="start the local broker with `tracecode broker up`, or point "
            "TRACECODE_KAFKA_BOOTSTRAP_SERVERS at your cluster",
        ) from error
    return admin


def describe(
    admin: AdminClient, specs: Sequence[TopicSpec], timeout: float = 30.0
) -> list[TopicState]:
    """The cluster's state of each spec'd topic."""
    metadata = admin.list_topics(timeout=timeout).topics
    existing = [spec for spec in specs if spec.name in metadata]
    configs: dict[str, dict[str, str]] = {}
    if existing:
        futures = admin.describe_configs(
            [ConfigResource(ResourceType.TOPIC, spec.name) for spec in existing],
            request_timeout=timeout,
        )
        for resource, future in futures.items():
            entries: dict[str, ConfigEntry] = _result(future, f"describe {resource.name}")
            configs[resource.name] = {name: str(entry.value) for name, entry in entries.items()}
    states = []
    for spec in specs:
        topic = metadata.get(spec.name)
        if topic is None:
            states.append(TopicState(spec=spec, exists=False))
            continue
        partitions = topic.partitions
        replication = len(next(iter(partitions.values())).replicas) if partitions else 0
        wanted = spec.configs.keys()
        actual = {k: v for k, v in configs.get(spec.name, {}).items() if k in wanted}
        states.append(
            TopicState(
                spec=spec,
                exists=True,
                partitions=len(partitions),
                replication_factor=replication,
                configs=actual,
            )
        )
    return states


def apply(admin: AdminClient, specs: Sequence[TopicSpec], timeout: float = 30.0) -> ApplyResult:
    """Create missing topics and update drifted configs; never touch partition counts.

    Everything is checked before anything changes: an incompatible topic raises
    :class:`IncompatibleTopicError` and leaves the cluster as it was. Returns once the brokers
    serve the new topics and configs, so a second run right after reports no changes.
    """
    states = describe(admin, specs, timeout)
    problems = [problem for state in states for problem in state.problems]
    if problems:
        raise _incompatible(problems, changed_nothing=True)
    changes: list[TopicChange] = []
    existing = [state for state in states if state.exists]
    missing = [state.spec for state in states if not state.exists]
    if missing:
        raced = _create(admin, missing, changes, timeout)
        names = [spec.name for spec in missing]
        _wait_for(
            lambda: all(name in admin.list_topics(timeout=timeout).topics for name in names),
            timeout,
            f"the new topics to appear in the metadata: {', '.join(names)}",
        )
        if raced:
            # Created by someone else between our look and our request: check them as well.
            raced_states = describe(admin, raced, timeout)
            problems = [problem for state in raced_states for problem in state.problems]
            if problems:
                raise _incompatible(problems, changed_nothing=False)
            existing += raced_states
    drifted = [state for state in existing if state.config_drift]
    if drifted:
        _update(admin, drifted, changes, timeout)
        drifted_specs = [state.spec for state in drifted]
        _wait_for(
            lambda: not any(state.config_drift for state in describe(admin, drifted_specs)),
            timeout,
            "the brokers to serve the updated topic configs",
        )
    changed_names = {change.topic for change in changes}
    unchanged = [spec.name for spec in specs if spec.name not in changed_names]
    return ApplyResult(changes=changes, unchanged=unchanged)


def _create(
    admin: AdminClient, specs: Sequence[TopicSpec], changes: list[TopicChange], timeout: float
) -> list[TopicSpec]:
    """Create ``specs``; return those that turned out to exist already."""
    futures = admin.create_topics(
        [
            NewTopic(
                spec.name,
                num_partitions=spec.partitions,
                replication_factor=spec.replication_factor,
                config=spec.configs,
            )
            for spec in specs
        ],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    already_there = []
    for spec in specs:
        try:
            futures[spec.name].result()
        except KafkaException as error:
            if _error_code(error) == KafkaError.TOPIC_ALREADY_EXISTS:
                already_there.append(spec)
                continue
            raise TopicsError(f"could not create {spec.name}: {_reason(error)}") from error
        changes.append(
            TopicChange(
                spec.name,
                "created",
                [f"{spec.partitions} partitions, replication {spec.replication_factor}"]
                + [f"{key}={value}" for key, value in spec.configs.items()],
            )
        )
        logger.info("created topic", extra={"topic": spec.name})
    return already_there


def _update(
    admin: AdminClient, drifted: Sequence[TopicState], changes: list[TopicChange], timeout: float
) -> None:
    resources = [
        ConfigResource(
            ResourceType.TOPIC,
            state.spec.name,
            incremental_configs=[
                ConfigEntry(key, wanted, incremental_operation=AlterConfigOpType.SET)
                for key, (_, wanted) in state.config_drift.items()
            ],
        )
        for state in drifted
    ]
    futures = admin.incremental_alter_configs(resources, request_timeout=timeout)
    by_name = {resource.name: future for resource, future in futures.items()}
    for state in drifted:
        _result(by_name[state.spec.name], f"update {state.spec.name}")
        details = [
            f"{key}: {actual if actual is not None else '(unset)'} -> {wanted}"
            for key, (actual, wanted) in state.config_drift.items()
        ]
        changes.append(TopicChange(state.spec.name, "updated", details))
        logger.info("updated topic configs", extra={"topic": state.spec.name})


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition``: the brokers apply metadata changes shortly after accepting them."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TopicsError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def _incompatible(
    problems: Sequence[Incompatibility], *, changed_nothing: bool
) -> IncompatibleTopicError:
    lines = [f"{p.topic}: {p.property} is {p.actual}, the spec says {p.expected}" for p in problems]
    partition_problem = any(p.property == "partitions" for p in problems)
    why = (
        "Changing a partition count in place remaps keys to partitions: scans and dispatches of "
        "one code would no longer meet in the same partition (co-partitioning), and state "
        "already built per key would be stranded. "
        if partition_problem
        else "Replication cannot be changed by a config update. "
    )
    return IncompatibleTopicError(
        "existing topics do not match the spec"
        + (", nothing was changed" if changed_nothing else "")
        + ":\n  "
        + "\n  ".join(lines),
        problems=problems,
        hint=why
        + "Move to a new topic generation instead: bump the version suffix of the names in "
        "schemas/topics.py (e.g. .v1 -> .v2), apply, and re-feed the new topics; "
        "or, on a disposable dev cluster, delete the topics and apply again.",
    )


def _result(future: Future[Any], action: str) -> Any:
    """Wait for an admin future, turning Kafka errors into :class:`TopicsError`."""
    try:
        return future.result()
    except KafkaException as error:
        raise TopicsError(f"could not {action}: {_reason(error)}") from error


def _error_code(error: KafkaException) -> int | None:
    kafka_error = error.args[0] if error.args else None
    return kafka_error.code() if isinstance(kafka_error, KafkaError) else None


def _reason(error: KafkaException) -> str:
    kafka_error = error.args[0] if error.args else error
    return kafka_error.str() if isinstance(kafka_error, KafkaError) else str(kafka_error)
