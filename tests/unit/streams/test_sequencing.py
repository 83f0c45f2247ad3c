"""Arrival-order merging of the input topics, and the sequencer that feeds the join with it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from faust.types import TP
from hypothesis import given
from hypothesis import strategies as st

from streams.join.merge import (
    ArrivalMerge,
    MergeKey,
    ReorderingMerge,
    merge_key,
    merged,
)
from streams.runtime.checkpoint import InputPositions
from streams.runtime.sequencer import InputSequencer

FETCH_MARGIN_MS = 250
CLOCK_SKEW_S = 0.05

TOPICS = ("dispatches", "scans")


def topic_records(draw: st.DrawFn, topic: str) -> list[tuple[int, int, str]]:
    """(timestamp, offset, label) records of one partition, mostly in timestamp order."""
    stamps = draw(st.lists(st.integers(0, 50), max_size=25))
    if draw(st.booleans()):
        stamps.sort()
    return [(stamp, offset, f"{topic}@{offset}") for offset, stamp in enumerate(stamps)]


@st.composite
def two_partitions(draw: st.DrawFn) -> dict[str, list[tuple[int, int, str]]]:
    return {topic: topic_records(draw, topic) for topic in TOPICS}


def reference(records: dict[str, list[tuple[int, int, str]]]) -> list[str]:
    return list(
        merged(
            [(merge_key(stamp, rank, offset), label) for stamp, offset, label in records[topic]]
            for rank, topic in enumerate(TOPICS)
        )
    )


class Arrivals:
    """The records of both partitions in a drawn interleaving, each partition in offset order;
    a partition is caught up once all its records arrived."""

    def __init__(self, records: dict[str, list[tuple[int, int, str]]], data: st.DataObject) -> None:
        self.records = records
        self.order = data.draw(
            st.permutations(
                [(topic, index) for topic in TOPICS for index in range(len(records[topic]))]
            )
        )
        self.next_index = dict.fromkeys(TOPICS, 0)

    def caught_up(self, topic: str, key: MergeKey) -> bool:
        return self.next_index[topic] == len(self.records[topic])

    def __iter__(self) -> Iterator[tuple[str, int, int, str]]:
        for topic, _ in self.order:
            stamp, offset, label = self.records[topic][self.next_index[topic]]
            self.next_index[topic] += 1
            yield topic, stamp, offset, label


@given(two_partitions(), st.data())
def test_any_fetch_interleaving_gives_the_merged_order(
    records: dict[str, list[tuple[int, int, str]]], data: st.DataObject
) -> None:
    """Records arrive in any interleaving of the two partitions; a partition is caught up once
    all its records arrived; the output is always the same."""
    arrivals = Arrivals(records, data)
    merge: ArrivalMerge[str] = ArrivalMerge(TOPICS)
    out: list[str] = []
    for topic, stamp, offset, label in arrivals:
        merge.add(topic, stamp, offset, label)
        while (item := merge.pop(arrivals.caught_up)) is not None:
            out.append(item)
    assert out == reference(records)
    assert len(merge) == 0


@given(two_partitions(), st.data())
def test_a_restart_continues_the_same_sequence(
    records: dict[str, list[tuple[int, int, str]]], data: st.DataObject
) -> None:
    full = reference(records)
    cut = data.draw(st.integers(0, len(full)))
    done = set(full[:cut])
    rest = {topic: [r for r in records[topic] if r[2] not in done] for topic in TOPICS}
    assert full[:cut] + reference(rest) == full


@given(two_partitions(), st.data())
def test_releasing_at_once_is_popping_one_by_one(
    records: dict[str, list[tuple[int, int, str]]], data: st.DataObject
) -> None:
    """``release`` (the batch path) hands out what a loop of ``pop`` would, buffer limit
    included, with ``add_all`` buffering as ``add`` does."""
    arrival = data.draw(
        st.permutations(
            [(topic, index) for topic in TOPICS for index in range(len(records[topic]))]
        )
    )
    limit = data.draw(st.integers(0, 8))
    # A partition vouches for stamps up to a moving bound, as fetches do.
    bound = dict.fromkeys(TOPICS, -1)

    def caught_up(topic: str, key: MergeKey) -> bool:
        return key[0] <= bound[topic]

    one_by_one: ArrivalMerge[str] = ArrivalMerge(TOPICS)
    at_once: ArrivalMerge[str] = ArrivalMerge(TOPICS)
    popped: list[str] = []
    released: list[str] = []
    next_index = dict.fromkeys(TOPICS, 0)
    for topic, _ in arrival:
        stamp, offset, label = records[topic][next_index[topic]]
        next_index[topic] += 1
        bound[topic] = max(bound[topic], data.draw(st.integers(-1, 60)))
        one_by_one.add(topic, stamp, offset, label)
        at_once.add_all(topic, [(stamp, offset, label)])
        while (item := one_by_one.pop(caught_up, len(one_by_one) > limit)) is not None:
            popped.append(item)
        released.extend(at_once.release(caught_up, limit))
        assert released == popped
        assert len(at_once) == len(one_by_one)


def test_an_empty_partition_that_may_hold_earlier_records_is_waited_for() -> None:
    merge: ArrivalMerge[str] = ArrivalMerge(TOPICS)
    merge.add("scans", 10, 0, "scan")
    assert merge.pop(lambda topic, key: False) is None
    assert merge.idle_topics() == ["dispatches"]
    asked: list[tuple[str, MergeKey]] = []

    def dispatches_caught_up(topic: str, key: MergeKey) -> bool:
        asked.append((topic, key))
        return topic == "dispatches"

    assert merge.pop(dispatches_caught_up) == "scan"
    # Asked about records before the scan: its timestamp, its topic's rank, its offset.
    assert asked == [("dispatches", (10, 1, 0))]
    merge.add("scans", 11, 1, "later scan")
    assert merge.pop(lambda topic, key: False, force=True) == "later scan"


WINDOW_MS = 5


def disordered_records(draw: st.DrawFn, topic: str) -> list[tuple[int, int, str]]:
    """(timestamp, offset, label) records of one partition written by several producers: each
    stamped at most ``WINDOW_MS`` before one at a lower offset; timestamps repeat."""
    records: list[tuple[int, int, str]] = []
    latest = 0
    for offset in range(draw(st.integers(0, 25))):
        stamp = draw(st.integers(max(latest - WINDOW_MS, 0), latest + 8))
        latest = max(latest, stamp)
        records.append((stamp, offset, f"{topic}@{offset}"))
    return records


@st.composite
def two_disordered_partitions(draw: st.DrawFn) -> dict[str, list[tuple[int, int, str]]]:
    return {topic: disordered_records(draw, topic) for topic in TOPICS}


@given(two_disordered_partitions(), st.data())
def test_a_reordering_merge_gives_the_timestamp_order_whatever_the_interleaving(
    records: dict[str, list[tuple[int, int, str]]], data: st.DataObject
) -> None:
    """Within the reorder window, the records of each partition come out in timestamp order
    (ties by topic, then offset), however the two partitions' fetches interleave; the lowest
    offset still buffered is what the partition can commit."""
    arrivals = Arrivals(records, data)
    merge: ReorderingMerge[str] = ReorderingMerge(TOPICS, WINDOW_MS)
    out: list[str] = []
    for topic, stamp, offset, label in arrivals:
        merge.add_all(topic, [(stamp, offset, label)])
        out.extend(merge.release(arrivals.caught_up))
        for each in TOPICS:
            done = set(out)
            received = records[each][: arrivals.next_index[each]]
            pending = [o for _, o, label in received if label not in done]
            assert merge.lowest_offset(each) == (min(pending) if pending else None)
    expected = sorted(
        (stamp, rank, offset, label)
        for rank, topic in enumerate(TOPICS)
        for stamp, offset, label in records[topic]
    )
    assert out == [label for *_, label in expected]
    assert len(merge) == 0


def test_a_reordering_merge_trusts_a_topic_stamped_past_the_window() -> None:
    """A topic whose latest record is stamped more than the window after the next one cannot
    deliver anything before it: it is not asked."""
    merge: ReorderingMerge[str] = ReorderingMerge(TOPICS, 100)
    merge.add_all("scans", [(1_000, 0, "scan@0"), (850, 1, "scan@1")])
    merge.add_all("dispatches", [(950, 0, "dispatch@0"), (1_100, 1, "dispatch@1")])
    asked: list[str] = []

    def never(topic: str, key: MergeKey) -> bool:
        asked.append(topic)
        return False

    # 850 + 100: both topics reached past it. 950 + 100: the scans reached only 1,000.
    assert merge.release(never) == ["scan@1"]
    assert asked == ["scans"]
    assert merge.lowest_offset("scans") == 0
    merge.add_all("scans", [(1_200, 2, "scan@2")])
    assert merge.release(never) == ["dispatch@0"]
    assert asked == ["scans", "dispatches"]  # for scan@0 (1,000) the dispatches reached 1,100
    assert merge.release(lambda topic, key: True) == ["scan@0", "dispatch@1", "scan@2"]
    assert merge.lowest_offset("scans") is None


@dataclass
class Record:
    """The fields of an aiokafka consumer record the sequencer reads."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    """Milliseconds."""
    timestamp_type: int = 0
    """0: stamped by its producer (CreateTime); 1: by the broker (LogAppendTime)."""


def batch(
    topic: str, partition: int, offset: int, stamp_s: float, timestamp_type: int = 0
) -> dict[TP, list[Record]]:
    """A fetch of one record (timestamp given in seconds)."""
    record = Record(topic, partition, offset, round(stamp_s * 1000), timestamp_type)
    return {TP(topic, partition): [record]}


class Progress:
    def __init__(self) -> None:
        self.gen = 1
        self.marks: dict[TP, int] = {}
        self.is_rebalancing = False
        self.commits: dict[TP, int] = {}
        self.rereads = 0
        self.fetched: int | None = 10**13
        """Wall-clock ms of the last fetch of every partition (far after every record here)."""
        self.requested: float | None = None
        """Monotonic time the last fetch of every partition was requested."""

    def generation(self) -> int:
        return self.gen

    def highwater(self, tp: TP) -> int | None:
        return self.marks.get(tp)

    def fetched_at_ms(self, tp: TP) -> int | None:
        return self.fetched

    def requested_at(self, tp: TP) -> float | None:
        return self.requested

    def rebalancing(self) -> bool:
        return self.is_rebalancing

    def committed(self, tp: TP) -> int | None:
        return self.commits.get(tp)

    async def reread(self) -> None:
        self.rereads += 1


class Processor:
    def __init__(self) -> None:
        self.seen: list[str] = []
        self.resets = 0

    def process(self, partition: int, records: list[Any]) -> None:
        self.seen.extend(f"{record.topic}@{record.offset}" for record in records)

    def reset(self) -> None:
        self.resets += 1


class Sender:
    def __init__(self) -> None:
        self.flushes = 0

    async def flush(self) -> None:
        self.flushes += 1


class Consumer:
    """What InputPositions asks of the consumer: nothing committed yet."""

    def committed_offset(self, tp: TP) -> int | None:
        return None


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def sequencer(
    progress: Progress,
    processor: Processor,
    clock: Clock,
    limit: int = 100,
    positions: InputPositions | None = None,
    reorder_window_ms: int = 0,
) -> InputSequencer:
    return InputSequencer(
        TOPICS,
        processor,  # type: ignore[arg-type]
        Sender(),  # type: ignore[arg-type]
        positions if positions is not None else InputPositions(),
        progress,
        max_wait_s=5.0,
        fetch_margin_ms=FETCH_MARGIN_MS,
        clock_skew_s=CLOCK_SKEW_S,
        reorder_window_ms=reorder_window_ms,
        buffer_limit=limit,
        monotonic=clock,
    )


def test_records_wait_for_the_other_topic_then_go_in_arrival_order() -> None:
    progress, processor, clock = Progress(), Processor(), Clock()
    progress.marks = {TP("scans", 0): 3, TP("dispatches", 0): 1}
    positions = InputPositions()
    seq = sequencer(progress, processor, clock, positions=positions)

    def receive(topic: str, offset: int, stamp: float) -> None:
        asyncio.run(seq.receive(batch(topic, 0, offset, stamp)))

    receive("scans", 0, 1.002)
    receive("scans", 1, 1.004)
    assert processor.seen == []  # the dispatch partition has a record not received yet
    assert positions.committable(Consumer()) == {}  # nothing processed, nothing to commit
    receive("dispatches", 0, 1.003)
    assert processor.seen == ["scans@0", "dispatches@0", "scans@1"]
    assert positions.committable(Consumer()) == {TP("scans", 0): 2, TP("dispatches", 0): 1}
    receive("scans", 2, 1.005)  # both partitions caught up now
    assert processor.seen[-1] == "scans@2"
    assert seq.buffered == 0


def test_a_quiet_partition_is_waited_for_at_most_the_wait_and_nothing_goes_in_a_rebalance() -> None:
    """The dispatch partition holds nothing new, but its last fetch came before the scan was
    produced, so nothing vouches for it: it is waited for, at most ``max_wait_s``."""
    progress, processor, clock = Progress(), Processor(), Clock()
    progress.marks = {TP("scans", 0): 9, TP("dispatches", 0): 0, TP("dispatches", 1): 1}
    progress.fetched = 500
    seq = sequencer(progress, processor, clock)
    asyncio.run(seq.receive(batch("scans", 0, 7, 1.0)))
    asyncio.run(seq.drain_waiting())
    assert processor.seen == []
    progress.requested = 0.5  # fetches answer during the wait
    clock.now = 5.0
    asyncio.run(seq.drain_waiting())
    assert processor.seen == ["scans@7"]
    asyncio.run(seq.receive(batch("scans", 0, 8, 2.0)))
    assert processor.seen == ["scans@7", "scans@8"]  # quiet until it delivers again

    asyncio.run(seq.receive(batch("dispatches", 1, 0, 1.0)))
    progress.is_rebalancing = True
    clock.now = 60.0
    asyncio.run(seq.drain_waiting())
    assert processor.seen[-1] == "scans@8"
    assert seq.buffered == 1


def test_a_partition_is_never_given_up_on_while_the_broker_answers_no_fetch() -> None:
    """The broker went away: the dispatch partition's last fetch (before the scan arrived) found
    nothing more, but no fetch made since was answered, so it may hold dispatches the worker has
    not heard of. The scan waits however long, and goes once a fetch answers again."""
    progress, processor, clock = Progress(), Processor(), Clock()
    progress.marks = {TP("scans", 0): 9, TP("dispatches", 0): 0}
    progress.fetched = 500
    progress.requested = 0.5
    clock.now = 1.0
    seq = sequencer(progress, processor, clock)
    asyncio.run(seq.receive(batch("scans", 0, 7, 1.0)))
    for now in (6.0, 60.0, 600.0):
        clock.now = now
        asyncio.run(seq.drain_waiting())
    assert processor.seen == []
    progress.requested = 600.5  # the broker is back, and still holds nothing earlier
    clock.now = 601.0
    asyncio.run(seq.drain_waiting())
    assert processor.seen == ["scans@7"]


def test_a_partition_processed_to_its_end_before_a_restart_is_caught_up_without_records() -> None:
    """After a restart the dispatch partition delivers nothing: every record up to its end was
    committed. The scans must not wait for a dispatch record that will never come (a restarted
    worker once held the last scans of a partition for ever)."""
    progress, processor, clock = Progress(), Processor(), Clock()
    progress.marks = {TP("scans", 0): 10, TP("dispatches", 0): 4}
    progress.commits = {TP("scans", 0): 8, TP("dispatches", 0): 4}
    seq = sequencer(progress, processor, clock)
    asyncio.run(
        seq.receive({TP("scans", 0): [Record("scans", 0, 8, 1_000), Record("scans", 0, 9, 1_001)]})
    )
    assert processor.seen == ["scans@8", "scans@9"]

    # One record short of its end: the dispatch partition is waited for, past the wait.
    progress.gen = 2
    progress.commits[TP("dispatches", 0)] = 3
    asyncio.run(seq.receive(batch("scans", 0, 8, 1.0)))
    clock.now = 60.0
    asyncio.run(seq.drain_waiting())
    assert processor.seen == ["scans@8", "scans@9"]


def test_a_partition_known_to_hold_more_records_is_waited_for_however_long() -> None:
    """Its last fetch says it holds records not received yet (a slow fetch, a broker away):
    the records after them wait for them, past ``max_wait_s``, and then go in order."""
    progress, processor, clock = Progress(), Processor(), Clock()
    progress.marks = {TP("scans", 0): 9, TP("dispatches", 0): 1}
    seq = sequencer(progress, processor, clock)
    asyncio.run(seq.receive(batch("scans", 0, 7, 1.0)))
    for now in (5.0, 60.0, 600.0):
        clock.now = now
        asyncio.run(seq.drain_waiting())
    assert processor.seen == []
    asyncio.run(seq.receive(batch("dispatches", 0, 0, 0.5)))
    assert processor.seen == ["dispatches@0", "scans@7"]


def test_a_new_assignment_drops_what_is_buffered_and_resets_the_join() -> None:
    progress, processor, clock = Progress(), Processor(), Clock()
    progress.marks = {TP("scans", 0): 9, TP("dispatches", 0): 4}
    seq = sequencer(progress, processor, clock)
    asyncio.run(seq.receive(batch("scans", 0, 7, 1.0)))
    progress.gen = 2
    progress.marks = {TP("scans", 0): 9, TP("dispatches", 0): 0}
    asyncio.run(seq.receive(batch("scans", 0, 8, 1.0)))
    assert processor.resets == 1
    assert processor.seen == ["scans@8"]  # scans@7 is read again from the committed offset


def test_past_the_buffer_limit_order_gives_way() -> None:
    progress, processor, clock = Progress(), Processor(), Clock()
    progress.marks = {TP("scans", 0): 100, TP("dispatches", 0): 4}
    seq = sequencer(progress, processor, clock, limit=3)
    for offset in range(4):
        asyncio.run(seq.receive(batch("scans", 0, offset, 1.0)))
    assert processor.seen == ["scans@0"]


def test_records_the_consumer_skipped_are_read_again_and_real_gaps_accepted() -> None:
    progress, processor, clock = Progress(), Processor(), Clock()
    progress.marks = {TP("scans", 0): 100, TP("dispatches", 0): 0}
    progress.commits = {TP("scans", 0): 10}
    positions = InputPositions()
    seq = sequencer(progress, processor, clock, positions=positions)

    def receive(offset: int) -> None:
        asyncio.run(seq.receive(batch("scans", 0, offset, 1.0 + offset / 1000)))

    receive(10)
    receive(11)
    receive(15)  # 12-14 skipped: read again from 12
    assert progress.rereads == 1
    receive(16)  # fetched before the seek took effect
    receive(11)  # read again from the committed offset: received already
    receive(12)
    receive(13)
    receive(14)
    receive(15)
    receive(13)  # delivered twice
    assert processor.seen == [f"scans@{offset}" for offset in range(10, 16)]
    receive(20)  # 16-19 skipped
    receive(20)  # read again: 16-19 hold no record
    assert progress.rereads == 2
    assert processor.seen[-1] == "scans@20"
    # 16-19 are committed as processed with 20: they hold no record.
    assert positions.committable(Consumer()) == {TP("scans", 0): 21}


def test_a_caught_up_partition_is_trusted_only_by_a_fetch_after_the_waiting_record() -> None:
    """Live input: the dispatch partition's last fetch found nothing more, but it happened
    before the scan waiting for it reached Kafka, so a dispatch stamped before that scan may
    already be there."""
    progress, processor, clock = Progress(), Processor(), Clock()
    progress.marks = {TP("scans", 0): 1, TP("dispatches", 0): 0}
    progress.fetched = 2_000
    seq = sequencer(progress, processor, clock)
    asyncio.run(seq.receive(batch("scans", 0, 0, 2.0)))
    assert processor.seen == []
    progress.fetched = 2_000 + FETCH_MARGIN_MS  # a newer fetch: still nothing earlier
    asyncio.run(seq.drain_waiting())
    assert processor.seen == ["scans@0"]

    asyncio.run(seq.receive(batch("scans", 0, 1, 3.0)))
    assert processor.seen == ["scans@0"]
    progress.marks[TP("dispatches", 0)] = 1  # the next fetch finds an earlier dispatch
    progress.fetched = 3_000 + FETCH_MARGIN_MS
    asyncio.run(seq.drain_waiting())
    assert processor.seen == ["scans@0"]
    asyncio.run(seq.receive(batch("dispatches", 0, 0, 2.5)))
    assert processor.seen == ["scans@0", "dispatches@0", "scans@1"]


BROKER = 1
"""``timestamp_type`` of a record the broker stamped."""


def test_broker_stamped_input_is_trusted_by_a_fetch_requested_after_the_record_arrived() -> None:
    """No margin on the record's timestamp: the dispatch partition vouches as soon as a fetch
    of it is requested (the clock skew later) after the waiting scan arrived."""
    progress, processor, clock = Progress(), Processor(), Clock()
    progress.marks = {TP("scans", 0): 2, TP("dispatches", 0): 1}
    progress.fetched = 0  # the fetch margin would hold every record here
    seq = sequencer(progress, processor, clock)
    clock.now = 100.0
    asyncio.run(seq.receive(batch("dispatches", 0, 0, 1.0, BROKER)))
    asyncio.run(seq.receive(batch("scans", 0, 0, 1.5, BROKER)))
    assert processor.seen == ["dispatches@0"]  # the scan waits: no fetch after it yet
    progress.requested = 100.0 + CLOCK_SKEW_S / 2  # requested too soon after the scan arrived
    asyncio.run(seq.drain_waiting())
    assert processor.seen == ["dispatches@0"]
    progress.requested = 100.0 + CLOCK_SKEW_S
    asyncio.run(seq.drain_waiting())
    assert processor.seen == ["dispatches@0", "scans@0"]

    clock.now = 101.0
    asyncio.run(seq.receive(batch("scans", 0, 1, 2.0, BROKER)))
    progress.marks[TP("dispatches", 0)] = 2  # a fetch after it found a dispatch not received yet
    progress.requested = 101.0 + CLOCK_SKEW_S
    asyncio.run(seq.drain_waiting())
    assert processor.seen == ["dispatches@0", "scans@0"]
    asyncio.run(seq.receive(batch("dispatches", 0, 1, 1.9, BROKER)))
    assert processor.seen == ["dispatches@0", "scans@0", "dispatches@1", "scans@1"]


def test_the_request_time_is_checked_against_the_batch_that_brought_the_waiting_record() -> None:
    """A scan received long ago is vouched for by a fetch requested after it, even while newer
    scans keep arriving (they are waited for by their own arrival time)."""
    progress, processor, clock = Progress(), Processor(), Clock()
    progress.marks = {TP("scans", 0): 3, TP("dispatches", 0): 1}
    progress.fetched = 0
    seq = sequencer(progress, processor, clock)
    asyncio.run(seq.receive(batch("dispatches", 0, 0, 0.5, BROKER)))
    clock.now = 10.0
    asyncio.run(seq.receive(batch("scans", 0, 0, 1.0, BROKER)))
    progress.requested = 10.5
    clock.now = 11.0
    asyncio.run(seq.receive(batch("scans", 0, 1, 1.1, BROKER)))
    assert processor.seen == ["dispatches@0", "scans@0"]  # scans@1 arrived after the fetch
    progress.requested = 11.0 + CLOCK_SKEW_S
    asyncio.run(seq.drain_waiting())
    assert processor.seen == ["dispatches@0", "scans@0", "scans@1"]


def test_producer_stamped_input_keeps_the_fetch_margin() -> None:
    """A recent fetch request vouches for nothing when the producer stamped the waiting record,
    or the other partition's: a record stamped before it may still sit in a producer."""
    for scan_type, dispatch_type in ((0, BROKER), (BROKER, 0)):
        progress, processor, clock = Progress(), Processor(), Clock()
        progress.marks = {TP("scans", 0): 1, TP("dispatches", 0): 1}
        progress.fetched = 2_000
        seq = sequencer(progress, processor, clock)
        asyncio.run(seq.receive(batch("dispatches", 0, 0, 1.0, dispatch_type)))
        asyncio.run(seq.receive(batch("scans", 0, 0, 2.0, scan_type)))
        progress.requested = 1_000.0
        asyncio.run(seq.drain_waiting())
        assert processor.seen == ["dispatches@0"]
        progress.fetched = 2_000 + FETCH_MARGIN_MS
        asyncio.run(seq.drain_waiting())
        assert processor.seen == ["dispatches@0", "scans@0"]


