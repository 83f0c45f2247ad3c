"""Batch boundaries, tokens and recovery decisions of the per-partition buffer."""

from __future__ import annotations

import pytest

from sinks.batching import (
    Admission,
    Batch,
    BatchStatus,
    PartitionBuffer,
    PartitionState,
    dedup_token,
)

TOPIC = "tracecode.shipment-history.v1"


def buffer(state: PartitionState | None = None, max_rows: int = 3, max_age: float = 1.0):
    return PartitionBuffer(TOPIC, 4, max_rows, max_age, state)


def drain(buf: PartitionBuffer) -> list[Batch]:
    batches = []
    while (batch := buf.next_batch()) is not None:
        buf.stored(batch)
        batches.append(batch)
    return batches


def test_token_names_topic_partition_and_boundaries() -> None:
    assert dedup_token("t.v1", 3, 10, 19) == "t.v1:3:10-19"
    batch = Batch("t.v1", 3, 10, 19, ())
    assert batch.token == "t.v1:3:10-19"
    assert batch.next_offset == 20


def test_size_seals_with_first_and_last_offsets_held() -> None:
    buf = buffer(max_rows=3)
    for offset in (5, 6, 9):  # gaps: compaction or transaction markers
        buf.offer(offset, (offset,), now=0.0)
    batch = buf.next_batch()
    assert batch is not None
    assert (batch.first, batch.last, batch.rows) == (5, 9, ((5,), (6,), (9,)))
    assert buf.next_offset == 0  # nothing stored yet


def test_age_makes_the_open_batch_due() -> None:
    buf = buffer(max_rows=100, max_age=2.0)
    buf.offer(0, ("a",), now=10.0)
    buf.offer(1, ("b",), now=11.0)
    assert not buf.due(11.9)
    assert buf.due(12.0)
    buf.seal()
    assert [(b.first, b.last) for b in drain(buf)] == [(0, 1)]
    assert buf.next_offset == 2


def test_stored_batches_move_the_skip_point() -> None:
    buf = buffer(max_rows=2)
    for offset in range(4):
        buf.offer(offset, (offset,), now=0.0)
    assert [(b.first, b.last) for b in drain(buf)] == [(0, 1), (2, 3)]
    assert buf.offer(3, (3,), now=0.0) is Admission.SKIPPED
    assert buf.offer(4, (4,), now=0.0) is Admission.ADDED


def test_stored_must_be_the_next_batch() -> None:
    buf = buffer(max_rows=1)
    buf.offer(0, (0,), now=0.0)
    buf.offer(1, (1,), now=0.0)
    with pytest.raises(ValueError, match="not this partition's next batch"):
        buf.stored(Batch(TOPIC, 4, 1, 1, ((1,),)))


def test_done_state_skips_everything_it_covers() -> None:
    buf = buffer(PartitionState(10, 19, BatchStatus.DONE))
    assert buf.next_offset == 20
    assert buf.offer(0, (0,), 0.0) is Admission.SKIPPED
    assert buf.offer(19, (19,), 0.0) is Admission.SKIPPED
    assert buf.offer(20, (20,), 0.0) is Admission.ADDED
    assert buf.recovering is None


def test_pending_state_rebuilds_the_same_boundaries_even_if_limits_changed() -> None:
    # Recorded with other limits: the rebuilt batch ignores size and age.
    buf = buffer(PartitionState(10, 14, BatchStatus.PENDING), max_rows=2)
    assert buf.offer(9, (9,), 0.0) is Admission.SKIPPED
    for offset in range(10, 15):
        assert buf.offer(offset, (offset,), 0.0) is Admission.ADDED
    batch = buf.next_batch()
    assert batch is not None
    assert (batch.first, batch.last, batch.recovered) == (10, 14, True)
    assert batch.token == f"{TOPIC}:4:10-14"
    assert len(batch.rows) == 5
    buf.stored(batch)
    buf.offer(15, (15,), 0.0)
    buf.offer(16, (16,), 0.0)
    assert [(b.first, b.last, b.recovered) for b in drain(buf)] == [(15, 16, False)]


def test_pending_batch_whose_last_record_vanished_keeps_its_boundaries() -> None:
    buf = buffer(PartitionState(10, 14, BatchStatus.PENDING), max_rows=10)
    buf.offer(10, (10,), 0.0)
    buf.offer(12, (12,), 0.0)
    buf.offer(17, (17,), 0.0)  # 13 and 14 were compacted away
    recovered = buf.next_batch()
    assert recovered is not None
    assert (recovered.first, recovered.last, recovered.rows) == (10, 14, ((10,), (12,)))
    buf.stored(recovered)
    buf.seal()
    assert [(b.first, b.last) for b in drain(buf)] == [(17, 17)]


def test_pending_batch_at_the_end_of_the_partition_is_sealed_by_the_end() -> None:
    buf = buffer(PartitionState(10, 14, BatchStatus.PENDING))
    buf.offer(10, (10,), 0.0)
    buf.reached_end(14)  # end at 14: offset 14 may still come
    assert buf.next_batch() is None
    buf.reached_end(16)  # 14 was a transaction marker
    batch = buf.next_batch()
    assert batch is not None and (batch.first, batch.last) == (10, 14)


def test_pending_rows_count_everything_held() -> None:
    buf = buffer(PartitionState(0, 1, BatchStatus.PENDING), max_rows=2)
    buf.offer(0, (0,), 0.0)
    buf.offer(1, (1,), 0.0)
    buf.offer(2, (2,), 0.0)
    assert buf.pending_rows == 3
    drain(buf)
    assert buf.pending_rows == 1


def test_partition_state_skip_points() -> None:
    assert PartitionState(5, 9, BatchStatus.DONE).skip_below == 10
    assert PartitionState(5, 9, BatchStatus.DONE).pending is None
    assert PartitionState(5, 9, BatchStatus.PENDING).skip_below == 5
    assert PartitionState(5, 9, BatchStatus.PENDING).pending == (5, 9)
