"""A second demo runs the same simulation again, or refuses another over filled topics."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tracecode.demo.runs import DemoConflictError, DemoRuns, DemoSimulation

DAY_1 = datetime(2026, 11, 26, tzinfo=UTC)
DAY_2 = datetime(2026, 11, 27, tzinfo=UTC)


def test_empty_topics_take_any_simulation(tmp_path: Path) -> None:
    runs = DemoRuns(tmp_path, "")
    runs.record(DemoSimulation(0, 3000, DAY_1))

    assert runs.plan(7, 300, DAY_2, topics_hold_events=False) == DemoSimulation(7, 300, DAY_2)


def test_the_same_simulation_runs_again_with_its_own_window(tmp_path: Path) -> None:
    DemoRuns(tmp_path, "").record(DemoSimulation(0, 3000, DAY_1))

    planned = DemoRuns(tmp_path, "").plan(0, 3000, DAY_2, topics_hold_events=True)

    assert planned == DemoSimulation(0, 3000, DAY_1), "another day: the recorded window"


@pytest.mark.parametrize(("seed", "shipments"), [(1, 3000), (0, 300)])
def test_another_simulation_over_filled_topics_is_refused(
    tmp_path: Path, seed: int, shipments: int
) -> None:
    DemoRuns(tmp_path, "").record(DemoSimulation(0, 3000, DAY_1))

    with pytest.raises(DemoConflictError) as raised:
        DemoRuns(tmp_path, "").plan(seed, shipments, DAY_1, topics_hold_events=True)

    assert "seed 0 with 3,000 shipments" in raised.value.message
    assert raised.value.hint is not None
    assert "tracecode demo --seed 0 --shipments 3000" in raised.value.hint


def test_events_no_demo_recorded_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DemoConflictError, match="no demo published"):
        DemoRuns(tmp_path, "").plan(0, 3000, DAY_1, topics_hold_events=True)


def test_each_topic_prefix_has_its_own_record(tmp_path: Path) -> None:
    DemoRuns(tmp_path, "a.").record(DemoSimulation(0, 3000, DAY_1))
    DemoRuns(tmp_path, "b.").record(DemoSimulation(5, 300, DAY_2))

    assert DemoRuns(tmp_path, "a.").recorded() == DemoSimulation(0, 3000, DAY_1)
    assert DemoRuns(tmp_path, "b.").recorded() == DemoSimulation(5, 300, DAY_2)
    assert DemoRuns(tmp_path, "").recorded() is None