def test_a_reorder_window_orders_each_partition_by_timestamp_and_commits_the_lowest() -> None:
    """Two producers wrote one scans partition: offset 1 is stamped before offset 0. With a
    reorder window the worker processes it first, and commits only up to offset 0, which is
    still waiting; a record stamped far ahead of its fetch is ordered as if stamped then."""
    progress, processor, clock = Progress(), Processor(), Clock()
    progress.marks = {TP("scans", 0): 2, TP("dispatches", 0): 0}
    progress.fetched = 900
    positions = InputPositions()
    seq = sequencer(progress, processor, clock, positions=positions, reorder_window_ms=300)
    scans = TP("scans", 0)
    records = [Record("scans", 0, 0, 800), Record("scans", 0, 1, 700)]
    asyncio.run(seq.receive({scans: records}))
    assert processor.seen == []  # fetched at 900: nothing vouches for 700 + 250 yet
    progress.fetched = 960  # vouches for 700, not 800
    asyncio.run(seq.drain_waiting())
    assert processor.seen == ["scans@1"]
    assert positions.committable(Consumer()) == {scans: 0}
    progress.marks[scans] = 3
    asyncio.run(seq.receive({scans: [Record("scans", 0, 2, 10**12)]}))  # a clock years ahead
    progress.fetched = 10_000
    asyncio.run(seq.drain_waiting())
    assert processor.seen == ["scans@1", "scans@0", "scans@2"]
    assert positions.committable(Consumer()) == {scans: 3}


def test_without_a_reorder_window_each_partition_goes_in_offset_order() -> None:
    progress, processor, clock = Progress(), Processor(), Clock()
    progress.marks = {TP("scans", 0): 2, TP("dispatches", 0): 0}
    seq = sequencer(progress, processor, clock)
    records = [Record("scans", 0, 0, 800), Record("scans", 0, 1, 700)]
    asyncio.run(seq.receive({TP("scans", 0): records}))
    assert processor.seen == ["scans@0", "scans@1"]
