"""Exactly-once on Faust: the transport classes that close the gaps of Faust's own EOS.

Faust (faust-streaming 0.15) runs one transactional producer per assigned partition number,
with the transactional id ``{app id}-{topic group}-{partition}``, and commits each producer's
transaction together with the offsets of its input partitions. Left alone it is not exactly-once
for this worker (docs/architecture.md, "Exactly-once"):

- ``Topic.send`` picks the transactional id from the *destination* partition and the topic
  group of the destination topic, which only subscribed topics have: sends to the status,
  history, alerts and dead-letter topics either fail or leave through the plain,
  non-transactional producer (faust-streaming issue #177).
- Table writes reach Kafka through Faust's producer buffer, which the transactional commit does
  not drain, and the commit runs in its own task: it can cut an event in two, committing its
  state change without its outputs or the reverse.
- The persisted changelog offsets are recorded per changelog partition but looked up per input
  partition on commit, so under exactly-once they are never written.

The worker therefore sends every record of an event itself, through the transactional producer
of the event's input partition (:class:`OutputSender`), and processes each event while holding
:attr:`JoinApp.commit_gate`, which :class:`GatedTransactionManager` also takes around every
commit: a transaction always holds whole events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import faust
from aiokafka.errors import ProducerFenced
from faust.exceptions import ProducerSendError
from faust.tables.manager import TableManager
from faust.transport.consumer import TransactionManager
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP, ProcessingGuarantee, RecordMetadata
from faust.types.transports import TransportT

logger = logging.getLogger(__name__)


class JoinApp(faust.App):
    """The Faust app of the worker, with the transport that makes exactly-once hold."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commit_gate = asyncio.Lock()
        """Held while an event is processed and while offsets commit, so neither cuts into
        the other."""
        self.open_transactions: dict[str, int] = {}
        """Transactional ids that sent records since their last commit, with their input
        partition."""
        self.commit_failed = False
        """Set when a commit raised: the tables may hold uncommitted state."""

    @property
    def in_transaction(self) -> bool:
        """Whether processing is exactly-once, as configured.

        Faust caches this on first access and derives it from ``in_worker``, which its
        ``Worker`` sets only when it starts: reading it while building the app would fix it to
        ``False`` and silently turn exactly-once off for the consumer and the producers.
        """
        guarantee: Any = self.conf.processing_guarantee  # typed as the enum class by Faust
        return bool(guarantee == ProcessingGuarantee.EXACTLY_ONCE)

    def _new_transport(self) -> TransportT:
        return JoinTransport(self.conf.broker_consumer, self)

    def transactional_id(self, source: TP) -> str:
        """The transactional id Faust gives the producer of input partition ``source``."""
        group = self.assignor.group_for_topic(source.topic)
        return f"{self.conf.id}-{group}-{source.partition}"


class GatedTransactionManager(TransactionManager):
    """Commits between events only, every open transaction, then records changelog offsets.

    Faust commits only the transactions of partitions with new acknowledged offsets; an event
    processed but not yet acknowledged (the commit ran between its end and its ack, or the
    worker is stopping) would leave its records in a transaction nobody commits. Committing
    every transaction that sent records, with whatever offsets are ready, keeps each event's
    records whole; the event itself is then read again and ignored as a duplicate.
    """

    async def commit(self, offsets: Mapping[TP, int], start_new_transaction: bool = True) -> bool:
        app = self.app
        assert isinstance(app, JoinApp)
        producer = self.producer
        assert isinstance(producer, CheckedProducer)
        async with app.commit_gate:
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
            # Faust keys the pending persisted offsets by changelog partition but looks them up
            # by input partition; the changelog partition of input partition p is p.
            tables = app.tables
            assert isinstance(tables, TableManager)
            for table in tables.values():
                topic = table.changelog_topic.get_topic_name()
                for partition in partitions:
                    tables.on_commit_tp(TP(topic, partition))
        return True


class CheckedProducer(aiokafka_driver.Producer):
    """Faust's aiokafka producer with delivery failures surfaced and strict commits."""

    def __post_init__(self) -> None:
        super().__post_init__()
        # Faust declares these at class level, shared by every producer in the process.
        self._transaction_producers = {}
        self._trn_locks = {}
        self.failures: list[BaseException] = []
        """Records the broker did not take (the worker must not report a clean stop)."""

    def watch(
        self,
        delivery: Awaitable[RecordMetadata],
        on_delivered: Callable[[RecordMetadata], None] | None = None,
    ) -> None:
        """Remember the failure of ``delivery`` for :meth:`flush` to raise; else call back."""

        def done(future: asyncio.Future[RecordMetadata]) -> None:
            if future.cancelled():
                self.failures.append(asyncio.CancelledError("delivery cancelled"))
            elif (exception := future.exception()) is not None:
                self.failures.append(exception)
            elif on_delivered is not None:
                on_delivered(future.result())

        asyncio.ensure_future(delivery).add_done_callback(done)

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
        """Commit one transaction with ``offsets`` (maybe none); raise on any failure.

        Faust's own ``commit_transactions`` skips a missing producer with a warning, which
        would silently drop the transaction's records.
        """
        lock = self._trn_locks.get(transactional_id)
        if lock is None:
            raise ProducerSendError(f"no transactional producer {transactional_id!r} to commit")
        async with lock:
            producer = self._transaction_producers.get(transactional_id)
            if producer is None:
                raise ProducerSendError(
                    f"transactional producer {transactional_id!r} stopped before its commit"
                )
            if offsets:
                await producer.send_offsets_to_transaction(offsets, group_id)
            await producer.commit_transaction()
            if start_new_transaction:
                await producer.begin_transaction()


class JoinTransport(aiokafka_driver.Transport):
    """Faust's aiokafka transport with the classes above."""

    Producer = CheckedProducer
    TransactionManager = GatedTransactionManager


class OutputSender:
    """Sends an event's records; under exactly-once inside its input partition's transaction."""

    def __init__(self, app: JoinApp) -> None:
        self._app = app

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        source: TP,
        partition: int | None = None,
        on_delivered: Callable[[RecordMetadata], None] | None = None,
    ) -> None:
        """Hand one record to the producer; returns once it is queued, not delivered.

        ``partition`` ``None`` lets the producer partition by key (murmur2, like the
        producers of the input topics); ``on_delivered`` is called with the record's
        metadata once the broker has it.
        """
        producer = self._app.producer
        assert isinstance(producer, CheckedProducer)
        transactional_id = self._app.transactional_id(source) if self._app.in_transaction else None
        delivery = await producer.send(
            topic, key, value, partition, None, None, transactional_id=transactional_id
        )
        producer.watch(delivery, on_delivered)
        if transactional_id is not None:
            self._app.open_transactions[transactional_id] = source.partition
