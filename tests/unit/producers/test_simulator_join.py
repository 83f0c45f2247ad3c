"""The simulator and the join agree: every code raises exactly the alerts its ground truth
expects, when its events are applied in arrival order by the pure transition
(``streams.join.transition``) and ticked at each partition's stream time, as the worker does."""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache

import pytest
from aiokafka.partitioner import murmur2

from producers.simulator import HardCase, SimEvent, Simulation, SimulationConfig, simulate
from schemas.records import ShipmentAlert, ShipmentState
from streams.join.transition import Outcome, Rules, apply, next_due, tick

UNTIL = datetime(2026, 11, 1, tzinfo=UTC)
WALL_CLOCK = datetime(2027, 1, 1, tzinfo=UTC)
RULES = Rules()


def partition_of(code: str, partitions: int) -> int:
    """Kafka's default partition of a key (Java murmur2), as the producer config asks for."""
    return (murmur2(code.encode()) & 0x7FFFFFFF) % partitions


@dataclass
class JoinRun:
    states: dict[str, ShipmentState] = field(default_factory=dict)
    stream_time: dict[int, datetime] = field(default_factory=dict)
    alerts: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    first_detected: dict[tuple[str, str], datetime] = field(default_factory=dict)
    """(code, kind) -> earliest ``detected_at`` of the alerts of that kind."""
    outcomes: Counter[Outcome] = field(default_factory=Counter)

    def record(self, code: str, alerts: Iterable[ShipmentAlert]) -> None:
        for alert in alerts:
            self.alerts[code].add(alert["kind"])
            key = (code, alert["kind"])
            self.first_detected[key] = min(
                alert["detected_at"], self.first_detected.get(key, alert["detected_at"])
            )


def run_join(events: Iterable[SimEvent], partitions: int, rules: Rules = RULES) -> JoinRun:
    """Apply ``events`` in order; after each, tick every state due at its partition's stream
    time (the largest event time the partition has seen)."""
    run = JoinRun()
    due: defaultdict[int, list[tuple[datetime, str]]] = defaultdict(list)

    def schedule(code: str, partition: int) -> None:
        moment = next_due(run.states[code], rules)
        if moment is not None:
            heapq.heappush(due[partition], (moment, code))

    for event in events:
        record = event.record
        code = record["code"]
        partition = partition_of(code, partitions)
        transition = apply(run.states.get(code), record, rules, WALL_CLOCK)
        run.outcomes[transition.outcome] += 1
        run.states[code] = transition.state
        run.record(code, transition.alerts)
        moment = record["dispatch_time"] if "dispatch_time" in record else record["event_time"]  # type: ignore[typeddict-item]
        run.stream_time[partition] = max(moment, run.stream_time.get(partition, moment))
        schedule(code, partition)
        queue = due[partition]
        while queue and queue[0][0] <= run.stream_time[partition]:
            moment, due_code = heapq.heappop(queue)
            if next_due(run.states[due_code], rules) != moment:
                continue  # rescheduled since
            ticked = tick(run.states[due_code], run.stream_time[partition], rules, WALL_CLOCK)
            run.states[due_code] = ticked.state
            run.record(due_code, ticked.alerts)
            schedule(due_code, partition)
    return run


@cache
def simulation(seed: int) -> Simulation:
    return simulate(SimulationConfig(shipments=1500, until=UNTIL, seed=seed))


@cache
def joined(seed: int, partitions: int) -> JoinRun:
    return run_join(simulation(seed).events(), partitions)


@pytest.mark.parametrize(("seed", "partitions"), [(11, 6), (11, 1), (12, 12)])
def test_every_code_raises_exactly_its_expected_alerts(seed: int, partitions: int) -> None:
    sim, run = simulation(seed), joined(seed, partitions)
    horizon = UNTIL - sim.config.alert_margin
    assert min(run.stream_time.values()) >= horizon, "a partition's stream time fell short"
    wrong = {
        code: (sorted(truth.cases), sorted(truth.expected_alerts), sorted(run.alerts[code]))
        for code, truth in sim.truth.items()
        if run.alerts[code] != truth.expected_alerts
    }
    assert not wrong, f"{len(wrong)} codes disagree (cases, expected, raised): {wrong}"
    for code, truth in sim.truth.items():
        partition_time = run.stream_time[partition_of(code, partitions)]
        assert truth.expected_at(partition_time) == truth.expected_alerts
        for kind, due in truth.alert_due.items():
            detected = run.first_detected[code, kind]
            if kind == "SUSPECTED_CLONE":
                # Fired on arrival: a late genuine scan can reveal an earlier impossible move
                # after the alert went out with a later one.
                assert due <= detected < UNTIL, (code, truth.cases)
            else:
                assert detected == due, (code, kind, truth.cases)


def test_every_alert_kind_is_expected_somewhere() -> None:
    expected = Counter(kind for t in simulation(11).shipments for kind in t.expected_alerts)
    assert set(expected) == {
        "STALLED",
        "DISPATCH_SLA_BREACH",
        "EXPIRED",
        "UNKNOWN_CODE",
        "SUSPECTED_CLONE",
    }


def test_duplicates_are_recognised_and_nothing_arrives_too_late() -> None:
    copies = sum(1 for e in simulation(11).events() if e.case is HardCase.DUPLICATE)
    run = joined(11, 6)
    assert copies > 0
    assert run.outcomes[Outcome.DUPLICATE] == copies
    assert run.outcomes[Outcome.TOO_LATE] == 0
    assert run.outcomes[Outcome.APPLIED] == sum(run.outcomes.values()) - copies


def test_clean_shipments_end_delivered_or_on_their_way() -> None:
    run = joined(11, 6)
    statuses = Counter(
        run.states[t.code]["status"] for t in simulation(11).shipments if not t.cases
    )
    assert set(statuses) <= {
        "PENDING",
        "INFO_RECEIVED",
        "IN_TRANSIT",
        "OUT_FOR_DELIVERY",
        "AVAILABLE_FOR_PICKUP",
        "DELIVERED",
    }
    assert statuses["DELIVERED"] > 0.7 * sum(statuses.values())
    for truth in simulation(11).shipments:
        if not truth.cases:
            delivered = run.states[truth.code]["status"] == "DELIVERED"
            assert delivered == truth.delivered, truth.code
