"""What a worker's ``/health`` reports in each phase."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from streams.runtime.web import readiness


def app(**changes: Any) -> Any:
    base = {"started": True, "rebalancing": False, "tables": SimpleNamespace(actives_ready=True)}
    return SimpleNamespace(**{**base, **changes})


def test_a_worker_with_partitions_recovered_and_its_broker_answering_is_ready() -> None:
    assert readiness(app(), has_partitions=True, broker_connected=True) == ("ready", ())


@pytest.mark.parametrize(
    ("changes", "has_partitions", "connected", "phase"),
    [
        ({"started": False}, True, True, "starting"),
        ({"rebalancing": True}, True, True, "rebalancing"),
        ({"tables": SimpleNamespace(actives_ready=False)}, True, True, "recovering"),
        ({}, True, False, "broker-unreachable"),
        ({}, False, True, "unassigned"),
    ],
)
def test_a_worker_that_does_not_serve_its_partitions_is_not_ready_and_says_why(
    changes: dict[str, Any], has_partitions: bool, connected: bool, phase: str
) -> None:
    found, reasons = readiness(
        app(**changes), has_partitions=has_partitions, broker_connected=connected
    )
    assert found == phase
    assert len(reasons) == 1 and reasons[0]
