"""Per-partition batches with fixed offset boundaries: the pure part of the exactly-once design.

A batch covers the offsets ``first..last`` of one topic partition. Its deduplication token is
derived from those boundaries only (:func:`dedup_token`), so writing the same batch again is a
no-op in ClickHouse. Boundaries are fixed when a batch is sealed, recorded as *pending* before
the insert and as *done* after it (:mod:`sinks.state`). After a restart, a partition resumes
from its :class:`PartitionState`: offsets a done batch covered are skipped, and a pending batch
is rebuilt with exactly its recorded boundaries, so its retry carries the same token.

Nothing here touches Kafka or ClickHouse; time is an argument.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

Row = tuple[int, bytes, bytes]
"""One record of a batch: its offset, the 10-byte single-object header (marker and writer
fingerprint) and the Avro body."""


def dedup_token(topic: str, partition: int, first: int, last: int) -> str:
    """The ``insert_deduplication_token`` of the batch ``first..last`` of a partition."""
    return f"{topic}:{partition}:{first}-{last}"


@dataclass(frozen=True, slots=True)
class Batch:
    """Rows of one partition's offsets ``first..last``, sealed: boundaries never change."""

    topic: str
    partition: int
    first: int
    last: int
    rows: tuple[Row, ...]
    recovered: bool = False
    """Rebuilt from a pending intent found at start-up (its first write may have landed)."""

    @property
    def token(self) -> str:
        """The batch's deduplication token."""
        return dedup_token(self.topic, self.partition, self.first, self.last)

    @property
    def next_offset(self) -> int:
        """The offset to commit once the batch is stored."""
        return self.last + 1


class BatchStatus(StrEnum):
    """What the state table says about a partition's latest batch."""

    PENDING = "pending"
    """Recorded before the insert: the rows may or may not be stored."""
    DONE = "done"
    """Recorded after ClickHouse acknowledged the insert."""


@dataclass(frozen=True, slots=True)
class PartitionState:
    """A partition's latest batch intent, as recorded in the state table."""

    first: int
    last: int
    status: BatchStatus

    @property
    def skip_below(self) -> int:
        """Records at lower offsets are stored already (or belong to no batch)."""
        return self.last + 1 if self.status is BatchStatus.DONE else self.first

    @property
    def pending(self) -> tuple[int, int] | None:
        """Boundaries of the batch to rebuild, when the last write was not confirmed."""
        return (self.first, self.last) if self.status is BatchStatus.PENDING else None


class Admission(StrEnum):
    """What :meth:`PartitionBuffer.offer` did with a record."""

    ADDED = "added"
    SKIPPED = "skipped"
    """At or below a stored batch: a replay, not written again."""


@dataclass(slots=True)
class _Open:
    first: int
    last: int
    opened_at: float
    rows: list[Row] = field(default_factory=list)


class PartitionBuffer:
    """Accumulates one partition's rows into sealed batches with fixed boundaries."""

    def __init__(
        self,
        topic: str,
        partition: int,
        max_rows: int,
        max_age: float,
        state: PartitionState | None = None,
    ) -> None:
        self.topic = topic
        self.partition = partition
        self._max_rows = max_rows
        self._max_age = max_age
        self._skip_below = state.skip_below if state is not None else 0
        self._recovering = state.pending if state is not None else None
        self._recovery_rows: list[Row] = []
        self._open: _Open | None = None
        self._sealed: deque[Batch] = deque()

    @property
    def recovering(self) -> tuple[int, int] | None:
        """Boundaries of the pending batch still being rebuilt, if any."""
        return self._recovering

    @property
    def pending_rows(self) -> int:
        """Rows held and not yet stored."""
        held = sum(len(batch.rows) for batch in self._sealed) + len(self._recovery_rows)
        return held + (len(self._open.rows) if self._open is not None else 0)

    @property
    def next_offset(self) -> int:
        """Offset after the last record known to be stored or skipped."""
        return self._skip_below

    def offer(self, offset: int, row: Row, now: float) -> Admission:
        """Take the record at ``offset``; seals a batch when it reaches the size limit."""
        if offset < self._skip_below:
            return Admission.SKIPPED
        if self._recovering is not None:
            last = self._recovering[1]
            if offset <= last:
                self._recovery_rows.append(row)
                if offset == last:
                    self._seal_recovery()
                return Admission.ADDED
            # The pending batch's last record is gone (compaction): its boundaries still hold.
            self._seal_recovery()
        if self._open is None:
            self._open = _Open(offset, offset, now)
        self._open.rows.append(row)
        self._open.last = offset
        if len(self._open.rows) >= self._max_rows:
            self.seal()
        return Admission.ADDED

    def reached_end(self, end_offset: int) -> None:
        """The partition holds no record at or after ``end_offset`` (yet).

        A pending batch whose last offset lies below the end cannot receive more records:
        seal it with its recorded boundaries.
        """
        if self._recovering is not None and end_offset > self._recovering[1]:
            self._seal_recovery()

    def due(self, now: float) -> bool:
        """Whether the open batch has waited ``max_age`` seconds."""
        return self._open is not None and now - self._open.opened_at >= self._max_age

    def seal(self) -> None:
        """Close the open batch: its boundaries are the first and last offsets it holds."""
        if self._open is None:
            return
        opened, self._open = self._open, None
        self._sealed.append(
            Batch(self.topic, self.partition, opened.first, opened.last, tuple(opened.rows))
        )

    def _seal_recovery(self) -> None:
        assert self._recovering is not None
        first, last = self._recovering
        rows, self._recovery_rows = tuple(self._recovery_rows), []
        self._recovering = None
        self._sealed.append(Batch(self.topic, self.partition, first, last, rows, recovered=True))

    def next_batch(self) -> Batch | None:
        """The oldest sealed batch, to write before any later one."""
        return self._sealed[0] if self._sealed else None

    def stored(self, batch: Batch) -> None:
        """``batch`` (the one :meth:`next_batch` returned) is stored and marked done."""
        if not self._sealed or self._sealed[0] is not batch:
            raise ValueError(f"{batch.token} is not this partition's next batch")
        self._sealed.popleft()
        self._skip_below = batch.next_offset
