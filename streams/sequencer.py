"""Feeds the join the records of each partition number in the order they were sent.

The agent hands every record to :meth:`InputSequencer.receive`, which buffers it in the merge of
its partition number (:mod:`streams.merge`) and processes whatever the merge releases; each
record is acknowledged (its offset becomes committable) only once processed. A timer calls
:meth:`InputSequencer.drain_waiting` to release records once a newer fetch vouches for the
other topic, or once they waited too long for it. Records still buffered when the partitions
are reassigned are dropped, never acknowledged: the consumer reads them again from the
committed offsets.

When is a partition with nothing buffered known to hold no record earlier than the other
topic's next one? Every record was received up to the high watermark of the partition's last
fetch, *and* that fetch happened after the other record was produced: records carry the time
their producer sent them, so a record produced after that fetch carries a later timestamp. The
high watermark alone is not enough: with live input it is soon stale, and a caught-up looking
partition may already hold records older than the other topic's head (dispatches then ran days
of event time ahead of scans and fired stall, SLA and unknown-code alerts early).
:data:`FETCH_MARGIN_MS` covers the time a record spends in its producer (linger, requests) and
clock skew between the producing and the consuming host.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from faust.types import TP

from streams.merge import ArrivalMerge
from streams.processor import JoinProcessor

logger = logging.getLogger(__name__)

FETCH_MARGIN_MS = 2_000
"""How much later than a record's timestamp a fetch must be to vouch for the other topic."""


class InputProgress(Protocol):
    """What the sequencer needs to know of the consumer."""

    def generation(self) -> int:
        """Changes with every new partition assignment."""

    def highwater(self, tp: TP) -> int | None:
        """Offset after the last record the broker held for ``tp`` at the last fetch
        (``None``: not known yet)."""

    def fetched_at_ms(self, tp: TP) -> int | None:
        """Wall-clock time (ms) of the last fetch response that reported ``tp``'s high
        watermark (``None``: not known yet)."""

    def rebalancing(self) -> bool:
        """Whether the group is rebalancing (no new records will be fetched meanwhile)."""

    def committed(self, tp: TP) -> int | None:
        """The committed offset of ``tp``: the first record this assignment will deliver."""

    async def reread(self) -> None:
        """Make the consumer deliver every input partition again from its committed offset."""

    def accept_gap(self, tp: TP, first: int, end: int) -> None:
        """Treat offsets ``first`` to ``end - 1`` of ``tp`` as processed: they hold no record."""


@dataclass(slots=True)
class _Pending:
    message: Any
    ack: Callable[[], object]


