"""The table's value encoding: assembled from the input records' bodies, byte for byte the
ShipmentState wire encoding."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from producers.simulator import SimulationConfig, simulate
from schemas.codec import codec_for
from schemas.records import RecordType, ShipmentState
from streams.join.partition import PartitionJoin
from streams.join.state_codec import Bodies, StateCodec, body_of, keep_only
from streams.join.transition import Outcome, Rules

NOW = datetime(2026, 11, 1, tzinfo=UTC)
STATES = codec_for(RecordType.SHIPMENT_STATE)


@pytest.fixture(scope="module")
def folded() -> tuple[dict[str, ShipmentState], dict[str, bytes]]:
    """States of a simulation with every hard case, and the encoded input records."""
    simulation = simulate(SimulationConfig(shipments=150, until=NOW, seed=3))
    states: dict[str, ShipmentState] = {}
    join = PartitionJoin(Rules(max_scans=6), states.get)
    inputs: dict[str, bytes] = {}
    for event in simulation.events():
        record_type = (
            RecordType.SELLER_DISPATCH if event.kind == "dispatch" else RecordType.CARRIER_SCAN
        )
        step = join.process(event.record, NOW)
        if step.event.outcome is Outcome.APPLIED:
            # As the worker does: a duplicate copy (same id, maybe other bytes) is not applied.
            inputs[event.record["event_id"]] = codec_for(record_type).encode(event.record)
        for code, state in step.writes.items():
            if state is None:
                states.pop(code, None)
            else:
                states[code] = state
    return states, inputs


def test_a_state_is_encoded_exactly_as_the_codec_encodes_it(
    folded: tuple[dict[str, ShipmentState], dict[str, bytes]],
) -> None:
    states, _ = folded
    codec = StateCodec()
    assert len(states) > 100
    assert any(state["evicted"] for state in states.values())  # the cap was reached
    assert any(state["dispatch"] is None for state in states.values())
    for state in states.values():
        bodies: Bodies = {}
        assert codec.encode(state, bodies) == STATES.encode(state)
        # Encoding again from the bodies it kept gives the same bytes.
        assert codec.encode(state, bodies) == STATES.encode(state)


def test_the_bodies_of_the_input_records_are_used_as_they_are(
    folded: tuple[dict[str, ShipmentState], dict[str, bytes]],
) -> None:
    states, inputs = folded
    codec = StateCodec()
    for state in states.values():
        bodies: Bodies = {}
        for scan in state["scans"]:
            body = body_of(inputs[scan["event_id"]], RecordType.CARRIER_SCAN)
            assert body is not None
            bodies[scan["event_id"]] = body
        if state["dispatch"] is not None:
            event_id = state["dispatch"]["event_id"]
            body = body_of(inputs[event_id], RecordType.SELLER_DISPATCH)
            assert body is not None
            bodies[event_id] = body
        assert codec.encode(state, bodies) == STATES.encode(state)
    # A record of another type (or another release) gives no body.
    any_scan = next(iter(states.values()))["scans"][0]["event_id"]
    assert body_of(inputs[any_scan], RecordType.SELLER_DISPATCH) is None
    assert body_of(None, RecordType.CARRIER_SCAN) is None


def test_a_stored_state_decodes_with_the_bodies_of_its_events(
    folded: tuple[dict[str, ShipmentState], dict[str, bytes]],
) -> None:
    """States written by the plain codec (as the previous release wrote them) read back
    equal, and their bodies re-encode them to the same bytes."""
    states, _ = folded
    codec = StateCodec()
    for state in states.values():
        data = STATES.encode(state)
        bodies: Bodies = {}
        assert codec.decode(data, bodies) == state
        held = {scan["event_id"] for scan in state["scans"]}
        if state["dispatch"] is not None:
            held.add(state["dispatch"]["event_id"])
        assert set(bodies) == held
        assert codec.encode(state, bodies) == data


def test_bodies_of_events_a_state_no_longer_holds_are_dropped(
    folded: tuple[dict[str, ShipmentState], dict[str, bytes]],
) -> None:
    state = next(iter(folded[0].values()))
    bodies: Bodies = {"gone": b"x"}
    StateCodec().encode(state, bodies)
    keep_only(bodies, state)
    assert "gone" not in bodies
    assert {scan["event_id"] for scan in state["scans"]} <= set(bodies)


def test_compiled_decoding_reads_what_fastavro_reads(
    folded: tuple[dict[str, ShipmentState], dict[str, bytes]],
) -> None:
    states, _ = folded
    codec = StateCodec()
    for state in states.values():
        data = STATES.encode(state)
        compiled: Bodies = {}
        checked: Bodies = {}
        assert codec._decode_compiled(data, compiled) == codec._decode_checked(data, checked)
        assert compiled == checked
        assert STATES.decode(data) == codec.decode(data, {})


def test_a_state_with_bytes_that_do_not_fit_is_refused_and_adds_no_bodies(
    folded: tuple[dict[str, ShipmentState], dict[str, bytes]],
) -> None:
    states, _ = folded
    codec = StateCodec()
    data = STATES.encode(next(state for state in states.values() if state["scans"]))
    bodies: Bodies = {}
    with pytest.raises(ValueError):
        codec._decode_compiled(data + b"\x00", bodies)
    assert bodies == {}
    with pytest.raises(Exception):  # noqa: B017 - fastavro's own error, whatever its type
        codec.decode(data[:-5], {})
