"""Exactly-once on Faust: the app and transport classes that close the gaps of Faust's own EOS.

Faust (faust-streaming 0.15) runs one transactional producer per assigned partition number,
with the transactional id ``{app id}-{topic group}-{partition}``, and commits each producer's
transaction together with the offsets of its input partitions. Left alone it is not exactly-once
for this worker (docs/architecture.md, "Exactly-once"):

- ``Topic.send`` picks the transactional id from the *destination* partition and the topic
  group of the destination topic, which only subscribed topics have: records for the status,
  history, alerts and dead-letter topics leave through the plain, non-transactional producer
  (faust-streaming issue #177).
- Table writes reach Kafka through Faust's producer buffer, which the transactional commit does
  not drain, and the commit runs in its own task: it can cut an event in two.
- Faust commits only the transactions of partitions with new acknowledged offsets, and skips a
  partition whose producer is gone with a warning.
- The persisted changelog offsets are recorded per changelog partition but looked up per input
  partition on commit, so under exactly-once they are never written.
- ``App.in_transaction`` is cached the first time it is read, from ``in_worker``, which Faust's
  ``Worker`` sets only when it starts.

So the worker sends every record of an event itself, through the transactional producer of the
event's input partition (:class:`streams.outputs.OutputSender`); it processes each event
holding :attr:`JoinApp.commit_gate`, which :class:`JoinConsumer` takes around every commit, so a
transaction holds whole events; and the commit first writes back the states the events changed
(:attr:`JoinApp.before_commit`), then commits every transaction that has records.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import faust
from aiokafka.errors import KafkaError, ProducerFenced
from faust.exceptions import ProducerSendError
from faust.tables.manager import TableManager
from faust.transport.consumer import TransactionManager
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP, ProcessingGuarantee, RecordMetadata
from faust.types.transports import TPorTopicSet, TransportT

logger = logging.getLogger(__name__)


async def _nothing() -> None:
    return None


class JoinApp(faust.App):
    """The Faust app of the worker, with the transport that makes exactly-once hold."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commit_gate = asyncio.Lock()
        """Held while an event is processed and while a commit runs, so neither cuts into
        the other."""
        self.before_commit: Callable[[], Awaitable[None]] = _nothing
        """Called (gate held) at the start of every commit: writes back the changed states."""
        self.open_transactions: dict[str, int] = {}
        """Transactional ids that sent records since their last commit, with their input
        partition."""
        self.commit_failed = False
        """Set when a commit raised: the tables may hold uncommitted state."""

    @property
    def in_transaction(self) -> bool:
        """Whether processing is exactly-once, as configured (not cached, see above)."""
        guarantee: Any = self.conf.processing_guarantee  # typed as the enum class by Faust
        return bool(guarantee == ProcessingGuarantee.EXACTLY_ONCE)

    def _new_transport(self) -> TransportT:
        return JoinTransport(self.conf.broker_consumer, self)

    def transactional_id(self, source: TP) -> str:
        """The transactional id Faust gives the producer of input partition ``source``."""
        group = self.assignor.group_for_topic(source.topic)
        return f"{self.conf.id}-{group}-{source.partition}"


