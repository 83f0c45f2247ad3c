"""The batched path: a batch with poison inside, a batch cut by a rebalance, a stop in the
middle of a batch, and when the checkpoint commits."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from faust.types import TP

from streams.runtime.app import _gated
from streams.runtime.checkpoint import Checkpoint, InputPositions
from streams.runtime.exactly_once import WorkerConsumer
from tests.unit.streams.test_processor import CODE, TOPICS, Harness, Message, a_dispatch, a_scan
from tests.unit.streams.test_sequencing import (
    Clock,
    Consumer,
    Processor,
    Progress,
    Record,
    sequencer,
)


def test_a_poison_record_inside_a_batch_is_dead_lettered_and_the_rest_is_joined() -> None:
    harness = Harness()
    batch = [
        Message(TOPICS.dispatches, 0, 1, CODE.encode(), a_dispatch()),
        Message(TOPICS.scans, 0, 2, CODE.encode(), b"\x00 not a record"),
        Message(TOPICS.scans, 0, 3, CODE.encode(), a_scan("e1", 1)),
        Message(TOPICS.scans, 0, 4, b"not the code", a_scan("e2", 2)),
        Message(TOPICS.scans, 0, 5, CODE.encode(), a_scan("e3", 3)),
    ]
    harness.processor.process(0, batch)
    letters = harness.sender.to(TOPICS.dead_letters)
    assert [record["source"] for record in letters] == [TP(TOPICS.scans, 0)] * 2
    history = harness.sender.to(TOPICS.history)
    assert len(history) == 3  # the dispatch, e1 and e3, in the batch's order
    state = harness.states.get(0, CODE)
    assert state is not None and [s["event_id"] for s in state["scans"]] == ["e1", "e3"]
    assert (
        harness.metric("tracecode_streams_dead_letters_total", stage="decode", topic=TOPICS.scans)
        == 1
    )
    assert (
        harness.metric("tracecode_streams_dead_letters_total", stage="validate", topic=TOPICS.scans)
        == 1
    )
    assert harness.metric("tracecode_streams_events_total", kind="SCAN", outcome="applied") == 2


def test_a_batch_cut_by_a_rebalance_commits_what_was_processed_and_drops_the_rest() -> None:
    """One fetch brings partition 0 (caught up) and partition 1 (waiting for its dispatches):
    the revocation commit takes partition 0's offsets only; after the new assignment the
    buffered records are gone and come back from the committed offsets, in order."""
    progress, processor, clock = Progress(), Processor(), Clock()
    progress.marks = {
        TP("scans", 0): 2,
        TP("dispatches", 0): 0,
        TP("scans", 1): 2,
        TP("dispatches", 1): 1,
    }
    positions = InputPositions()
    seq = sequencer(progress, processor, clock, positions=positions)
    fetch = {
        TP("scans", 0): [Record("scans", 0, 0, 1000), Record("scans", 0, 1, 1001)],
        TP("scans", 1): [Record("scans", 1, 0, 1000), Record("scans", 1, 1, 1002)],
    }
    asyncio.run(seq.receive(fetch))
    assert processor.seen == ["scans@0", "scans@1"]  # partition 0 only
    assert positions.committable(Consumer()) == {TP("scans", 0): 2}

    progress.gen = 2  # the rebalance: partition 1 stays, read again from its committed offset
    progress.commits = {TP("scans", 1): 0, TP("dispatches", 1): 0}
    asyncio.run(
        seq.receive(
            {
                TP("dispatches", 1): [Record("dispatches", 1, 0, 999)],
                TP("scans", 1): [Record("scans", 1, 0, 1000), Record("scans", 1, 1, 1002)],
            }
        )
    )
    assert processor.resets == 1
    assert processor.seen[2:] == ["dispatches@0", "scans@0", "scans@1"]
    assert positions.committable(Consumer()) == {TP("dispatches", 1): 1, TP("scans", 1): 2}


def test_a_stop_in_the_middle_of_a_batch_lets_the_batch_finish_before_the_commit() -> None:
    """The worker's fetch loop is cancelled while a batch is processed: the batch still runs to
    its end, holding the gate, and the final commit (which takes the gate) comes after it."""

    async def scenario() -> list[str]:
        gate = asyncio.Lock()
        app: Any = type("App", (), {"commit_gate": gate})()
        steps: list[str] = []
        resume = asyncio.Event()

        async def process() -> None:
            steps.append("batch started")
            await resume.wait()  # e.g. handing records to the producer
            steps.append("batch done")

        async def commit() -> None:
            async with gate:
                steps.append("commit")

        fetch_loop = asyncio.create_task(_gated(app, process()))
        await asyncio.sleep(0)
        fetch_loop.cancel()
        final_commit = asyncio.create_task(commit())
        await asyncio.sleep(0)
        resume.set()
        await final_commit
        assert fetch_loop.cancelled()
        return steps

    assert asyncio.run(scenario()) == ["batch started", "batch done", "commit"]


class _App:
    """What the checkpoint reads of the worker app, with nothing to commit."""

    in_transaction = True

    def __init__(self) -> None:
        self.catching_up = False
        self.open_transactions: dict[str, int] = {}
        self.consumer = _Consumer()


class _Consumer(WorkerConsumer):
    """The worker's consumer with nothing behind it: the offsets it is asked to commit."""

    def __init__(self) -> None:
        self.commits: list[dict[TP, int]] = []
        self._committed_offset: dict[TP, int | None] = defaultdict(lambda: None)

    async def commit_offsets(self, offsets: dict[TP, int], start_new_transaction: bool) -> bool:
        self.commits.append(dict(offsets))
        self._committed_offset.update(offsets)
        return True


class _Sender:
    async def flush(self) -> None:
        return None


class _Processor:
    def write_back(self) -> None:
        return None


def test_periodic_commits_wait_while_catching_up_and_forced_ones_never() -> None:
    app, clock, positions = _App(), Clock(), InputPositions()
    checkpoint = Checkpoint(
        app,  # type: ignore[arg-type]
        _Processor(),  # type: ignore[arg-type]
        _Sender(),  # type: ignore[arg-type]
        positions,
        catching_up_interval_s=1.0,
        monotonic=clock,
    )
    commits = app.consumer.commits

    def periodic(at: float, offset: int) -> None:
        clock.now = at
        positions.processed_before(TP("scans", 0), offset + 1)
        asyncio.run(checkpoint.commit(periodic=True))

    periodic(0.1, 0)  # caught up: commits at every tick
    assert commits == [{TP("scans", 0): 1}]
    app.catching_up = True
    periodic(0.2, 1)
    periodic(0.9, 2)
    assert len(commits) == 1  # a backlog: not before a second has passed
    periodic(1.2, 3)
    assert commits[-1] == {TP("scans", 0): 4}
    positions.processed_before(TP("scans", 0), 5)
    asyncio.run(checkpoint.commit(start_new_transaction=False))  # revocation, stop
    assert commits[-1] == {TP("scans", 0): 5}
