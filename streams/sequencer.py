"""Feeds the join the records of each partition number in the order they reached Kafka.

The agent hands every record to :meth:`InputSequencer.receive`, which buffers it in the merge of
its partition number (:mod:`streams.merge`) and processes whatever the merge releases; each
record is acknowledged (its offset becomes committable) only once processed. A timer calls
:meth:`InputSequencer.drain_waiting` to release records that waited too long for the other
topic, and everything buffered while the group rebalances, so revoked partitions are handed
over with all their records processed and committed.
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


class InputProgress(Protocol):
    """What the sequencer needs to know of the consumer."""

    def generation(self) -> int:
        """Changes with every new partition assignment."""

    def highwater(self, tp: TP) -> int | None:
        """Offset after the last record the broker holds for ``tp`` (``None``: not known yet)."""

    def rebalancing(self) -> bool:
        """Whether the group is rebalancing (no new records will be fetched meanwhile)."""


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

    @property
    def buffered(self) -> int:
        """Records received but not processed yet."""
        return sum(len(merge) for merge in self._merges.values())

    async def receive(self, event: Any) -> None:
        """Buffer one Faust event of an input topic and process what can be processed."""
        self._check_generation()
        message = event.message
        partition = message.partition
        merge = self._merges.get(partition)
        if merge is None:
            merge = self._merges[partition] = ArrivalMerge(self._topics)
        timestamp_ms = round((message.timestamp or 0.0) * 1000)
        merge.add(message.topic, timestamp_ms, message.offset, _Pending(message, event.ack))
        tp = TP(message.topic, partition)
        self._received[tp] = message.offset
        self._quiet.discard(tp)
        await self._drain(partition)

    async def drain_waiting(self) -> None:
        """Process the records that waited too long (all of them while rebalancing)."""
        self._check_generation()
        rebalancing = self._progress.rebalancing()
        now = self._monotonic()
        for partition, since in list(self._blocked.items()):
            if not rebalancing and now - since < self._max_wait_s:
                continue
            merge = self._merges[partition]
            for topic in merge.idle_topics():
                self._quiet.add(TP(topic, partition))
            logger.info(
                "stopped waiting for an input partition",
                extra={"partition": partition, "quiet": merge.idle_topics()},
            )
            await self._drain(partition, everything=rebalancing)

    async def _drain(self, partition: int, everything: bool = False) -> None:
        merge = self._merges[partition]

        def caught_up(topic: str) -> bool:
            return self._caught_up(topic, partition)

        processed = 0
        while True:
            # Past the buffer limit, order gives way to memory.
            force = everything or len(merge) > self._buffer_limit
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

    def _caught_up(self, topic: str, partition: int) -> bool:
        tp = TP(topic, partition)
        if tp in self._quiet:
            return True
        highwater = self._progress.highwater(tp)
        if highwater is None:
            return False
        received = self._received.get(tp)
        return highwater == 0 or (received is not None and received + 1 >= highwater)

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
        self._processor.reset()
