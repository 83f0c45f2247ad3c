"""Rounds of batch writes, run in a writer thread while the consumer keeps polling.

A round is one ledger insert -- the intents of the batches about to be written and the done
marks of those written before (a done mark only spares a restart one deduplicated retry, so
it can wait for the next round) -- then one insert per batch. One round runs at a time; chDB
and the HTTP client release the GIL while ClickHouse works, so inserting overlaps polling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from sinks.batching import Batch, BatchStatus
from sinks.config import FaultHook, FaultPoint
from sinks.state import BatchLedger, TopicPartition
from sinks.tables import Table
from sinks.writer import BatchWriter


@dataclass(slots=True)
class Round:
    """Batches written together, and how each went."""

    batches: list[tuple[TopicPartition, Batch]]
    marks: list[tuple[Batch, BatchStatus]]
    done_marks: int
    """How many of the oldest unmarked batches ``marks`` marks done."""
    probe: bool = False
    """Only asks whether ClickHouse answers: no batches, no marks."""
    ledger_error: Exception | None = None
    """The ledger insert (or the probe) failed: no batch of the round was inserted."""
    errors: dict[TopicPartition, Exception] = field(default_factory=dict)
    """Partitions whose batch failed; the others are stored."""


class RoundWriter:
    """Starts rounds and hands back their outcome; the caller owns the partitions."""

    def __init__(
        self,
        ledger: BatchLedger,
        writer: BatchWriter,
        tables: Mapping[str, Table],
        fault_hook: FaultHook | None = None,
    ) -> None:
        self._ledger = ledger
        self._fault_hook = fault_hook
        self._writer = writer
        self._tables = tables
        self._unmarked: list[Batch] = []
        self._inflight: Future[Round] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sink-writer")

    @property
    def busy(self) -> bool:
        """Whether a round is being written."""
        return self._inflight is not None

    @property
    def marks_pending(self) -> bool:
        """Whether stored batches wait for their done mark."""
        return bool(self._unmarked)

    def stored(self, batch: Batch) -> None:
        """``batch`` is stored: mark it done in the next round."""
        self._unmarked.append(batch)

    def start(
        self, batches: Sequence[tuple[TopicPartition, Batch]], intents: Sequence[Batch]
    ) -> None:
        """Write ``batches`` (one per partition), recording ``intents`` first; a round with
        neither batches nor marks to record is not started."""
        assert self._inflight is None, "one round at a time"
        marks = [(batch, BatchStatus.PENDING) for batch in intents]
        marks += [(batch, BatchStatus.DONE) for batch in self._unmarked]
        if batches or marks:
            round_ = Round(list(batches), marks, len(self._unmarked))
            self._inflight = self._executor.submit(self._write, round_)

    def probe(self) -> None:
        """Start a round that only checks that ClickHouse answers."""
        assert self._inflight is None, "one round at a time"
        self._inflight = self._executor.submit(self._write, Round([], [], 0, probe=True))

    def finish(self, *, wait: bool) -> Round | None:
        """The round in flight once it is over (waiting for it if ``wait``), else None."""
        if self._inflight is None or not (wait or self._inflight.done()):
            return None
        round_, self._inflight = self._inflight.result(), None
        if round_.ledger_error is None:
            del self._unmarked[: round_.done_marks]
        return round_

    def close(self) -> None:
        """Wait for the round in flight and stop the writer thread."""
        self._executor.shutdown(wait=True)

    def _write(self, round_: Round) -> Round:
        # In the writer thread: ClickHouse only, nothing the polling thread touches.
        try:
            if round_.probe:
                self._ledger.check()
            if round_.marks:
                if self._fault_hook is not None:
                    self._fault_hook(FaultPoint.BEFORE_LEDGER, round_.marks[0][0])
                self._ledger.record(round_.marks)
        except Exception as error:  # nothing is inserted without its intent
            round_.ledger_error = error
            return round_
        for tp, batch in round_.batches:
            try:
                self._writer.write(batch, self._tables[tp[0]])
            except Exception as error:  # taken up by the polling thread
                round_.errors[tp] = error
        return round_