class InputSequencer:
    """Orders the records of each partition number across the input topics, then processes them."""

    def __init__(
        self,
        topics: Sequence[str],
        processor: JoinProcessor,
        progress: InputProgress,
        *,
        max_wait_s: float,
        buffer_limit: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._topics = tuple(topics)
        self._processor = processor
        self._progress = progress
        self._max_wait_s = max_wait_s
        self._buffer_limit = buffer_limit
        self._monotonic = monotonic
        self._generation = progress.generation()
        self._merges: dict[int, ArrivalMerge[_Pending]] = {}
        self._received: dict[TP, int] = {}
        """Offset of the last record received from each input partition."""
        self._quiet: set[TP] = set()
        """Input partitions taken as caught up after the wait for them ran out."""
        self._blocked: dict[int, float] = {}
        """Partitions whose next record waits for another topic, and since when."""
        self._next: dict[TP, int] = {}
        """The offset each input partition must deliver next."""
        self._reseeking: dict[TP, tuple[int, int]] = {}
        """Input partitions read again after a skip: (offset sought, offset it skipped to)."""

    @property
    def buffered(self) -> int:
        """Records received but not processed yet."""
        return sum(len(merge) for merge in self._merges.values())

    async def receive(self, event: Any) -> None:
        """Buffer one Faust event of an input topic and process what can be processed."""
        self._check_generation()
        message = event.message
        partition = message.partition
        tp = TP(message.topic, partition)
        if not await self._in_sequence(tp, message.offset):
            return
        merge = self._merges.get(partition)
        if merge is None:
            merge = self._merges[partition] = ArrivalMerge(self._topics)
        timestamp_ms = round((message.timestamp or 0.0) * 1000)
        merge.add(message.topic, timestamp_ms, message.offset, _Pending(message, event.ack))
        self._received[tp] = message.offset
        self._quiet.discard(tp)
        await self._drain(partition)

    async def drain_waiting(self) -> None:
        """Process the waiting records that a newer fetch vouches for, and those that waited
        too long for another topic.

        Nothing is processed while the group rebalances: the records still buffered then are
        dropped at the new assignment and read again from the committed offsets.
        """
        if self._progress.rebalancing():
            return
        self._check_generation()
        now = self._monotonic()
        for partition, since in list(self._blocked.items()):
            if now - since >= self._max_wait_s:
                merge = self._merges[partition]
                for topic in merge.idle_topics():
                    self._quiet.add(TP(topic, partition))
                logger.info(
                    "stopped waiting for an input partition",
                    extra={"partition": partition, "quiet": merge.idle_topics()},
                )
            await self._drain(partition)

    async def _drain(self, partition: int) -> None:
        merge = self._merges[partition]

        def caught_up(topic: str, before_ms: int) -> bool:
            return self._caught_up(TP(topic, partition), before_ms)

        processed = 0
        while True:
            # Past the buffer limit, order gives way to memory.
            force = len(merge) > self._buffer_limit
            pending = merge.pop(caught_up, force)
            if pending is None:
                break
            await self._processor.process(pending.message)
            pending.ack()
            processed += 1
        if not len(merge):
            self._blocked.pop(partition, None)
        elif processed or partition not in self._blocked:
            self._blocked[partition] = self._monotonic()

    async def _in_sequence(self, tp: TP, offset: int) -> bool:
        """Whether ``offset`` is the next record of ``tp``; else read the missing ones again.

        The input topics hold a record at every offset (idempotent producers, no compaction,
        no transactions), yet Faust's consumer can skip records when it resumes fetching before
        it seeks to the committed offsets (faust-streaming #216). A skip is never passed over:
        the consumer reads again from the committed offsets, the records received already are
        dropped, and offsets that the second read skips again really hold no record.
        """
        expected = self._next.get(tp)
        if expected is None:
            expected = self._progress.committed(tp)
        if expected is None or offset == expected:
            self._reseeking.pop(tp, None)
            self._next[tp] = offset + 1
            return True
        if offset < expected:
            return False  # delivered again after a seek: received already
        sought = self._reseeking.get(tp)
        if sought is not None and sought[0] == expected:
            if offset != sought[1]:
                return False  # fetched before the seek took effect
            logger.warning(
                "input offsets hold no records",
                extra={
                    "topic": tp.topic,
                    "partition": tp.partition,
                    "from": expected,
                    "to": offset,
                },
            )
            self._progress.accept_gap(tp, expected, offset)
            self._reseeking.pop(tp)
            self._next[tp] = offset + 1
            return True
        logger.warning(
            "the consumer skipped input records: reading them again",
            extra={"topic": tp.topic, "partition": tp.partition, "from": expected, "to": offset},
        )
        self._reseeking[tp] = (expected, offset)
        await self._progress.reread()
        return False

    def _caught_up(self, tp: TP, before_ms: int) -> bool:
        """Whether ``tp`` can no longer deliver a record stamped before ``before_ms``."""
        if tp in self._quiet:
            return True
        highwater = self._progress.highwater(tp)
        if highwater is None:
            return False
        received = self._received.get(tp)
        if highwater != 0 and (received is None or received + 1 < highwater):
            return False
        fetched_at = self._progress.fetched_at_ms(tp)
        return fetched_at is not None and fetched_at >= before_ms + FETCH_MARGIN_MS

    def _check_generation(self) -> None:
        generation = self._progress.generation()
        if generation == self._generation:
            return
        # A new assignment: the consumer starts again from the committed offsets, so whatever
        # is still buffered (never acknowledged) will be read again by its partition's owner.
        self._generation = generation
        self._merges.clear()
        self._received.clear()
        self._quiet.clear()
        self._blocked.clear()
        self._next.clear()
        self._reseeking.clear()
        self._processor.reset()
