"""The ``shipments`` table's values: a state's schedule, then the state.

When a partition is assigned, the join indexes when each of its shipments is next due
(:meth:`~streams.join.partition.PartitionJoin.rebuild`). Decoding every state for that cost
~100 µs a state: two minutes for a partition of a million shipments, after every restart and
every rebalance, before the partition's first record. So each value starts with what the index
needs, written when the state is:

====== ====================================================================================
bytes  content
====== ====================================================================================
4      ``FE 54 53 01``: this layout, version 1 (no Avro single-object encoding starts with
       ``FE``)
8      fingerprint of the :class:`~streams.join.transition.Rules` the due time was computed
       with
8      the due time (:func:`~streams.join.transition.next_due`), µs since 1970 UTC,
       big-endian signed; -2**63 for none
8      the state's ``last_event_time``, the same way
rest   the state, single-object encoded (:mod:`streams.join.state_codec`)
====== ====================================================================================

A value without this prefix (written by an earlier release) or with the fingerprint of other
rules (the worker's thresholds were changed) is decoded and its schedule computed, so upgrades
and new thresholds need nothing; the next write of the state adds the current prefix.
"""

from __future__ import annotations

import hashlib
import struct
from datetime import UTC, datetime, timedelta

from schemas.records import ShipmentState
from streams.join.partition import Schedule, schedule_of
from streams.join.state_codec import Bodies, StateCodec
from streams.join.transition import Rules

PREFIX = b"\xfeTS\x01"
"""The first bytes of a value that starts with its schedule (version 1 of the layout)."""

_SCHEDULE = struct.Struct(">8sqq")
_START = len(PREFIX) + _SCHEDULE.size
_NONE = -(2**63)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class StoredStateCodec:
    """Encodes states as the table stores them, and reads back a value's schedule cheaply."""

    __slots__ = ("_rules", "_rules_id", "_states")

    def __init__(self, rules: Rules) -> None:
        self._rules = rules
        self._rules_id = rules_fingerprint(rules)
        self._states = StateCodec()

    def encode(self, state: ShipmentState, bodies: Bodies) -> bytes:
        """The table's value of ``state`` (``bodies``: as for :meth:`StateCodec.encode`)."""
        _, due, last = schedule_of(state, self._rules)
        head = PREFIX + _SCHEDULE.pack(self._rules_id, _micros(due), _micros(last))
        return head + self._states.encode(state, bodies)

    def decode(self, data: bytes, bodies: Bodies) -> ShipmentState:
        """The state in a value of the table, with or without its schedule."""
        if data.startswith(PREFIX):
            return self._states.decode(data[_START:], bodies)
        return self._states.decode(data, bodies)

    def schedule(self, data: bytes) -> Schedule:
        """The code, due time and last event time of the state in ``data``: read from its
        prefix when it was computed with these rules, else from the decoded state."""
        if data.startswith(PREFIX):
            rules_id, due, last = _SCHEDULE.unpack_from(data, len(PREFIX))
            if rules_id == self._rules_id:
                code = self._states.code_of(data, _START)
                if code is not None:
                    return Schedule(code, _datetime(due), _datetime(last))
        return schedule_of(self.decode(data, {}), self._rules)


def rules_fingerprint(rules: Rules) -> bytes:
    """Eight bytes that differ when any threshold of ``rules`` does (its repr names them all)."""
    return hashlib.blake2b(repr(rules).encode(), digest_size=8).digest()


def _micros(value: datetime | None) -> int:
    return _NONE if value is None else (value - _EPOCH) // _MICROSECOND


def _datetime(value: int) -> datetime | None:
    return None if value == _NONE else _EPOCH + timedelta(microseconds=value)
