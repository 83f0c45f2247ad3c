"""The private Faust and aiokafka members the runtime relies on are still there, as expected."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.consumer.group_coordinator import GroupCoordinator
from aiokafka.consumer.subscription_state import TopicPartitionState
from faust.types import TP

from schemas.kafka import KafkaConnection
from schemas.topics import TopicNames
from streams.config import WorkerConfig
from streams.runtime import internals
from streams.runtime.app import create_app
from streams.runtime.exactly_once import WorkerConsumer, WorkerProducer
from streams.runtime.internals import Internal
from streams.runtime.producer_client import OutageTolerantProducer


def test_every_private_method_is_there_with_the_same_parameters() -> None:
    assert internals.problems() == []


def test_a_renamed_or_changed_member_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    renamed = Internal(WorkerConsumer, "_fetch_in_batches", ("self",), "a member Faust lacks")
    changed = Internal(WorkerConsumer, "_wait_next_records", ("self",), "a changed signature")
    monkeypatch.setattr(internals, "METHODS", (renamed, changed))
    found = internals.problems()
    assert len(found) == 2
    assert "_fetch_in_batches is gone" in found[0]
    assert "takes ('self', 'timeout')" in found[1]


def test_a_worker_s_consumer_and_producer_have_the_attributes_it_reads(tmp_path: Path) -> None:
    config = WorkerConfig(
        kafka=KafkaConnection("127.0.0.1:1"),
        topics=TopicNames().with_prefix("unit."),
        state_dir=tmp_path,
        partitions=2,
    )

    async def build() -> tuple[object, object]:
        app = create_app(config)
        return app.consumer, app.producer

    consumer, producer = asyncio.run(build())
    assert isinstance(consumer, WorkerConsumer) and isinstance(producer, WorkerProducer)
    assert internals.attribute_problems(consumer, internals.CONSUMER_ATTRIBUTES) == []
    assert internals.attribute_problems(producer, internals.PRODUCER_ATTRIBUTES) == []
    # What the runtime assumes of them: unknown partitions read as never committed or read,
    # and the transactional producers are this producer's own, not shared by the class.
    assert consumer._committed_offset[TP("unit.x", 0)] is None
    assert consumer._read_offset[TP("unit.x", 0)] is None
    assert producer._transaction_producers == {}
    assert producer._transaction_producers is not WorkerProducer._transaction_producers


def test_the_fetch_members_the_fetch_clock_reads_are_there() -> None:
    """The aiokafka consumer keeps its fetcher, and each partition's state the time of the
    last response that reported it (set to ``None`` until then)."""

    async def build() -> tuple[object, object]:
        consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1")
        return consumer, TopicPartitionState(assignment=None)

    consumer, state = asyncio.run(build())
    assert internals.attribute_problems(consumer, internals.FETCH_ATTRIBUTES[:1]) == []
    assert internals.attribute_problems(state, internals.FETCH_ATTRIBUTES[1:]) == []
    assert state.timestamp is None  # type: ignore[attr-defined]


def test_the_coordinator_members_the_worker_s_health_reads_are_there() -> None:
    """The aiokafka consumer keeps its group coordinator, which names the coordinator's broker
    and forgets it (``None``) while that broker does not answer."""

    async def build() -> tuple[object, object]:
        consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1", group_id="unit")
        coordinator = GroupCoordinator(consumer._client, consumer._subscription)
        return consumer, coordinator

    consumer, coordinator = asyncio.run(build())
    assert internals.attribute_problems(consumer, internals.COORDINATOR_ATTRIBUTES[:1]) == []
    assert internals.attribute_problems(coordinator, internals.COORDINATOR_ATTRIBUTES[1:]) == []
    assert coordinator.coordinator_id is None  # type: ignore[attr-defined]
    coordinator.coordinator_id = 1  # type: ignore[attr-defined]
    coordinator.coordinator_dead()  # type: ignore[attr-defined]
    assert coordinator.coordinator_id is None  # type: ignore[attr-defined]


def test_the_producers_ride_out_outages_and_take_the_worker_s_transaction_timeout(
    tmp_path: Path,
) -> None:
    """Faust leaves aiokafka's 60 s, shorter than a broker outage the worker must survive."""
    config = WorkerConfig(
        kafka=KafkaConnection("127.0.0.1:1"),
        topics=TopicNames().with_prefix("unit."),
        state_dir=tmp_path,
        partitions=2,
        transaction_timeout_s=420,
    )

    async def build() -> int:
        producer = create_app(config).producer
        assert isinstance(producer, WorkerProducer)
        # The call Faust makes for each input partition's transactional producer.
        client = producer._new_producer(transactional_id="unit-0")
        assert isinstance(client, OutageTolerantProducer)
        timeout: int = client._txn_manager.transaction_timeout_ms
        return timeout

    assert asyncio.run(build()) == 420_000
