"""The Faust app, consumer and producer of a worker: a batched input path and exactly-once
commits that hold, on top of faust-streaming 0.15.

Faust runs one transactional producer per assigned partition number, with the transactional id
``{app id}-{topic group}-{partition}``, and commits each producer's transaction together with
the offsets of its input partitions. Left alone it is neither fast nor exactly-once for this
worker (docs/architecture.md, "Exactly-once"):

- every input record takes Faust's per-message path (conductor, channel queue, stream
  iterator, acknowledgement): several futures and event-loop steps per record;
- ``Topic.send`` picks the transactional id from the *destination* partition and the topic
  group of the destination topic, which only subscribed topics have: records for the status,
  history, alerts and dead-letter topics leave through the plain, non-transactional producer
  (faust-streaming issue #177);
- the commit runs in its own task and can cut an event in two; it commits only the
  transactions of partitions with new acknowledged offsets, skips a partition whose producer is
  gone with a warning, and never writes the persisted changelog offsets under exactly-once;
- after a seek, Faust takes offsets it never delivered as processed (its "gap" logic,
  faust-streaming #216);
- ``App.in_transaction`` is cached the first time it is read, from ``in_worker``, which Faust's
  ``Worker`` sets only when it starts.

So :class:`WorkerConsumer` hands each fetched batch of the input topics straight to the
worker's :attr:`WorkerApp.batch_handler` (the arrival-order merge and the join), holding
:attr:`WorkerApp.commit_gate` once per batch; input records never reach Faust's conductor, so
Faust neither acknowledges nor commits them. The worker tracks the offsets it processed itself
and commits them through :class:`streams.runtime.checkpoint.Checkpoint`, which the consumer's
``commit`` delegates to (gate held), so a transaction holds whole batches. Every record the join
produces leaves through the transactional producer of its input partition
(:mod:`streams.runtime.sender`). The private Faust and aiokafka members used here are listed and
checked in :mod:`streams.runtime.internals`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import aiokafka
import faust
from aiokafka.errors import ProducerFenced
from aiokafka.structs import TopicPartition
from faust.exceptions import ConsumerNotStarted, ProducerSendError
from faust.tables.manager import TableManager
from faust.transport.consumer import TransactionManager
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP, ProcessingGuarantee
from faust.types.transports import TPorTopicSet, TransportT

from streams.runtime.fetch_clock import FetchClock
from streams.runtime.producer_client import OutageTolerantProducer

if TYPE_CHECKING:
    from streams.runtime.checkpoint import Checkpoint

logger = logging.getLogger(__name__)

InputBatch = Mapping[TP, Sequence[Any]]
"""aiokafka ``ConsumerRecord`` lists of the input partitions, as one fetch returned them."""


async def _no_batches(batch: InputBatch) -> None:
    raise RuntimeError("the worker's batch handler was never installed")


class WorkerApp(faust.App):
    """The Faust app of the worker, with the transport that makes exactly-once hold."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        guarantee: Any = self.conf.processing_guarantee  # typed as the enum class by Faust
        # Read once: the sender asks for every output record, and Faust's settings are slow.
        self._exactly_once = bool(guarantee == ProcessingGuarantee.EXACTLY_ONCE)
        self.commit_gate = asyncio.Lock()
        """Held while a batch is processed and while a commit runs, so neither cuts into
        the other."""
        self.input_topics: frozenset[str] = frozenset()
        """Topics whose records go to :attr:`batch_handler` instead of Faust's conductor."""
        self.batch_handler: Callable[[InputBatch], Awaitable[None]] = _no_batches
        """Processes one fetched batch of the input topics (takes the gate itself)."""
        self.checkpoint: Checkpoint | None = None
        """Runs every commit (:mod:`streams.runtime.checkpoint`)."""
        self.catching_up = False
        """Whether the last fetch of the inputs was a full batch: there is a backlog."""
        self.open_transactions: dict[str, int] = {}
        """Transactional ids that sent records since their last commit, with their input
        partition."""
        self.commit_failed = False
        """Set when a commit raised: the tables may hold uncommitted state."""
        self.transaction_timeout_ms = 60_000
        """How long the broker keeps a transaction of this worker open (aiokafka's default
        until the worker sets its own)."""

    @property
    def in_transaction(self) -> bool:
        """Whether processing is exactly-once, as configured (see above for why Faust's own
        answer cannot be trusted)."""
        return self._exactly_once

    def _new_transport(self) -> TransportT:
        return WorkerTransport(self.conf.broker_consumer, self)

    def transactional_id(self, source: TP) -> str:
        """The transactional id Faust gives the producer of input partition ``source``."""
        group = self.assignor.group_for_topic(source.topic)
        return f"{self.conf.id}-{group}-{source.partition}"


