"""Output records: the history encoded in parts is byte for byte the codec's encoding."""

from __future__ import annotations

from datetime import UTC, datetime

from producers.simulator import SimulationConfig, simulate
from schemas.codec import codec_for
from schemas.records import RecordType, ShipmentState
from schemas.topics import TopicNames
from streams.join.partition import PartitionJoin
from streams.join.records import OutputEncoder
from streams.join.transition import Rules

NOW = datetime(2026, 11, 1, tzinfo=UTC)
TOPICS = TopicNames()
CODECS = {
    TOPICS.history: codec_for(RecordType.SHIPMENT_HISTORY_RECORD),
    TOPICS.status: codec_for(RecordType.SHIPMENT_STATUS_CHANGED),
    TOPICS.alerts: codec_for(RecordType.SHIPMENT_ALERT),
}


def test_every_output_record_is_the_codec_s_encoding_of_the_step_s_records() -> None:
    """Late dispatches, several dispatches per code, clones and ticks included: the cached
    dispatch part of a history record never outlives its dispatch."""
    simulation = simulate(SimulationConfig(shipments=200, until=NOW, seed=9))
    states: dict[str, ShipmentState] = {}
    join = PartitionJoin(Rules(), states.get)
    encoder = OutputEncoder(TOPICS, capacity=50)  # small: entries are evicted too
    counts = dict.fromkeys(CODECS, 0)
    for event in simulation.events():
        step = join.process(event.record, NOW)
        expected = []
        for code, transition in step.changes:
            if transition.history is not None:
                expected.append((TOPICS.history, code, transition.history))
            if transition.status_change is not None:
                expected.append((TOPICS.status, code, transition.status_change))
            expected.extend((TOPICS.alerts, code, alert) for alert in transition.alerts)
        encoded = encoder.encode(step)
        assert [(topic, key.decode()) for topic, key, _ in encoded] == [
            (topic, code) for topic, code, _ in expected
        ]
        for (topic, _, value), (_, _, record) in zip(encoded, expected, strict=True):
            assert value == CODECS[topic].encode(record)
            assert CODECS[topic].decode(value) == record
            counts[topic] += 1
        for code, state in step.writes.items():
            if state is None:
                states.pop(code, None)
            else:
                states[code] = state
    assert counts[TOPICS.history] > 2000 and counts[TOPICS.alerts] > 0
