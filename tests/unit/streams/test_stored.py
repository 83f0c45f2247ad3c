"""The table's values: the schedule first, read back without decoding the state."""

from __future__ import annotations

from datetime import timedelta

from schemas.records import ShipmentState
from streams.join.partition import schedule_of
from streams.join.stored import PREFIX, StoredStateCodec
from streams.join.transition import Rules, new_state
from tests.unit.streams.test_state_codec import NOW, STATES, folded

__all__ = ["folded"]  # the fixture, shared with the state codec's tests

RULES = Rules(max_scans=6)
HEAD = len(PREFIX) + 24


def test_a_stored_state_is_its_schedule_then_the_state(
    folded: tuple[dict[str, ShipmentState], dict[str, bytes]],
) -> None:
    codec = StoredStateCodec(RULES)
    for state in folded[0].values():
        data = codec.encode(state, {})
        assert data.startswith(PREFIX) and data[HEAD:] == STATES.encode(state)
        assert codec.decode(data, {}) == state
        assert codec.schedule(data) == schedule_of(state, RULES)


def test_the_schedule_is_read_from_the_prefix_without_decoding_the_state(
    folded: tuple[dict[str, ShipmentState], dict[str, bytes]],
) -> None:
    codec = StoredStateCodec(RULES)
    state = next(s for s in folded[0].values() if s["scans"])
    data = codec.encode(state, {})
    # Everything after the code broken: only a read of the prefix and the code still works.
    code_end = HEAD + 10 + 1 + len(state["code"])
    broken = data[:code_end] + b"\xff" * 8
    assert codec.schedule(broken) == schedule_of(state, RULES)


def test_a_state_of_the_previous_release_is_read_and_scheduled(
    folded: tuple[dict[str, ShipmentState], dict[str, bytes]],
) -> None:
    """Release N wrote the state alone (no prefix): N+1 decodes it and computes its schedule."""
    codec = StoredStateCodec(RULES)
    for state in folded[0].values():
        plain = STATES.encode(state)
        assert codec.decode(plain, {}) == state
        assert codec.schedule(plain) == schedule_of(state, RULES)


def test_a_schedule_computed_with_other_rules_is_computed_again(
    folded: tuple[dict[str, ShipmentState], dict[str, bytes]],
) -> None:
    sooner = Rules(max_scans=6, stall_after=timedelta(hours=1), expire_after=timedelta(days=2))
    changed = 0
    for state in folded[0].values():
        data = StoredStateCodec(RULES).encode(state, {})
        schedule = StoredStateCodec(sooner).schedule(data)
        assert schedule == schedule_of(state, sooner)
        changed += schedule != schedule_of(state, RULES)
    assert changed > 0  # the thresholds matter to these states


def test_nothing_due_and_no_event_yet_round_trip() -> None:
    keep = Rules(forget_after=None)
    state = new_state("TC0000000001", NOW)
    codec = StoredStateCodec(keep)
    schedule = codec.schedule(codec.encode(state, {}))
    assert schedule == ("TC0000000001", None, None) == schedule_of(state, keep)
