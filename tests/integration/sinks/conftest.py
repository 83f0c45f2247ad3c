"""Fixtures of the sink's integration tests: the scenario sunk once through the real broker."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from schemas.kafka import KafkaConnection
from schemas.topics import TopicNames
from sinks.config import ClickHouseTarget, RetryPolicy, SinkConfig
from sinks.service import Sink
from tests import sinkdata
from tests.helpers import unique
from tests.integration.sinks.helpers import Ends, create_topics, publish, running, scenario_items
from tests.sinkdata import Scenario
from tracecode.settings import Settings

PARTITIONS = 3


def sink_config(
    kafka: KafkaConnection,
    topics: TopicNames,
    target: ClickHouseTarget,
    group: str,
    **changes: object,
) -> SinkConfig:
    base: dict[str, object] = {
        "kafka": kafka,
        "topics": topics,
        "clickhouse": target,
        "group_id": group,
        "batch_max_rows": 25,
        "batch_max_age": 0.2,
        "retry": RetryPolicy(initial=0.05, maximum=0.5),
        "query_port": 0,
        "metrics_port": 0,
        "poll_timeout": 0.05,
    }
    return SinkConfig(**{**base, **changes})  # type: ignore[arg-type]


@dataclass(frozen=True)
class Sunk:
    """The scenario published and stored once by a sink."""

    scenario: Scenario
    topics: TopicNames
    target: ClickHouseTarget
    group: str
    ends: Ends


def sink_scenario(
    kafka: KafkaConnection, settings: Settings, folder: Path, scenario: Scenario, batch: int
) -> Sunk:
    """Publish ``scenario`` to fresh topics and run a sink until it stored every record."""
    topics = TopicNames().with_prefix(unique("test-sink") + ".")
    create_topics(kafka, settings, topics, PARTITIONS)
    ends = publish(kafka, scenario_items(scenario, topics))
    target = ClickHouseTarget(dsn=f"chdb://{folder}", database=unique("sunk").replace("-", "_"))
    group = unique("sink")
    with running(Sink(sink_config(kafka, topics, target, group, batch_max_rows=batch))) as sink:
        sink.wait_stored(ends)
    return Sunk(scenario, topics, target, group, ends)


@pytest.fixture(scope="module")
def sunk(kafka: KafkaConnection, settings: Settings, chdb_folder: Path) -> Sunk:
    """The hand-built shipments, stored: their figures are known."""
    return sink_scenario(kafka, settings, chdb_folder, sinkdata.build(delivered=40), batch=25)


@pytest.fixture(scope="module")
def sunk_simulation(kafka: KafkaConnection, settings: Settings, chdb_folder: Path) -> Sunk:
    """The simulator's shipments with every hard case, stored."""
    # Several batches per partition, each of a few hundred records.
    scenario = sinkdata.simulated(shipments=300)
    return sink_scenario(kafka, settings, chdb_folder, scenario, batch=250)
