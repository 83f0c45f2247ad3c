"""Feeds the join the records of each partition number in the order they were sent.

The consumer hands every fetched batch to :meth:`InputSequencer.receive`, which buffers its
records in the merge of their partition number (:mod:`streams.join.merge`), processes whatever
the merges release, a list per partition, and hands the outputs to the producers once per batch;
a record's offset becomes committable (:class:`~streams.runtime.checkpoint.InputPositions`)
only once it is processed. A timer calls :meth:`InputSequencer.drain_waiting` to release
records once a newer fetch vouches for the other topic, or once they waited too long for it.
Records still buffered when the partitions are reassigned are dropped, never committed: the
consumer reads them again from the committed offsets.

When is a partition with nothing buffered known to hold no record that comes before the other
topic's next one? Every record was received up to the high watermark of the partition's last
fetch, *and* that fetch reflects the partition at a time after the other record was stamped. The
high watermark alone is not enough: with live input it is soon stale, and a caught-up looking
partition may already hold records older than the other topic's head (dispatches then ran days
of event time ahead of scans and fired stall, SLA and unknown-code alerts early). How the worker
knows the fetch came late enough depends on who stamped the records:

- **The broker** (the input topics' ``message.timestamp.type`` is ``LogAppendTime``, as
  ``tracecode topics apply`` sets it with ``TRACECODE_TOPICS_BROKER_TIMESTAMPS``): a record
  appended after a fetch was requested carries a later broker time than a record the worker had
  already received when it requested that fetch. So a fetch requested after the waiting record
  arrived vouches for the partition, within one fetch round trip. ``clock_skew_s``
  (``WorkerConfig.broker_clock_skew_s``) adds the clock offset between the brokers leading the
  two partitions, and makes ties of the same millisecond impossible. (The rule below holds for
  broker stamps too, and vouches for records received long after they were appended, as in a
  backlog.)
- **The producer** (``CreateTime``, the default): the fetch must come ``fetch_margin_ms`` after
  the waiting record's timestamp (``WorkerConfig.fetch_margin_s``, 2 s), which covers the time a
  record spends in its producer (linger, requests) and clock skew between the producing and the
  consuming host. Every record then waits seconds whenever the other partition is idle.

With several producers writing the same partitions, a partition's records are in timestamp order
only to within their producers' difference in latency. ``reorder_window_ms``
(``WorkerConfig.reorder_window_s``, off by default) makes the worker order each partition's
records by timestamp too (:class:`~streams.join.merge.ReorderingMerge`): every topic, the
waiting record's own included, must then vouch for it, which costs live records the fetch margin
whether or not the other topic is idle. A partition's offset is committable up to its lowest
record not processed yet, so records processed past it are read again after a restart, and the
join takes them as the duplicates they are. A record stamped later than the fetch that brought
it plus the fetch margin (a producer clock far ahead) is ordered as if stamped then, so that it
cannot hold its partition's committed offset back until its time comes.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from faust.types import TP

from streams.join.merge import ArrivalMerge, MergeKey, ReorderingMerge
from streams.runtime.checkpoint import InputPositions
from streams.runtime.processor import JoinProcessor
from streams.runtime.sender import OutputSender

logger = logging.getLogger(__name__)

_LOG_APPEND_TIME = 1
"""A consumer record's ``timestamp_type`` when the broker stamped it (0: its producer did)."""

_Arrival = tuple[int, float, bool]
"""A received batch of one partition: its last offset, when it was received (monotonic
seconds), whether the broker stamped all its records."""


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

    def requested_at(self, tp: TP) -> float | None:
        """Monotonic time (s) at which the fetch that last reported ``tp``'s high watermark
        was requested (``None``: not known yet)."""

    def rebalancing(self) -> bool:
        """Whether the group is rebalancing (no new records will be fetched meanwhile)."""

    def committed(self, tp: TP) -> int | None:
        """The committed offset of ``tp``: the first record this assignment will deliver."""

    async def reread(self) -> None:
        """Make the consumer deliver every input partition again from its committed offset."""


