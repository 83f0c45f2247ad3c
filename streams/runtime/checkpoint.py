"""One commit of the worker, its steps in order, and when to make one.

Between two commits the worker joins whole batches: their outputs wait in
:class:`~streams.runtime.sender.OutputSender` or in the producers, the states they changed in
:class:`~streams.runtime.states.ShipmentStates`, and the offsets they processed in
:class:`InputPositions`. :meth:`Checkpoint.commit` (run by the consumer's commit, gate held)
makes all of it durable together:

1. at-least-once only: flush the outputs, so a state change is never durable before what it
   caused (an event whose state change is lost in a crash is processed again);
2. write back the changed states: encode each once, write it to RocksDB and queue its
   changelog record (a tombstone for a forgotten one);
3. hand every queued record to its producer;
4. commit: exactly-once, every partition's transaction that sent records, with its input
   offsets (the changelog offsets it holds are recorded as persisted once it commits);
   at-least-once, flush and commit the offsets.

Faust's commit timer runs at ``WorkerConfig.live_commit_interval_s`` (0.1 s): exactly-once
outputs are visible only once committed, so a worker that is caught up commits that often. A
worker catching up on a backlog (its last fetch was a full batch) skips those periodic commits
until ``WorkerConfig.commit_interval_s`` (1 s) has passed: each commit costs a round of
transaction requests per partition, and nobody waits for outputs of records hours old.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from faust.types import TP

from streams.runtime.exactly_once import WorkerApp, WorkerConsumer
from streams.runtime.processor import JoinProcessor
from streams.runtime.sender import OutputSender


class InputPositions:
    """The next offset to commit of each input partition, as the join processes records."""

    def __init__(self) -> None:
        self._next: dict[TP, int] = {}

    def processed_before(self, tp: TP, offset: int) -> None:
        """Record that every record of ``tp`` before ``offset`` is processed."""
        self._next[tp] = offset

    def clear(self) -> None:
        """Forget every position (partitions were reassigned; they were committed before)."""
        self._next.clear()

    def committable(self, consumer: WorkerConsumer) -> dict[TP, int]:
        """Positions beyond what the consumer last committed."""
        offsets = {}
        for tp, offset in self._next.items():
            committed = consumer.committed_offset(tp)
            if committed is None or offset > committed:
                offsets[tp] = offset
        return offsets


class Checkpoint:
    """Commits what the join did since the last commit, in the order above."""

    def __init__(
        self,
        app: WorkerApp,
        processor: JoinProcessor,
        sender: OutputSender,
        positions: InputPositions,
        *,
        catching_up_interval_s: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._app = app
        self._processor = processor
        self._sender = sender
        self._positions = positions
        self._catching_up_interval_s = catching_up_interval_s
        self._monotonic = monotonic
        self._last = monotonic()

    async def commit(self, start_new_transaction: bool = True, *, periodic: bool = False) -> bool:
        """Run one commit (a ``periodic`` one may be skipped while catching up); ``True`` when
        input offsets were committed."""
        app = self._app
        now = self._monotonic()
        if periodic and app.catching_up and now - self._last < self._catching_up_interval_s:
            return False
        self._last = now
        consumer = app.consumer
        assert isinstance(consumer, WorkerConsumer)
        if not app.in_transaction:
            await self._sender.flush()
            await app.producer.flush()
        self._processor.write_back()
        await self._sender.flush()
        committed = False
        offsets = self._positions.committable(consumer)
        if offsets:
            committed = await consumer.commit_offsets(offsets, start_new_transaction)
        if app.open_transactions:
            # Records whose input offsets were committed already (read again after a stop)
            # or that no offset goes with (a dead letter written back late): commit them too.
            await consumer.transactions.commit({}, start_new_transaction)
        return committed
