"""A worker stopped (SIGTERM) and killed (SIGKILL) mid-run ends like a clean run."""

from __future__ import annotations

import signal
from collections import Counter
from urllib.parse import quote

from schemas.kafka import KafkaConnection
from schemas.records import RecordType
from schemas.topics import TopicNames
from tests.helpers import wait_for
from tests.integration.streams.conftest import WorkerFactory
from tests.integration.streams.simulation import publish_simulation
from tests.integration.streams.support import (
    WorkerProcess,
    decoded,
    differences,
    read_topic,
    reference_join,
    wait_until_idle,
)

SHIPMENTS = 400


def applied_so_far(worker: WorkerProcess) -> float | None:
    status, _ = worker.get("/health")
    if status != 200:
        return None
    text = worker.metrics()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("tracecode_streams_events_total{") and 'outcome="applied"' in line
    )


def wait_for_progress(worker: WorkerProcess, at_least: float) -> None:
    def progressed() -> float | None:
        applied = applied_so_far(worker)
        return applied if applied is not None and applied >= at_least else None

    try:
        wait_for(progressed, 120, f"the worker to apply {at_least:.0f} events", interval=0.05)
    except AssertionError as error:
        tail = worker.log.read_text(errors="replace")[-6000:]
        raise AssertionError(f"{error}; applied {applied_so_far(worker)}; log:\n{tail}") from None


def test_a_worker_stopped_and_killed_mid_run_ends_like_a_clean_run(
    kafka: KafkaConnection, topics: TopicNames, group: str, worker: WorkerFactory
) -> None:
    simulation = publish_simulation(kafka, topics, SHIPMENTS, seed=5)
    events = simulation.event_count

    # One worker, stopped and started again with the same id, port and state folder; small
    # batches, so that it is stopped and killed with work left to do.
    joined = worker(TRACECODE_WORKER_BATCH_RECORDS="20").start()
    joined.wait_ready()
    wait_for_progress(joined, events / 4)
    assert joined.stop(signal.SIGTERM) == 0

    joined.start()
    joined.wait_ready()
    wait_for_progress(joined, events / 4)  # counted since this start
    joined.stop(signal.SIGKILL)

    joined.start()
    joined.wait_ready()
    wait_until_idle(kafka, group, topics)
    log = joined.log.read_text()
    assert log.count("worker stopped") == 1  # the killed one never got to say it
    assert "rebuilding the tables from the changelog" in log

    reference = reference_join(kafka, topics)
    for code, state in reference.states.items():
        status, body = joined.get(f"/shipments/{quote(code, safe='')}")
        assert status == 200, code
        assert not differences(body, state), (code, differences(body, state))

    status_records = list(
        decoded(read_topic(kafka, topics.status), RecordType.SHIPMENT_STATUS_CHANGED)
    )
    per_version = Counter((r["code"], r["version"]) for r in status_records)
    assert max(per_version.values()) == 1, "a status change was emitted twice"
    assert sorted(per_version) == sorted(
        (code, change["version"])
        for code, changes in reference.status_changes.items()
        for change in changes
    )
    history = decoded(read_topic(kafka, topics.history), RecordType.SHIPMENT_HISTORY_RECORD)
    assert Counter((r["code"], r["event_id"]) for r in history) == Counter(reference.history_ids)
    alerts = decoded(read_topic(kafka, topics.alerts), RecordType.SHIPMENT_ALERT)
    assert sorted(a["alert_id"] for a in alerts) == sorted(
        a["alert_id"] for found in reference.alerts.values() for a in found
    )