class WorkerConsumer(aiokafka_driver.Consumer):
    """Faust's consumer with the batched input path and the worker's own commit."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.fetch_clock = FetchClock()
        super().__init__(*args, **kwargs)

    async def commit(
        self, topics: TPorTopicSet | None = None, start_new_transaction: bool = True
    ) -> bool:
        """Commit what was processed (every commit of Faust's comes here), gate held."""
        app = self.app
        assert isinstance(app, WorkerApp)
        if app.checkpoint is None:
            return False
        # Faust's periodic commit is the only one that starts a new transaction and names no
        # topics; revocation and stop end the transactions (start_new_transaction=False).
        periodic = topics is None and start_new_transaction
        async with app.commit_gate:
            try:
                return await app.checkpoint.commit(start_new_transaction, periodic=periodic)
            except BaseException:
                app.commit_failed = True
                raise

    async def commit_offsets(self, offsets: Mapping[TP, int], start_new_transaction: bool) -> bool:
        """Commit ``offsets``: under exactly-once in the partitions' transactions, else after a
        flush of the producer. Offsets of partitions no longer assigned are dropped."""
        # aiokafka accepts only its own TopicPartition (Faust's TP is an equal tuple).
        by_partition = {
            TopicPartition(tp.topic, tp.partition): offset for tp, offset in offsets.items()
        }
        committed: bool = await self._commit_offsets(by_partition, start_new_transaction)
        return committed

    def committed_offset(self, tp: TP) -> int | None:
        """The last committed offset of ``tp`` this consumer knows of."""
        offset: int | None = self._committed_offset.get(tp)
        return offset

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        """Commit what was processed before partitions go, then let Faust revoke them.

        Records still buffered in the arrival-order merge are read again by the partitions'
        next owner, in the same order.
        """
        self.stop_flow()
        await self.commit_and_end_transactions()
        await super().on_partitions_revoked(revoked)

    def broker_connected(self) -> bool:
        """Whether the consumer knows its group coordinator: aiokafka forgets it when a
        heartbeat or a commit cannot reach it, and looks it up again until the broker answers."""
        try:
            consumer = self._thread._ensure_consumer()
        except ConsumerNotStarted:
            return False
        coordinator = consumer._coordinator
        return coordinator is not None and coordinator.coordinator_id is not None

    def fetched_at_ms(self, tp: TP) -> int | None:
        """Wall-clock time (ms) of the fetch that last reported ``tp``'s high watermark."""
        fetched = self.fetch_clock.fetched_at_ms(tp)
        if fetched is None:  # the fetcher's requests are not timed (yet)
            fetched = self._thread._ensure_consumer().last_poll_timestamp(tp)
        return fetched

    def requested_at(self, tp: TP) -> float | None:
        """Monotonic time (s) the fetch that last reported ``tp``'s high watermark was
        requested."""
        return self.fetch_clock.requested_at(tp)

    async def highwaters(self, *partitions: TP) -> Mapping[TP, int]:
        """The end of each partition, as the broker says now.

        Under exactly-once Faust answers from the last stable offset of the last fetch
        response, which a partition assigned by the latest rebalance has not had yet: it
        reads ``None``, taken for -1, and the recovery of a table with persisted changelog
        offsets stops with a ConsistencyError. The consumer reads ``read_committed``, so the
        broker's end offset is the last stable offset.
        """
        thread = self._thread
        consumer = thread._ensure_consumer()
        ends = await thread.call_thread(consumer.end_offsets, list(partitions))
        return dict(ends)

    async def _drain_messages(self, fetcher: Any) -> None:
        """The fetch loop: input batches to the join at once, other records (changelogs being
        recovered or kept as standbys) through Faust's per-message path as before."""
        app = self.app
        assert isinstance(app, WorkerApp)
        batch_records = app.conf.broker_max_poll_records
        try:
            while not (self._stopped.is_set() or fetcher._stopped.is_set()):
                self.fetch_clock.install(self._thread._ensure_consumer()._fetcher)
                records, active = await self._wait_next_records(1.0)
                await asyncio.sleep(0)
                if not records or self.should_stop:
                    app.catching_up = False
                    continue
                if not self.flow_active:
                    # Fetched across a rebalance or a seek: Faust's own getmany drops such
                    # records and goes back to the committed offsets.
                    await self.perform_seek()
                    continue
                inputs: dict[TP, Sequence[Any]] = {}
                others: list[tuple[TP, Any]] = []
                for tp, batch in records.items():
                    if active is not None and tp not in active:
                        continue
                    self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
                    if tp.topic in app.input_topics:
                        inputs[tp] = batch
                    else:
                        others.extend((tp, record) for record in batch)
                if others:
                    await self._deliver(others)
                count = sum(len(batch) for batch in inputs.values())
                app.catching_up = batch_records is not None and count >= batch_records
                if inputs:
                    await app.batch_handler(inputs)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise

    async def _deliver(self, records: list[tuple[TP, Any]]) -> None:
        """Faust's per-message delivery, for the records of topics that are not inputs."""
        read_offset = self._read_offset
        for tp, record in records:
            offset = record.offset
            last = read_offset[tp]
            if last is not None and offset < last:
                continue  # delivered before a seek back: Faust drops these too
            await self.wait_first(
                self.callback(self._to_message(tp, record)), self.suspend_flow.wait()
            )
            read_offset[tp] = offset


class PartitionTransactions(TransactionManager):
    """Commits every open transaction with the offsets ready, then records changelog offsets.

    Runs inside :meth:`WorkerConsumer.commit`, gate held. A batch processed records in the
    transactions of its partitions; committing every transaction that sent records keeps them
    whole, including the records of events whose offsets were committed before (read again after
    a stop and ignored as duplicates).
    """

    async def commit(self, offsets: Mapping[TP, int], start_new_transaction: bool = True) -> bool:
        app = self.app
        assert isinstance(app, WorkerApp)
        producer = self.producer
        assert isinstance(producer, WorkerProducer)
        by_transaction: dict[str, dict[TP, int]] = {
            transactional_id: {} for transactional_id in app.open_transactions
        }
        partitions = set(app.open_transactions.values())
        for tp, offset in offsets.items():
            by_transaction.setdefault(app.transactional_id(tp), {})[tp] = offset
            partitions.add(tp.partition)
        # One transaction per partition: commit them side by side, not one after another.
        transactions = sorted(by_transaction.items())
        results = await asyncio.gather(
            *(
                producer.commit_transaction_with(
                    transactional_id, tp_offsets, app.conf.id, start_new_transaction
                )
                for transactional_id, tp_offsets in transactions
            ),
            return_exceptions=True,
        )
        errors = [result for result in results if isinstance(result, BaseException)]
        for (transactional_id, _), result in zip(transactions, results, strict=True):
            if not isinstance(result, BaseException):
                app.open_transactions.pop(transactional_id, None)
        if errors:
            app.commit_failed = True
            fenced = next((e for e in errors if isinstance(e, ProducerFenced)), None)
            if fenced is None:
                raise errors[0]
            # Another worker owns these partitions now: this one must stop, uncommitted.
            logger.error("transactional producer fenced", extra={"error": str(fenced)})
            await app.crash(fenced)
            return False
        # Faust keys the pending persisted offsets by changelog partition but looks them up by
        # input partition; the changelog partition of input partition p is p.
        tables = app.tables
        assert isinstance(tables, TableManager)
        for table in tables.values():
            topic = table.changelog_topic.get_topic_name()
            for partition in partitions:
                tables.on_commit_tp(TP(topic, partition))
        return True


class WorkerProducer(aiokafka_driver.Producer):
    """Faust's aiokafka producer: batch sends, delivery failures surfaced, strict commits, and
    aiokafka producers that ride out a broker outage (:mod:`streams.runtime.producer_client`).
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        # Faust declares these at class level, shared by every producer in the process.
        self._transaction_producers = {}
        self._trn_locks = {}
        self.failures: list[BaseException] = []
        """Records the broker did not take (the worker must not report a clean stop)."""

    @property
    def _producer_type(self) -> type[aiokafka.AIOKafkaProducer]:
        return OutageTolerantProducer

    def _settings_extra(self) -> Mapping[str, Any]:
        # Faust leaves aiokafka's 60 s: a broker away that long would abort every open
        # transaction and fence a worker that has lost nothing.
        app = self.app
        assert isinstance(app, WorkerApp)
        return {**super()._settings_extra(), "transaction_timeout_ms": app.transaction_timeout_ms}

    def client_for(self, transactional_id: str | None) -> Any:
        """The aiokafka producer of ``transactional_id`` (``None``: the plain one)."""
        if transactional_id is None:
            return self._ensure_producer()
        producer = self._transaction_producers.get(transactional_id)
        if producer is None:
            raise ProducerSendError(f"no transactional producer {transactional_id!r}")
        return producer

    async def flush(self) -> None:
        """Wait for every record sent so far; raise if any of them could not be delivered.

        At-least-once commits offsets right after this flush, so a failed delivery stops the
        commit instead of being skipped.
        """
        await super().flush()
        await asyncio.sleep(0)  # let the delivery callbacks of the last batches run
        if self.failures:
            first = self.failures[0]
            raise ProducerSendError(
                f"{len(self.failures)} record(s) could not be delivered: {first!r}"
            ) from first

    async def commit_transaction_with(
        self,
        transactional_id: str,
        offsets: Mapping[TP, int],
        group_id: str,
        start_new_transaction: bool,
    ) -> None:
        """Commit one transaction with ``offsets`` (maybe none); raise on any failure."""
        lock = self._trn_locks.get(transactional_id)
        producer = self._transaction_producers.get(transactional_id)
        if lock is None or producer is None:
            raise ProducerSendError(f"no transactional producer {transactional_id!r} to commit")
        async with lock:
            if offsets:
                await producer.send_offsets_to_transaction(offsets, group_id)
            await producer.commit_transaction()
            if start_new_transaction:
                await producer.begin_transaction()


class WorkerTransport(aiokafka_driver.Transport):
    """Faust's aiokafka transport with the classes above."""

    Consumer = WorkerConsumer
    Producer = WorkerProducer
    TransactionManager = PartitionTransactions
