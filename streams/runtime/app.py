"""The Faust app of a worker: both input topics joined into the ``shipments`` table.

Scans and dispatches are keyed by canonical code and co-partitioned, so the worker assigned
partition *p* of both topics sees every event of a code in the partition that also holds the
code's state. The input topics are subscribed without an agent: their fetched batches go
straight to the arrival-order merge and the join (:mod:`streams.runtime.exactly_once`), as raw
bytes, since decoding and validating are the join's first steps and a bad record becomes a dead
letter instead of an error inside Faust.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable

from faust.sensors.prometheus import setup_prometheus_sensors
from faust.types import TP
from prometheus_client import CollectorRegistry

from schemas.framing import Framing
from streams.config import SHIPMENTS_TABLE, ProcessingGuarantee, WorkerConfig
from streams.runtime.checkpoint import Checkpoint, InputPositions
from streams.runtime.exactly_once import InputBatch, WorkerApp, WorkerConsumer
from streams.runtime.kafka import broker_urls, credentials
from streams.runtime.metrics import JoinMetrics
from streams.runtime.processor import JoinProcessor
from streams.runtime.sender import OutputSender
from streams.runtime.sequencer import InputSequencer
from streams.runtime.states import ShipmentStates
from streams.runtime.store import ShipmentStore
from streams.runtime.web import install_views

logger = logging.getLogger(__name__)


_RECHECK_S = 0.5
"""Seconds between two looks at the records waiting for another input topic."""


def create_app(config: WorkerConfig, registry: CollectorRegistry | None = None) -> WorkerApp:
    """The worker's Faust app for ``config`` (not started)."""
    app = WorkerApp(
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
        # No agent holds input records: the consumer commits at revocation and at stop itself
        # (streams.runtime.exactly_once), without waiting for Faust's acknowledgements.
        stream_wait_empty=False,
        consumer_group_instance_id=_instance_id(config),
        # Faust's commit timer runs at the live interval; the checkpoint skips the commits a
        # worker catching up on a backlog does not need (streams.runtime.checkpoint).
        broker_commit_interval=config.live_commit_interval_s,
        # Records only become visible when their transaction commits, so batching them for a
        # while costs no latency; sending each alone costs a request per record.
        producer_linger=min(0.05, config.live_commit_interval_s / 4),
        producer_max_batch_size=1_000_000,
        broker_max_poll_records=config.batch_records,
        broker_session_timeout=config.session_timeout_s,
        broker_heartbeat_interval=min(3.0, config.session_timeout_s / 3),
        web_host=config.web_host,
        web_bind=config.web_bind,
        web_port=config.web_port,
        canonical_url=config.web_url,
        autodiscover=False,
    )
    # Values are ShipmentState records in the wire encoding, which the join encodes and
    # decodes itself (streams.runtime.store). Declared raw, because Faust decodes every changelog
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
    app.transaction_timeout_ms = round(config.transaction_timeout_s * 1000)
    app.topics.add(inputs)
    app.input_topics = frozenset(inputs.topics)
    store = ShipmentStore(
        table, in_transaction=config.processing_guarantee is ProcessingGuarantee.EXACTLY_ONCE
    )
    registry = registry if registry is not None else CollectorRegistry()
    topics = config.topics
    framing = None if config.schema_registry is None else Framing(config.schema_registry, topics)
    sender = OutputSender(
        app,
        config.partitions,
        (topics.history, topics.status, topics.alerts, store.changelog_topic),
        framing=None
        if framing is None
        else framing.output((topics.history, topics.status, topics.alerts, topics.dead_letters)),
    )
    states = ShipmentStates(store, sender, topics.scans, config.rules, config.state_cache_size)
    processor = JoinProcessor(config, states, sender, JoinMetrics(registry), framing=framing)
    positions = InputPositions()
    app.checkpoint = Checkpoint(
        app, processor, sender, positions, catching_up_interval_s=config.commit_interval_s
    )
    sequencer = InputSequencer(
        # Ties on the record timestamp: a dispatch before the scans of the same millisecond.
        (topics.dispatches, topics.scans),
        processor,
        sender,
        positions,
        _ConsumerProgress(app),
        max_wait_s=config.input_wait_s,
        fetch_margin_ms=round(config.fetch_margin_s * 1000),
        clock_skew_s=config.broker_clock_skew_s,
        reorder_window_ms=round(config.reorder_window_s * 1000),
    )

    async def handle_batch(batch: InputBatch) -> None:
        await _gated(app, sequencer.receive(batch))

    async def release_waiting() -> None:
        await _gated(app, sequencer.drain_waiting())

    app.batch_handler = handle_batch
    # Waiting records go as soon as a fetch vouches for the other topic: check often.
    app.timer(min(_RECHECK_S, config.input_wait_s / 2))(release_waiting)

    install_views(app, states, store.changelog_topic, config.marketplace, config.worker_id)
    _install_metrics(app, registry)
    return app


async def _gated(app: WorkerApp, processing: Awaitable[None]) -> None:
    """Run ``processing`` holding the commit gate, to its end even if its caller is cancelled.

    A worker told to stop cancels its fetch loop; the batch being processed still completes,
    and the final commit (which waits for the gate) includes all of it or none of it.
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

    def __init__(self, app: WorkerApp) -> None:
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

    def requested_at(self, tp: TP) -> float | None:
        return self._consumer().requested_at(tp)

    def rebalancing(self) -> bool:
        return bool(self._app.rebalancing)

    def committed(self, tp: TP) -> int | None:
        return self._consumer().committed_offset(tp)

    async def reread(self) -> None:
        # Faust's own way back to the committed offsets: stop the fetch loop, seek every
        # partition (which also resets the offsets below which Faust drops records), resume.
        consumer = self._consumer()
        consumer.stop_flow()
        await consumer.wait_for_stopped_flow()
        await consumer.perform_seek()
        consumer.resume_flow()

    def _consumer(self) -> WorkerConsumer:
        consumer = self._app.consumer
        assert isinstance(consumer, WorkerConsumer)
        return consumer


def _install_metrics(app: WorkerApp, registry: CollectorRegistry) -> None:
    setup_prometheus_sensors(app, pattern="/metrics", registry=registry, name_prefix="faust")
