"""The request time of each partition's latest fetch, noted around aiokafka's fetcher."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from faust.types import TP

from streams.runtime.fetch_clock import FetchClock


@dataclass
class PartitionState:
    timestamp: int | None = None


@dataclass
class Assignment:
    states: dict[TP, PartitionState] = field(default_factory=dict)

    def state_value(self, tp: TP) -> PartitionState | None:
        return self.states.get(tp)


@dataclass
class Request:
    topics: list[tuple[str, list[tuple[int, int, int]]]]


class Fetcher:
    """Answers a fetch as aiokafka does: the partitions its response reports are stamped with
    the wall time (ms) the response was handled."""

    def __init__(self, reported: set[TP], wall_ms: int = 1_000, fail: bool = False) -> None:
        self.reported = reported
        self.wall_ms = wall_ms
        self.fail = fail
        self.seen_while_in_flight: list[int | None] = []

    async def _proc_fetch_request(self, assignment: Any, node_id: int, request: Any) -> bool:
        self.seen_while_in_flight = [state.timestamp for state in assignment.states.values()]
        if self.fail:
            raise ConnectionError("broker gone")
        for tp in self.reported:
            assignment.state_value(tp).timestamp = self.wall_ms
        return True


SCANS, DISPATCHES = TP("scans", 0), TP("dispatches", 0)
BOTH = Request([("scans", [(0, 0, 1 << 20)]), ("dispatches", [(0, 0, 1 << 20)])])


class Monotonic:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def fetch(fetcher: Fetcher, assignment: Assignment, request: Request = BOTH) -> None:
    asyncio.run(fetcher._proc_fetch_request(assignment, 1, request))


def test_a_partition_gets_the_request_time_of_the_response_that_reported_it() -> None:
    monotonic = Monotonic()
    assignment = Assignment({SCANS: PartitionState(), DISPATCHES: PartitionState()})
    fetcher = Fetcher(reported={SCANS, DISPATCHES})
    clock = FetchClock(monotonic)
    assert clock.requested_at(SCANS) is None
    clock.install(fetcher)

    fetch(fetcher, assignment)
    assert clock.requested_at(SCANS) == clock.requested_at(DISPATCHES) == 50.0
    assert clock.fetched_at_ms(SCANS) == 1_000

    # The next response, handled in the same millisecond, reports only the scans partition.
    fetcher.reported = {SCANS}
    monotonic.now = 50.0004
    fetch(fetcher, assignment)
    assert clock.requested_at(SCANS) == 50.0004
    assert clock.requested_at(DISPATCHES) == 50.0
    # aiokafka's own stamps are left as its responses set them.
    assert assignment.states[DISPATCHES].timestamp == 1_000


def test_a_failed_fetch_vouches_for_nothing_and_leaves_the_stamps_alone() -> None:
    monotonic = Monotonic()
    assignment = Assignment({SCANS: PartitionState(timestamp=900)})
    request = Request([("scans", [(0, 0, 1 << 20)]), ("gone", [(3, 0, 1 << 20)])])
    fetcher = Fetcher(reported={SCANS}, fail=True)
    clock = FetchClock(monotonic)
    clock.install(fetcher)

    with pytest.raises(ConnectionError):
        fetch(fetcher, assignment, request)
    assert fetcher.seen_while_in_flight == [None]  # cleared while the request was out
    assert assignment.states[SCANS].timestamp == 900
    assert clock.requested_at(SCANS) is None
    assert clock.requested_at(TP("gone", 3)) is None


def test_installing_twice_times_each_request_once_and_a_new_fetcher_starts_afresh() -> None:
    assignment = Assignment({SCANS: PartitionState()})
    first = Fetcher(reported={SCANS})
    clock = FetchClock(Monotonic())
    clock.install(first)
    wrapped = first._proc_fetch_request
    clock.install(first)
    assert first._proc_fetch_request is wrapped
    fetch(first, assignment)
    assert clock.requested_at(SCANS) == 50.0

    clock.install(Fetcher(reported=set()))
    assert clock.requested_at(SCANS) is None
