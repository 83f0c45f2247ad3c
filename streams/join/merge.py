"""The two input partitions of one partition number, merged in the order records were stamped.

A worker fetches partition *p* of the scans topic and partition *p* of the dispatches topic
independently, and Faust hands their records over in whatever interleaving the fetches produce.
Stream time and the alerts that fire depend on that interleaving: while the worker catches up on
a backlog, the sparser dispatches topic would run hours ahead of the scans and push the clock
past scans not yet read. So, like Kafka Streams' timestamp synchronization, the worker buffers
the records of both partitions and always takes the one stamped first (record timestamp, then
topic, then offset): the order records were sent, or, on topics the broker stamps
(``LogAppendTime``), the order they were appended. A partition with nothing buffered is waited
for while it may still hold an earlier record, for at most a bounded time (see
:mod:`streams.runtime.sequencer` for how the worker knows).

Merging is memoryless (the next record depends only on the heads), so the records processed
before any stop plus the merge of what remains after it give the same order as one merge of
everything: a restarted worker continues the same sequence. :func:`merged` is that order for
records read back from Kafka (the reference checks).

That holds while each partition is in timestamp order, as with one producer per partition or
broker stamps. Several producers writing the same partitions (one connector per carrier)
interleave records whose timestamps go back and forth by up to their difference in latency.
:class:`ReorderingMerge` orders the records within each partition by timestamp as well, given a
bound on that disorder (a *reorder window*): a topic whose latest received record is stamped
more than the window after a buffered record can no longer deliver one before it. Records of
one topic stamped the same millisecond keep their offset order, which is the order their
producer sent them in (a batch of scans uploaded at once); between producers, a shared
millisecond has no order but the log's.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")

MergeKey = tuple[int, int, int]
"""(record timestamp in ms, topic rank, offset): the order in which records are processed."""


def merge_key(timestamp_ms: int, topic_rank: int, offset: int) -> MergeKey:
    """Where a record falls in the merged order."""
    return (timestamp_ms, topic_rank, offset)


CaughtUp = Callable[[str, MergeKey], bool]
"""Whether a topic (with nothing buffered) can no longer hold a record that comes before the
record with the given merge key."""

_Entry = tuple[int, int, int, T]
"""A buffered record: its merge key's three parts, then the record. Keys are unique (a topic
has one rank and one record per offset), so comparing entries never reaches the record."""


class ArrivalMerge(Generic[T]):
    """Buffers the records of one partition number of several topics and releases them in order.

    ``topics`` lists the topics in the order that breaks timestamp ties.
    """

    __slots__ = ("_queues", "_ranks", "_size")

    def __init__(self, topics: Sequence[str]) -> None:
        self._ranks = {topic: rank for rank, topic in enumerate(topics)}
        self._queues: dict[str, deque[_Entry[T]]] = {topic: deque() for topic in topics}
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def idle_topics(self) -> list[str]:
        """The topics with nothing buffered."""
        return [topic for topic, queue in self._queues.items() if not queue]

    def lowest_offset(self, topic: str) -> int | None:
        """The lowest offset of ``topic`` still buffered (``None``: nothing is)."""
        queue = self._queues[topic]
        return queue[0][2] if queue else None

    def add(self, topic: str, timestamp_ms: int, offset: int, item: T) -> None:
        """Buffer a record (records of one topic arrive in offset order)."""
        self._queues[topic].append((timestamp_ms, self._ranks[topic], offset, item))
        self._size += 1

    def add_all(self, topic: str, records: Iterable[tuple[int, int, T]]) -> None:
        """Buffer records of ``topic`` given as (timestamp ms, offset, record), in offset
        order."""
        queue, rank, size = self._queues[topic], self._ranks[topic], len(self._queues[topic])
        queue.extend((timestamp_ms, rank, offset, item) for timestamp_ms, offset, item in records)
        self._size += len(queue) - size

    def pop(self, caught_up: CaughtUp, force: bool = False) -> T | None:
        """The next record in order, or ``None`` while it cannot be known yet.

        It cannot be known while some topic has nothing buffered but may still hold a record
        that comes before the earliest buffered one (``caught_up(topic, key)`` is false, ``key``
        being that record's merge key); ``force`` takes the earliest buffered record regardless.
        """
        released = self.release(caught_up, -1 if force else None, most=1)
        return released[0] if released else None

    def release(self, caught_up: CaughtUp, limit: int | None = None, most: int = -1) -> list[T]:
        """Every record that can be known to come next, in order (at most ``most``, unless
        negative); while more than ``limit`` records are buffered, the earliest goes regardless
        (past that limit, order gives way to memory)."""
        queues = list(self._queues.items())
        released: list[T] = []
        while self._size and most != len(released):
            first: _Entry[T] | None = None
            first_queue = None
            for _topic, queue in queues:
                if queue and (first is None or queue[0] < first):
                    first, first_queue = queue[0], queue
            assert first is not None and first_queue is not None
            if limit is None or self._size <= limit:
                key = (first[0], first[1], first[2])
                if any(not queue and not caught_up(topic, key) for topic, queue in queues):
                    break
            first_queue.popleft()
            self._size -= 1
            released.append(first[3])
        return released


def merged(records: Iterable[Iterable[tuple[MergeKey, T]]]) -> Iterator[T]:
    """The records of several topics' partitions (each in offset order) in merged order."""
    for _key, item in heapq.merge(*records, key=lambda pair: pair[0]):
        yield item


class ReorderingMerge(Generic[T]):
    """An :class:`ArrivalMerge` that also orders the records of each topic by timestamp.

    ``reorder_window_ms`` bounds the disorder within a partition: no record is stamped more
    than that before a record at a lower offset of the same partition.
    """

    __slots__ = ("_heaps", "_latest", "_pending", "_ranks", "_released", "_size", "_window_ms")

    def __init__(self, topics: Sequence[str], reorder_window_ms: int) -> None:
        self._ranks = {topic: rank for rank, topic in enumerate(topics)}
        self._heaps: dict[str, list[_Entry[T]]] = {topic: [] for topic in topics}
        self._latest: dict[str, int] = {}
        """The latest timestamp received of each topic."""
        self._pending: dict[str, deque[int]] = {topic: deque() for topic in topics}
        """The offsets buffered of each topic, lowest first, released ones not trimmed yet."""
        self._released: dict[str, set[int]] = {topic: set() for topic in topics}
        """Released offsets still behind a buffered one in ``_pending``."""
        self._window_ms = reorder_window_ms
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def idle_topics(self) -> list[str]:
        """The topics with nothing buffered."""
        return [topic for topic, heap in self._heaps.items() if not heap]

    def lowest_offset(self, topic: str) -> int | None:
        """The lowest offset of ``topic`` still buffered (``None``: nothing is)."""
        pending = self._pending[topic]
        return pending[0] if pending else None

    def add_all(self, topic: str, records: Iterable[tuple[int, int, T]]) -> None:
        """Buffer records of ``topic`` given as (timestamp ms, offset, record), in offset
        order."""
        heap, pending, rank = self._heaps[topic], self._pending[topic], self._ranks[topic]
        latest = self._latest.get(topic)
        added = 0
        for timestamp_ms, offset, item in records:
            heapq.heappush(heap, (timestamp_ms, rank, offset, item))
            pending.append(offset)
            if latest is None or timestamp_ms > latest:
                latest = timestamp_ms
            added += 1
        if latest is not None:
            self._latest[topic] = latest
        self._size += added

    def release(self, caught_up: CaughtUp, limit: int | None = None, most: int = -1) -> list[T]:
        """Every record that can be known to come next, in order, as
        :meth:`ArrivalMerge.release`; a topic (buffered or idle) is asked ``caught_up`` unless
        its latest record is stamped more than the reorder window after the next one."""
        heaps = list(self._heaps.items())
        latest, window = self._latest, self._window_ms
        released: list[T] = []
        while self._size and most != len(released):
            first: _Entry[T] | None = None
            first_topic = ""
            for topic, heap in heaps:
                if heap and (first is None or heap[0] < first):
                    first, first_topic = heap[0], topic
            assert first is not None
            if limit is None or self._size <= limit:
                horizon = first[0] + window
                key = (first[0], first[1], first[2])
                if any(
                    latest.get(topic, horizon) <= horizon and not caught_up(topic, key)
                    for topic, _heap in heaps
                ):
                    break
            heapq.heappop(self._heaps[first_topic])
            self._size -= 1
            self._trim(first_topic, first[2])
            released.append(first[3])
        return released

    def _trim(self, topic: str, offset: int) -> None:
        pending = self._pending[topic]
        if pending[0] != offset:
            self._released[topic].add(offset)
            return
        pending.popleft()
        done = self._released[topic]
        while pending and pending[0] in done:
            done.remove(pending.popleft())
