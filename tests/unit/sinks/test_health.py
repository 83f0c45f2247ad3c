"""The sink's health report and the endpoint that serves it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace

import pytest

from sinks.health import HealthFacts, HealthStatus, SinkHealth
from sinks.metrics import SinkMetrics
from sinks.monitoring import MonitoringServer, serve


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def health(clock: Clock) -> SinkHealth:
    return SinkHealth(unreachable_after=30.0, stalled_after=600.0, clock=clock)


def test_a_sink_is_starting_until_its_loop_reports(health: SinkHealth) -> None:
    report = health.report()
    assert report.status is HealthStatus.STARTING
    assert not report.ready
    assert report.live


def test_a_sink_is_ready_once_assigned_with_every_ledger_state_loaded(
    health: SinkHealth, clock: Clock
) -> None:
    health.update(HealthFacts(at=clock.now, assigned=False, partitions=0))
    assert health.report().status is HealthStatus.ASSIGNING
    health.update(HealthFacts(at=clock.now, assigned=True, partitions=2, loading=("h[0]",)))
    report = health.report()
    assert report.status is HealthStatus.LOADING
    assert report.reasons == ("reading the ledger state of 1 partitions: h[0]",)
    health.update(HealthFacts(at=clock.now, assigned=True, partitions=2))
    report = health.report()
    assert report.ready
    assert report.to_json() == {
        "status": "ready",
        "ready": True,
        "live": True,
        "partitions": 2,
        "reasons": [],
    }


def test_a_halted_partition_makes_the_sink_not_ready_with_the_reason(
    health: SinkHealth, clock: Clock
) -> None:
    reason = "h[1] halted at offset 7: CodecError: not a record"
    health.update(HealthFacts(at=clock.now, assigned=True, partitions=2, halted=(reason,)))
    report = health.report()
    assert report.status is HealthStatus.HALTED
    assert report.reasons == (reason,)
    assert report.live


def test_clickhouse_failing_counts_only_past_the_threshold(
    health: SinkHealth, clock: Clock
) -> None:
    failing = HealthFacts(
        at=clock.now,
        assigned=True,
        partitions=1,
        clickhouse_failing_since=clock.now,
        clickhouse_error="OperationalError: connection refused",
    )
    health.update(failing)
    clock.now += 29.0
    assert health.report().ready
    clock.now += 2.0
    health.update(replace(failing, at=clock.now))
    report = health.report()
    assert report.status is HealthStatus.CLICKHOUSE_UNREACHABLE
    assert report.reasons == (
        "ClickHouse calls have failed for 31 s: OperationalError: connection refused",
    )


def test_every_reason_is_listed_and_the_most_pressing_is_the_status(
    health: SinkHealth, clock: Clock
) -> None:
    health.update(
        HealthFacts(
            at=clock.now,
            assigned=True,
            partitions=3,
            loading=("s[0]",),
            halted=("h[0] halted at offset 1: CodecError: x",),
            clickhouse_failing_since=clock.now - 60,
            clickhouse_error="TimeoutError: slow",
        )
    )
    report = health.report()
    assert report.status is HealthStatus.HALTED
    assert len(report.reasons) == 3


def test_a_loop_that_stopped_turning_is_not_alive(health: SinkHealth, clock: Clock) -> None:
    health.update(HealthFacts(at=clock.now, assigned=True, partitions=1))
    clock.now += 601.0
    report = health.report()
    assert report.status is HealthStatus.STALLED
    assert not report.live
    assert report.reasons == ("the consume loop has not turned for 601 s",)


@pytest.fixture
def server(health: SinkHealth) -> Iterator[MonitoringServer]:
    server = serve(SinkMetrics(), health, 0)
    yield server
    server.shutdown()
    server.server_close()


def _get(server: MonitoringServer, path: str) -> tuple[int, bytes]:
    url = f"http://127.0.0.1:{server.server_port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_the_endpoint_answers_health_liveness_and_metrics(
    server: MonitoringServer, health: SinkHealth, clock: Clock
) -> None:
    status, body = _get(server, "/health")
    assert (status, json.loads(body)["status"]) == (503, "starting")
    assert _get(server, "/health/live")[0] == 200
    health.update(HealthFacts(at=clock.now, assigned=True, partitions=1))
    status, body = _get(server, "/health")
    assert (status, json.loads(body)["ready"]) == (200, True)
    clock.now += 601.0
    assert _get(server, "/health/live")[0] == 503
    status, body = _get(server, "/metrics")
    assert status == 200
    assert b"tracecode_sink_partitions_paused" in body
