"""tracecode.topics: the declarative spec (no broker)."""

from __future__ import annotations

from dataclasses import fields

import pytest

from schemas.topics import TopicNames
from tracecode.topics import CleanupPolicy, TopicsConfig, TopicSpec, TopicState, topic_specs


def specs_by_name(config: TopicsConfig) -> dict[str, TopicSpec]:
    return {spec.name: spec for spec in topic_specs(TopicNames(), config)}


def test_every_topic_name_has_a_spec() -> None:
    names = TopicNames()
    specs = specs_by_name(TopicsConfig())

    assert set(specs) == {getattr(names, field.name) for field in fields(TopicNames)}
    assert len(specs) == 8


def test_webhook_subscriptions_are_one_compacted_partition() -> None:
    names = TopicNames()
    specs = specs_by_name(TopicsConfig(partitions=12, dead_letter_retention_hours=-1))

    subscriptions = specs[names.webhook_subscriptions]
    assert (subscriptions.partitions, subscriptions.cleanup_policy) == (1, CleanupPolicy.COMPACT)
    assert "retention.ms" not in subscriptions.configs
    assert specs[names.webhook_dead_letters].configs["retention.ms"] == "-1"


def test_joined_topics_are_co_partitioned() -> None:
    names = TopicNames()
    specs = specs_by_name(TopicsConfig(partitions=12))

    assert specs[names.scans].partitions == specs[names.dispatches].partitions == 12
    assert specs[names.status].partitions == 12


def test_status_is_compacted_and_the_rest_expire() -> None:
    names = TopicNames()
    specs = specs_by_name(TopicsConfig(retention_hours=48, dead_letter_retention_hours=-1))

    assert specs[names.status].cleanup_policy is CleanupPolicy.COMPACT
    assert "retention.ms" not in specs[names.status].configs
    assert specs[names.scans].configs == {
        "cleanup.policy": "delete",
        "min.insync.replicas": "1",
        "retention.ms": str(48 * 3_600_000),
        "message.timestamp.type": "CreateTime",
    }
    assert specs[names.dead_letters].configs["retention.ms"] == "-1"


def test_broker_timestamps_stamp_only_the_inputs() -> None:
    """The worker's arrival-order merge orders the inputs by their timestamps; the outputs
    keep the broker's default."""
    names = TopicNames()

    def stamps(config: TopicsConfig) -> dict[str, str | None]:
        return {
            name: spec.configs.get("message.timestamp.type")
            for name, spec in specs_by_name(config).items()
        }

    inputs = {names.scans, names.dispatches}
    for config, wanted in [
        (TopicsConfig(), "CreateTime"),
        (TopicsConfig(broker_timestamps=True), "LogAppendTime"),
    ]:
        found = stamps(config)
        assert {found[name] for name in inputs} == {wanted}
        assert {stamp for name, stamp in found.items() if name not in inputs} == {None}


@pytest.mark.parametrize(
    ("kwargs", "complaint"),
    [
        ({"partitions": 0}, "at least 1"),
        ({"replication_factor": 1, "min_insync_replicas": 2}, "min_insync_replicas"),
        ({"retention_hours": 0}, "retention_hours"),
    ],
)
def test_config_rejects_impossible_values(kwargs: dict[str, int], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        TopicsConfig(**kwargs)


def test_state_reports_drift_and_incompatibilities() -> None:
    spec = specs_by_name(TopicsConfig())[TopicNames().scans]
    state = TopicState(
        spec=spec,
        exists=True,
        partitions=3,
        replication_factor=1,
        configs={
            "cleanup.policy": "delete",
            "min.insync.replicas": "1",
            "retention.ms": "1",
            "message.timestamp.type": "CreateTime",
        },
    )

    assert state.config_drift == {"retention.ms": ("1", spec.configs["retention.ms"])}
    assert [(p.property, p.expected, p.actual) for p in state.problems] == [("partitions", 6, 3)]
