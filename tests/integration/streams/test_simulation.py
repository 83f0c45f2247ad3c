"""A simulator run through a real worker: every state, status and alert as the reference says."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any
from urllib.parse import quote

from producers.simulator import HardCase
from schemas.kafka import KafkaConnection
from schemas.records import RecordType
from schemas.topics import TopicNames
from tests.integration.streams.conftest import WorkerFactory
from tests.integration.streams.simulation import publish_simulation
from tests.integration.streams.support import (
    comparable,
    create_topics,
    decoded,
    read_topic,
    reference_join,
    wait_until_idle,
)

SHIPMENTS = 2000


def test_every_shipment_joins_like_the_reference_and_raises_its_alerts(
    kafka: KafkaConnection, topics: TopicNames, group: str, worker: WorkerFactory
) -> None:
    simulation = publish_simulation(kafka, topics, SHIPMENTS, seed=11)
    joined = worker().start()
    joined.wait_ready()
    wait_until_idle(kafka, group, topics)
    reference = reference_join(kafka, topics)
    assert set(reference.states) == set(simulation.truth)
    assert not reference.rejected

    # Every state, read through the web view.
    wrong = []
    for code, state in reference.states.items():
        status, body = joined.get(f"/shipments/{quote(code, safe='')}")
        if status != 200 or comparable(body) != comparable(state):
            wrong.append((code, status))
    assert not wrong, f"{len(wrong)} states differ from the reference, e.g. {wrong[:3]}"

    # The status topic: one record per (code, version), the last one per code agrees.
    status_records = list(
        decoded(read_topic(kafka, topics.status), RecordType.SHIPMENT_STATUS_CHANGED)
    )
    versions = Counter((record["code"], record["version"]) for record in status_records)
    assert max(versions.values()) == 1
    last: dict[str, Any] = {record["code"]: record for record in status_records}
    assert set(last) == {code for code, changes in reference.status_changes.items() if changes}
    for code, record in last.items():
        state = reference.states[code]
        assert (record["status"], record["sub_status"], record["version"]) == (
            state["status"],
            state["sub_status"],
            state["status_version"],
        )
        assert comparable(record) == comparable(reference.status_changes[code][-1])

    # The history topic: one record per applied event.
    history = decoded(read_topic(kafka, topics.history), RecordType.SHIPMENT_HISTORY_RECORD)
    assert Counter((r["code"], r["event_id"]) for r in history) == Counter(reference.history_ids)

    # The alerts: as the reference computed them, and as the simulator's ground truth says.
    alerts: dict[str, list[Any]] = defaultdict(list)
    for alert in decoded(read_topic(kafka, topics.alerts), RecordType.SHIPMENT_ALERT):
        alerts[alert["code"]].append(alert)

    def by_id(found: list[Any]) -> list[Any]:
        return sorted((comparable(alert) for alert in found), key=lambda a: a["alert_id"])

    assert {code: by_id(found) for code, found in alerts.items()} == {
        code: by_id(found) for code, found in reference.alerts.items() if found
    }
    missing, unexpected = [], []
    for code, truth in simulation.truth.items():
        stream_time = reference.stream_time[reference.partition_of[code]]
        assert stream_time is not None
        expected = truth.expected_at(stream_time)
        fired = {alert["kind"] for alert in alerts[code]}
        if expected - fired:
            missing.append((code, truth.journey, sorted(expected - fired)))
        if fired - expected:
            unexpected.append((code, truth.journey, sorted(fired - expected)))
    assert not missing, f"{len(missing)} shipments lack an alert, e.g. {missing[:5]}"
    assert not unexpected, f"{len(unexpected)} shipments have extra alerts, e.g. {unexpected[:5]}"

    clean = [code for code, truth in simulation.truth.items() if not truth.cases]
    assert clean and not any(alerts[code] for code in clean)
    for case, kind in [
        (HardCase.CLONE, "SUSPECTED_CLONE"),
        (HardCase.STALLED, "STALLED"),
        (HardCase.NEVER_DISPATCHED, "UNKNOWN_CODE"),
    ]:
        injected = [code for code, truth in simulation.truth.items() if truth.journey is case]
        assert injected, case
        assert all(any(a["kind"] == kind for a in alerts[code]) for code in injected), case


def test_live_input_raises_exactly_the_expected_alerts(
    kafka: KafkaConnection, topics: TopicNames, group: str, worker: WorkerFactory
) -> None:
    """Published while the worker runs: an idle-looking input partition must not let the other
    topic run ahead in event time (which fires stall, SLA and unknown-code alerts early)."""
    joined = worker().start()
    joined.wait_ready()
    simulation = publish_simulation(kafka, topics, 1000, seed=5)
    wait_until_idle(kafka, group, topics)
    reference = reference_join(kafka, topics)

    fired: dict[str, set[str]] = defaultdict(set)
    for alert in decoded(read_topic(kafka, topics.alerts), RecordType.SHIPMENT_ALERT):
        fired[alert["code"]].add(alert["kind"])
    wrong = []
    for code, truth in simulation.truth.items():
        stream_time = reference.stream_time[reference.partition_of[code]]
        assert stream_time is not None
        expected = truth.expected_at(stream_time)
        if fired[code] != expected:
            wrong.append((code, truth.journey, sorted(expected), sorted(fired[code])))
    assert not wrong, f"{len(wrong)} shipments' alerts differ from the truth, e.g. {wrong[:5]}"


def test_broker_stamped_live_input_joins_like_the_merge_of_what_kafka_holds(
    kafka: KafkaConnection, prefix: str, group: str, worker: WorkerFactory
) -> None:
    """Inputs stamped by the broker, published while the worker runs: an idle partition is
    vouched for by a fetch requested after the waiting record arrived, and the worker's order
    is still the merge of the records' timestamps in Kafka (every state and alert as the
    reference computes them).

    The fetch margin and the input wait are an hour: a record waiting for an idle partition is
    released by the broker-time rule or not at all (the group would never catch up)."""
    topics = create_topics(kafka, prefix, broker_timestamps=True)
    hour = "3600"
    joined = worker(TRACECODE_WORKER_FETCH_MARGIN=hour, TRACECODE_WORKER_INPUT_WAIT=hour).start()
    joined.wait_ready()
    publish_simulation(kafka, topics, 1000, seed=5)
    wait_until_idle(kafka, group, topics)
    reference = reference_join(kafka, topics)
    assert reference.states

    wrong = []
    for code, state in reference.states.items():
        status, body = joined.get(f"/shipments/{quote(code, safe='')}")
        if status != 200 or comparable(body) != comparable(state):
            wrong.append((code, status))
    assert not wrong, f"{len(wrong)} states differ from the reference, e.g. {wrong[:3]}"
    alerts: dict[str, list[Any]] = defaultdict(list)
    for alert in decoded(read_topic(kafka, topics.alerts), RecordType.SHIPMENT_ALERT):
        alerts[alert["code"]].append(comparable(alert))
    expected = {code: [comparable(a) for a in found] for code, found in reference.alerts.items()}
    assert {code: found for code, found in alerts.items()} == {
        code: found for code, found in expected.items() if found
    }
