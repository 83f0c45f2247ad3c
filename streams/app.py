"""The Faust app of a worker: one agent joining both input topics into the ``shipments`` table.

Scans and dispatches are keyed by canonical code and co-partitioned, so one agent subscribed to
both topics sees every event of a code in the partition that also holds the code's state. The
agent takes raw bytes: decoding and validating are the join's first steps, so a bad record
becomes a dead letter instead of an error inside Faust.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable
from typing import Any

from faust.sensors.prometheus import setup_prometheus_sensors
from faust.types import TP
from mode import CrashingSupervisor
from prometheus_client import CollectorRegistry

from streams.config import SHIPMENTS_TABLE, ProcessingGuarantee, WorkerConfig
from streams.kafka import broker_urls, credentials
from streams.metrics import JoinMetrics
from streams.outputs import OutputSender
from streams.processor import JoinProcessor
from streams.sequencer import InputSequencer
from streams.states import ShipmentStates
from streams.store import ShipmentStore
from streams.transactions import JoinApp, JoinConsumer
from streams.web import install_views

logger = logging.getLogger(__name__)


_RECHECK_S = 0.5
"""Seconds between two looks at the records waiting for another input topic."""


def create_app(config: WorkerConfig, registry: CollectorRegistry | None = None) -> JoinApp:
    """The worker's Faust app for ``config`` (not started)."""
    app = JoinApp(
        config.app_id,
        env={},  # the configuration is ``config``; Faust must not read the environment
        broker=broker_urls(config.kafka),
        **credentials(config.kafka),
        store="rocksdb://",
        datadir=str(config.state_dir),
        processing_guarantee=config.processing_guarantee.value,
        table_standby_replicas=config.standby_replicas,
        topic_partitions=config.partitions,
        topic_replication_factor=config.replication_factor,
        # The leader topic is only for Faust's leader election, which the worker does not use.
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        # Records waiting in the arrival-order merge are never acknowledged until processed;
        # the consumer commits at revocation and at stop itself (streams.transactions).
        stream_wait_empty=False,
        consumer_group_instance_id=_instance_id(config),
        broker_commit_interval=config.commit_interval_s,
        # Records only become visible when their transaction commits, so batching them for a
        # while costs no latency; sending each alone costs a request per record.
        producer_linger=min(0.05, config.commit_interval_s / 4),
        producer_max_batch_size=1_000_000,
        broker_session_timeout=config.session_timeout_s,
        broker_heartbeat_interval=min(3.0, config.session_timeout_s / 3),
        web_host=config.web_host,
        web_bind=config.web_bind,
        web_port=config.web_port,
        canonical_url=config.web_url,
        # A failure outside the per-record handling stops the worker (and restarts it with
        # the last committed state) instead of restarting the agent past the record.
        agent_supervisor=CrashingSupervisor,
        autodiscover=False,
    )
    # Values are ShipmentState records in the wire encoding, which the join encodes and
    # decodes itself (streams.store). Declared raw, because Faust decodes every changelog
    # record it restores before writing its bytes to RocksDB: a codec would only cost time.
    table = app.Table(
        SHIPMENTS_TABLE,
        key_type=bytes,
        value_type=bytes,
        partitions=config.partitions,
        help="ShipmentState (wire encoding) per canonical code.",
    )
    inputs = app.topic(
        config.topics.scans,
        config.topics.dispatches,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    store = ShipmentStore(
        table, in_transaction=config.processing_guarantee is ProcessingGuarantee.EXACTLY_ONCE
    )
    registry = registry if registry is not None else CollectorRegistry()
    sender = OutputSender(app)
    states = ShipmentStates(store, sender, config.topics.scans, config.state_cache_size)
    processor = JoinProcessor(config, states, sender, JoinMetrics(registry))
    app.before_commit = processor.write_back
    sequencer = InputSequencer(
        # Ties on the record timestamp: a dispatch before the scans of the same millisecond.
        (config.topics.dispatches, config.topics.scans),
        processor,
        _ConsumerProgress(app),
        max_wait_s=config.input_wait_s,
    )

    @app.agent(inputs, name="join")
    async def join(stream: Any) -> None:
        # Records are acknowledged by the sequencer once processed, which may come later.
        async for event in stream.noack().events():
            await _gated(app, sequencer.receive(event))

    async def release_waiting() -> None:
        await _gated(app, sequencer.drain_waiting())

    # Waiting records go as soon as a fetch vouches for the other topic: check often.
    app.timer(min(_RECHECK_S, config.input_wait_s / 2))(release_waiting)

    install_views(app, states, store.changelog_topic, config.marketplace, config.worker_id)
    _install_metrics(app, registry)
    return app


async def _gated(app: JoinApp, processing: Awaitable[None]) -> None:
    """Run ``processing`` holding the commit gate, to its end even if the agent is cancelled.

    A worker told to stop cancels its agent; the event being processed still completes, and
    the final commit (which waits for the gate) includes all of it or none of it.
    """

    async def locked() -> None:
        async with app.commit_gate:
            await processing

    await asyncio.shield(locked())


def _instance_id(config: WorkerConfig) -> str:
    """The worker's static group membership, so a restarted worker gets its partitions back
    without a rebalance.

    Its web address is part of it: Faust's assignor refuses an assignment made for another
    address, which a restarted static member with a new port would otherwise be handed.
    """
    host = re.sub(r"[^A-Za-z0-9_.-]", "_", config.web_host)
    return f"{config.app_id}-{config.worker_id}-{host}-{config.web_port}"


class _ConsumerProgress:
    """The consumer as the sequencer sees it."""

    def __init__(self, app: JoinApp) -> None:
        self._app = app

    def generation(self) -> int:
        return self._app.consumer_generation_id

    def highwater(self, tp: TP) -> int | None:
        try:
            highwater: int | None = self._app.consumer.highwater(tp)
        except AssertionError:  # aiokafka: not assigned (any more)
            return None
        return highwater

    def fetched_at_ms(self, tp: TP) -> int | None:
        try:
            return self._consumer().fetched_at_ms(tp)
        except AssertionError:  # aiokafka: not assigned (any more)
            return None

    def rebalancing(self) -> bool:
        return bool(self._app.rebalancing)

    def committed(self, tp: TP) -> int | None:
        offset: int | None = self._consumer()._committed_offset.get(tp)
        return offset

    async def reread(self) -> None:
        # Faust's own way back to the committed offsets: stop the fetch loop, seek every
        # partition (which also resets the offsets below which Faust drops records), resume.
        consumer = self._consumer()
        consumer.stop_flow()
        await consumer.wait_for_stopped_flow()
        await consumer.perform_seek()
        consumer.resume_flow()

    def accept_gap(self, tp: TP, first: int, end: int) -> None:
        self._consumer().accept_gap(tp, first, end)

    def _consumer(self) -> JoinConsumer:
        consumer = self._app.consumer
        assert isinstance(consumer, JoinConsumer)
        return consumer


def _install_metrics(app: JoinApp, registry: CollectorRegistry) -> None:
    setup_prometheus_sensors(app, pattern="/metrics", registry=registry, name_prefix="faust")