class InputSequencer:
    """Orders the records of each partition number across the input topics, then processes them."""

    def __init__(
        self,
        topics: Sequence[str],
        processor: JoinProcessor,
        sender: OutputSender,
        positions: InputPositions,
        progress: InputProgress,
        *,
        max_wait_s: float,
        fetch_margin_ms: int,
        clock_skew_s: float,
        reorder_window_ms: int = 0,
        buffer_limit: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._topics = tuple(topics)
        self._processor = processor
        self._sender = sender
        self._positions = positions
        self._progress = progress
        self._max_wait_s = max_wait_s
        self._fetch_margin_ms = fetch_margin_ms
        self._clock_skew_s = clock_skew_s
        self._reorder_window_ms = reorder_window_ms
        self._buffer_limit = buffer_limit
        self._monotonic = monotonic
        self._generation = progress.generation()
        self._merges: dict[int, ArrivalMerge[Any] | ReorderingMerge[Any]] = {}
        self._arrivals: dict[TP, deque[_Arrival]] = {}
        """The received batches of each input partition not processed yet."""
        self._broker_stamped: dict[str, bool] = {}
        """Whether the broker stamped the last batch received from each input topic."""
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

    async def receive(self, batch: Mapping[TP, Sequence[Any]]) -> None:
        """Buffer a fetched batch (aiokafka consumer records by input partition), process what
        can be processed, and hand its outputs to the producers."""
        self._check_generation()
        now = self._monotonic()
        partitions: dict[int, None] = {}
        for tp, records in batch.items():
            accepted = await self._in_sequence(tp, records)
            if not accepted:
                continue
            stamped = all(record.timestamp_type == _LOG_APPEND_TIME for record in accepted)
            arrivals = self._arrivals.get(tp)
            if arrivals is None:
                arrivals = self._arrivals[tp] = deque()
            arrivals.append((accepted[-1].offset, now, stamped))
            self._broker_stamped[tp.topic] = stamped
            self._buffer(tp, accepted)
            self._quiet.discard(tp)
            partitions[tp.partition] = None
        for partition in partitions:
            self._drain(partition)
        await self._sender.flush()

    async def drain_waiting(self) -> None:
        """Process the waiting records that a newer fetch vouches for, and those that waited
        too long for another topic whose partition answered fetches meanwhile.

        Nothing is processed while the group rebalances: the records still buffered then are
        dropped at the new assignment and read again from the committed offsets.
        """
        if self._progress.rebalancing():
            return
        self._check_generation()
        now = self._monotonic()
        for partition, since in list(self._blocked.items()):
            if now - since >= self._max_wait_s:
                # Only a partition whose every record up to its last known end was received
                # stops being waited for: one known to hold more is waited for until they
                # arrive, however slow the fetches (or the broker) are. And only once a fetch
                # made during the wait answered: a broker away answers nothing, and its
                # partitions may hold records the worker has not heard of.
                quiet = [
                    tp
                    for tp in (
                        TP(topic, partition) for topic in self._merges[partition].idle_topics()
                    )
                    if self._received_all(tp) and self._fetched_since(tp, since)
                ]
                if quiet:
                    self._quiet.update(quiet)
                    logger.info(
                        "stopped waiting for an input partition",
                        extra={"partition": partition, "quiet": [tp.topic for tp in quiet]},
                    )
            self._drain(partition)
        await self._sender.flush()

    def _buffer(self, tp: TP, records: Sequence[Any]) -> None:
        merge = self._merges.get(tp.partition)
        if merge is None:
            merge = self._merges[tp.partition] = (
                ReorderingMerge(self._topics, self._reorder_window_ms)
                if self._reorder_window_ms
                else ArrivalMerge(self._topics)
            )
        if isinstance(merge, ArrivalMerge):
            merge.add_all(tp.topic, ((r.timestamp, r.offset, r) for r in records))
            return
        fetched_at = self._progress.fetched_at_ms(tp)
        latest = None if fetched_at is None else fetched_at + self._fetch_margin_ms
        merge.add_all(
            tp.topic,
            (
                (r.timestamp if latest is None else min(r.timestamp, latest), r.offset, r)
                for r in records
            ),
        )

    def _drain(self, partition: int) -> None:
        merge = self._merges[partition]

        def caught_up(topic: str, key: MergeKey) -> bool:
            return self._caught_up(TP(topic, partition), key)

        released = merge.release(caught_up, self._buffer_limit)
        processed = len(released)
        if released:
            self._processor.process(partition, released)
            for topic in {record.topic for record in released}:
                tp = TP(topic, partition)
                lowest = merge.lowest_offset(topic)
                position = self._next[tp] if lowest is None else lowest
                self._positions.processed_before(tp, position)
                arrivals = self._arrivals.get(tp)
                while arrivals and arrivals[0][0] < position:
                    arrivals.popleft()
        if not len(merge):
            self._blocked.pop(partition, None)
        elif processed or partition not in self._blocked:
            self._blocked[partition] = self._monotonic()

    async def _in_sequence(self, tp: TP, records: Sequence[Any]) -> list[Any]:
        """The records of ``tp`` that come next in sequence; reads the missing ones again.

        The input topics hold a record at every offset (idempotent producers, no compaction,
        no transactions), yet Faust's consumer can skip records when it resumes fetching before
        it seeks to the committed offsets (faust-streaming #216). A skip is never passed over:
        the consumer reads again from the committed offsets, the records received already are
        dropped, and offsets that the second read skips again really hold no record.
        """
        expected = self._next.get(tp)
        if expected is None:
            expected = self._progress.committed(tp)
        accepted: list[Any] = []
        for record in records:
            offset = record.offset
            if expected is None or offset == expected:
                self._reseeking.pop(tp, None)
                accepted.append(record)
                expected = offset + 1
                continue
            if offset < expected:
                continue  # delivered again after a seek: received already
            sought = self._reseeking.get(tp)
            if sought is not None and sought[0] == expected:
                if offset != sought[1]:
                    continue  # fetched before the seek took effect
                logger.warning(
                    "input offsets hold no records",
                    extra={
                        "topic": tp.topic,
                        "partition": tp.partition,
                        "from": expected,
                        "to": offset,
                    },
                )
                self._reseeking.pop(tp)
                accepted.append(record)
                expected = offset + 1
                continue
            logger.warning(
                "the consumer skipped input records: reading them again",
                extra={
                    "topic": tp.topic,
                    "partition": tp.partition,
                    "from": expected,
                    "to": offset,
                },
            )
            self._reseeking[tp] = (expected, offset)
            await self._progress.reread()
            break
        if expected is not None:
            self._next[tp] = expected
        return accepted

    def _caught_up(self, tp: TP, key: MergeKey) -> bool:
        """Whether ``tp`` can no longer deliver a record that comes before the one at ``key``."""
        if tp in self._quiet:
            return True
        if not self._received_all(tp):
            return False
        stamp_ms, rank, offset = key
        arrival = self._arrival(TP(self._topics[rank], tp.partition), offset)
        if arrival is not None and arrival[2] and self._broker_stamped.get(tp.topic, False):
            requested = self._progress.requested_at(tp)
            if requested is not None and requested >= arrival[1] + self._clock_skew_s:
                return True
        fetched_at = self._progress.fetched_at_ms(tp)
        return fetched_at is not None and fetched_at >= stamp_ms + self._fetch_margin_ms

    def _arrival(self, tp: TP, offset: int) -> _Arrival | None:
        """The received batch of ``tp`` that holds ``offset``."""
        arrivals = self._arrivals.get(tp)
        if arrivals is None:
            return None
        for arrival in arrivals:
            if arrival[0] >= offset:
                return arrival
        return None

    def _fetched_since(self, tp: TP, since: float) -> bool:
        """Whether a fetch of ``tp`` requested at ``since`` (monotonic seconds) or later was
        answered."""
        requested = self._progress.requested_at(tp)
        return requested is not None and requested >= since

    def _received_all(self, tp: TP) -> bool:
        """Whether every record of ``tp`` up to the end its last fetch reported was received."""
        highwater = self._progress.highwater(tp)
        if highwater is None:
            return False
        expected = self._next.get(tp)
        if expected is None:
            # Nothing received since the assignment: a partition whose records were all
            # processed before a restart delivers none, and is caught up from its committed
            # offset on (waiting for a record of it would hold the other topic for ever).
            expected = self._progress.committed(tp)
        return highwater == 0 or (expected is not None and expected >= highwater)

    def _check_generation(self) -> None:
        generation = self._progress.generation()
        if generation == self._generation:
            return
        # A new assignment: the consumer starts again from the committed offsets, so whatever
        # is still buffered (never acknowledged) will be read again by its partition's owner.
        self._generation = generation
        self._merges.clear()
        self._arrivals.clear()
        self._broker_stamped.clear()
        self._quiet.clear()
        self._blocked.clear()
        self._next.clear()
        self._reseeking.clear()
        self._positions.clear()
        self._processor.reset()