class JoinConsumer(aiokafka_driver.Consumer):
    """Commits between events only, after writing back the changed states.

    At-least-once flushes the outputs before the states: a state change becomes durable only
    after everything it caused was delivered, so an event whose state change was lost in a crash
    is processed again and its outputs are sent again, never lost.
    """

    async def commit(
        self, topics: TPorTopicSet | None = None, start_new_transaction: bool = True
    ) -> bool:
        app = self.app
        assert isinstance(app, JoinApp)
        async with app.commit_gate:
            try:
                if not app.in_transaction:
                    await app.producer.flush()
                await app.before_commit()
                committed = await super().commit(
                    topics, start_new_transaction=start_new_transaction
                )
                if app.open_transactions:
                    # Records of events whose offsets were committed already (read again
                    # after a stop): commit them too, rather than leave them open.
                    await self.transactions.commit({}, start_new_transaction)
            except BaseException:
                app.commit_failed = True
                raise
        return bool(committed)

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        """Commit what was processed before partitions go, then let Faust revoke them.

        The worker runs with ``stream_wait_empty`` off: Faust would otherwise wait, before
        revoking, until every record handed to the agent is acknowledged, which records
        waiting in :mod:`streams.merge` never are until more arrive; and without it Faust
        commits nothing at revocation. Records not processed yet are read again by the
        partitions' next owner, in the same order.
        """
        self.stop_flow()
        await self.commit_and_end_transactions()
        await super().on_partitions_revoked(revoked)

    def fetched_at_ms(self, tp: TP) -> int | None:
        """Wall-clock time (ms) of the fetch that last reported ``tp``'s high watermark."""
        fetched: int | None = self._thread._ensure_consumer().last_poll_timestamp(tp)
        return fetched

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

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Ignore the offsets Faust would take as processed when records arrive with a jump.

        The worker's input topics hold a record at every offset, so a jump means records were
        skipped, not that there are none; :mod:`streams.sequencer` reads them again and accepts
        a gap (:meth:`accept_gap`) only where a second read finds no record either.
        """

    def accept_gap(self, tp: TP, first: int, end: int) -> None:
        """Take offsets ``first`` to ``end - 1`` of ``tp`` as processed (they hold no record)."""
        self._gap[tp].addi(first, end)
        self._gap[tp].merge_overlaps()


class GatedTransactionManager(TransactionManager):
    """Commits every open transaction with the offsets ready, then records changelog offsets.

    Runs inside :meth:`JoinConsumer.commit`, gate held. An event processed but not yet
    acknowledged leaves records in its transaction and no offset to commit: committing every
    transaction that sent records keeps each event's records whole, and the event itself is read
    again after a stop and ignored as a duplicate.
    """

    async def commit(self, offsets: Mapping[TP, int], start_new_transaction: bool = True) -> bool:
        app = self.app
        assert isinstance(app, JoinApp)
        producer = self.producer
        assert isinstance(producer, CheckedProducer)
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


class CheckedProducer(aiokafka_driver.Producer):
    """Faust's aiokafka producer: direct sends, delivery failures surfaced, strict commits."""

    def __post_init__(self) -> None:
        super().__post_init__()
        # Faust declares these at class level, shared by every producer in the process.
        self._transaction_producers = {}
        self._trn_locks = {}
        self.failures: list[BaseException] = []
        """Records the broker did not take (the worker must not report a clean stop)."""

    async def send_record(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        transactional_id: str | None,
        on_delivered: Callable[[RecordMetadata], None] | None = None,
    ) -> None:
        """Queue a record on the producer of ``transactional_id`` (or the plain one).

        Unlike Faust's ``send`` it takes no per-transaction lock and fires no signal per record:
        the commit gate already keeps sends and commits apart. Returns once the record is
        queued; a failed delivery is remembered for :meth:`flush` to raise.
        """
        if transactional_id is None:
            producer = self._ensure_producer()
        else:
            producer = self._transaction_producers.get(transactional_id)
            if producer is None:
                raise ProducerSendError(f"no transactional producer {transactional_id!r}")
        try:
            delivery = await producer.send(topic, value, key=key, partition=partition)
        except KafkaError as error:
            raise ProducerSendError(f"cannot send to {topic}: {error!r}") from error

        def done(future: asyncio.Future[RecordMetadata]) -> None:
            if future.cancelled():
                self.failures.append(asyncio.CancelledError(f"delivery to {topic} cancelled"))
            elif (exception := future.exception()) is not None:
                self.failures.append(exception)
            elif on_delivered is not None:
                on_delivered(future.result())

        delivery.add_done_callback(done)

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


class JoinTransport(aiokafka_driver.Transport):
    """Faust's aiokafka transport with the classes above."""

    Consumer = JoinConsumer
    Producer = CheckedProducer
    TransactionManager = GatedTransactionManager
