"""Retry state and progress in commit metadata, and the backoff between attempts."""

from __future__ import annotations

import random

import pytest

from webhooks.config import MAX_IN_FLIGHT, Backoff
from webhooks.progress import MAX_PENDING, Progress, Retry


def test_progress_round_trips_through_commit_metadata() -> None:
    progress = Progress(read_to=120, pending={103: Retry(4, 1_765_000_000.25), 117: Retry(0, 0)})
    assert progress.commit_offset == 103
    restored = Progress.restore(103, progress.metadata())
    assert restored.read_to == 120
    assert restored.pending == {103: Retry(4, 1_765_000_000.2), 117: Retry(0, 0.0)}
    assert Progress(read_to=50).commit_offset == 50


def test_a_full_window_fits_in_the_brokers_default_metadata_limit() -> None:
    assert MAX_IN_FLIGHT <= MAX_PENDING
    big = Progress(
        read_to=10**12,
        pending={10**12 - i: Retry(99, 1_765_000_000.5) for i in range(1, MAX_PENDING + 1)},
    )
    assert len(big.metadata().encode()) < 4096
    with pytest.raises(ValueError, match="at most"):
        Progress(read_to=0, pending={i: Retry(0, 0) for i in range(MAX_PENDING + 1)})


@pytest.mark.parametrize(
    "metadata", [None, "", "not json", '{"v": 2, "read_to": 5, "pending": {}}', '{"v": 1}', "[1]"]
)
def test_metadata_it_did_not_write_restores_as_nothing_settled(metadata: str | None) -> None:
    assert Progress.restore(7, metadata) == Progress(read_to=7)


def test_pending_records_below_the_committed_offset_are_dropped() -> None:
    metadata = Progress(read_to=20, pending={5: Retry(1, 0), 12: Retry(2, 0)}).metadata()
    assert Progress.restore(10, metadata).pending == {12: Retry(2, 0)}


def test_backoff_doubles_up_to_its_cap_with_jitter_below_the_base() -> None:
    backoff = Backoff(initial=1.0, maximum=60.0)
    rng = random.Random(7)
    for attempts, base in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, 60.0), (40, 60.0)]:
        delays = [backoff.delay(attempts, rng) for _ in range(200)]
        assert all(base / 2 <= d < base for d in delays)
        assert max(delays) - min(delays) > base / 4
    with pytest.raises(ValueError, match="0 < initial <= maximum"):
        Backoff(initial=5, maximum=1)
