"""The two input partitions of one partition number, merged in the order records were sent.

A worker fetches partition *p* of the scans topic and partition *p* of the dispatches topic
independently, and Faust hands their records over in whatever interleaving the fetches
produce. Stream time and the alerts that fire depend on that interleaving: while the worker
catches up on a backlog, the sparser dispatches topic would run hours ahead of the scans and
push the clock past scans not yet read. So, like Kafka Streams' timestamp synchronization, the
worker buffers the records of both partitions and always takes the one its producer sent
first (record timestamp, then topic, then offset). A partition with nothing buffered is waited
for while it may still hold an earlier record, for at most a bounded time (see
:mod:`streams.runtime.sequencer` for how the worker knows).

Merging is memoryless (the next record depends only on the heads), so the records processed
before any stop plus the merge of what remains after it give the same order as one merge of
everything: a restarted worker continues the same sequence. :func:`merged` is that order for
records read back from Kafka (the reference checks).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

MergeKey = tuple[int, int, int]
"""(record timestamp in ms, topic rank, offset): the order in which records are processed."""


def merge_key(timestamp_ms: int, topic_rank: int, offset: int) -> MergeKey:
    """Where a record falls in the merged order."""
    return (timestamp_ms, topic_rank, offset)


@dataclass(order=True, slots=True)
class _Entry(Generic[T]):
    key: MergeKey
    item: T = field(compare=False)


class ArrivalMerge(Generic[T]):
    """Buffers the records of one partition number of several topics and releases them in order.

    ``topics`` lists the topics in the order that breaks timestamp ties.
    """

    __slots__ = ("_queues", "_ranks")

    def __init__(self, topics: Sequence[str]) -> None:
        self._ranks = {topic: rank for rank, topic in enumerate(topics)}
        self._queues: dict[str, deque[_Entry[T]]] = {topic: deque() for topic in topics}

    def __len__(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

    def idle_topics(self) -> list[str]:
        """The topics with nothing buffered."""
        return [topic for topic, queue in self._queues.items() if not queue]

    def add(self, topic: str, timestamp_ms: int, offset: int, item: T) -> None:
        """Buffer a record (records of one topic arrive in offset order)."""
        key = merge_key(timestamp_ms, self._ranks[topic], offset)
        self._queues[topic].append(_Entry(key, item))

    def pop(self, caught_up: Callable[[str, int], bool], force: bool = False) -> T | None:
        """The next record in order, or ``None`` while it cannot be known yet.

        It cannot be known while some topic has nothing buffered but may still hold a record
        stamped before the earliest buffered one (``caught_up(topic, timestamp_ms)`` is false);
        ``force`` takes the earliest buffered record regardless.
        """
        first_queue = min(
            (queue for queue in self._queues.values() if queue),
            key=lambda queue: queue[0],
            default=None,
        )
        if first_queue is None:
            return None
        first = first_queue[0]
        if not force:
            for topic, queue in self._queues.items():
                if not queue and not caught_up(topic, first.key[0]):
                    return None
        first_queue.popleft()
        return first.item


def merged(records: Iterable[Iterable[tuple[MergeKey, T]]]) -> Iterator[T]:
    """The records of several topics' partitions (each in offset order) in merged order."""
    for _key, item in heapq.merge(*records, key=lambda pair: pair[0]):
        yield item
