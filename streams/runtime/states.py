"""The states of the assigned partitions as the join reads and changes them.

Reads go through a bounded cache of decoded states in front of RocksDB. Changes stay in memory
until the next commit writes them back (:meth:`ShipmentStates.write_back`): each changed
shipment is encoded once, written to RocksDB, and sent as one changelog record in the
transaction of its partition, however many of its events the interval held; a forgotten one is
deleted, and its changelog record is a tombstone. Under at-least-once the commit writes them
back only after the outputs were delivered, so a state change is never durable before what it
caused.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from faust.types import TP

from schemas.records import ShipmentState
from streams.join.partition import Schedule, schedule_of
from streams.join.state_codec import Bodies, keep_only
from streams.join.stored import StoredStateCodec
from streams.join.transition import Rules
from streams.runtime.sender import OutputSender
from streams.runtime.store import ShipmentStore

logger = logging.getLogger(__name__)

Key = tuple[int, str]
"""(partition, code)."""
OnFailure = Callable[[Any, Exception], None]
"""Called with the input record that last changed a state that cannot be written, and the
error."""


class ShipmentStates:
    """Decoded states by (partition, code): cached reads, changes written back on commit."""

    def __init__(
        self,
        store: ShipmentStore,
        sender: OutputSender,
        input_topic: str,
        rules: Rules,
        capacity: int = 4096,
    ) -> None:
        self._store = store
        self._sender = sender
        self._input_topic = input_topic
        self._capacity = capacity
        self._cache: OrderedDict[Key, ShipmentState] = OrderedDict()
        self._bodies: dict[Key, Bodies] = {}
        """Encoded scans and dispatch of each cached state (:mod:`streams.join.state_codec`)."""
        self._changed: dict[Key, tuple[ShipmentState | None, Any]] = {}
        self._rules = rules
        self._codec = StoredStateCodec(rules)

    @property
    def changed(self) -> int:
        """Shipments changed since the last write-back."""
        return len(self._changed)

    def get(self, partition: int, code: str) -> ShipmentState | None:
        """The current state of ``code`` in ``partition`` (changes not written back included)."""
        key = (partition, code)
        changed = self._changed.get(key)
        if changed is not None:
            return changed[0]
        state = self._cache.get(key)
        if state is not None:
            self._cache.move_to_end(key)
            return state
        data = self._store.get(partition, code)
        if data is None:
            return None
        bodies: Bodies = {}
        state = self._codec.decode(data, bodies)
        self._bodies[key] = bodies
        self._remember(key, state)
        return state

    def put(
        self,
        partition: int,
        code: str,
        state: ShipmentState | None,
        cause: Any,
        body: tuple[str, bytes] | None = None,
    ) -> None:
        """Change the state of ``code`` (``None``: forget it); ``cause`` is the input record
        that changed it and ``body``, when known, the event id and encoded body of the scan or
        dispatch it brought into the state."""
        key = (partition, code)
        self._changed[key] = (state, cause)
        if state is None:
            self._cache.pop(key, None)
            self._bodies.pop(key, None)
            return
        if body is not None:
            self._bodies.setdefault(key, {})[body[0]] = body[1]
        # Changed states stay cached until written back, which trims the cache.
        cache = self._cache
        cache[key] = state
        cache.move_to_end(key)

    def partition_schedules(self, partition: int) -> Iterator[Schedule]:
        """The schedule of every state of ``partition``, changes not written back included
        (read from the stored values' prefixes: :mod:`streams.join.stored`)."""
        changed = {code: state for (p, code), (state, _) in self._changed.items() if p == partition}
        for data in self._store.partition_values(partition):
            schedule = self._codec.schedule(data)
            if schedule.code not in changed:
                yield schedule
        for state in changed.values():
            if state is not None:
                yield schedule_of(state, self._rules)

    def write_back(self, on_failure: OnFailure) -> None:
        """Write every changed state to RocksDB and queue its changelog record; then they are
        unchanged."""
        changed, self._changed = self._changed, {}
        changelog = self._store.changelog_topic
        for (partition, code), (state, cause) in changed.items():
            data: bytes | None = None
            if state is None:
                self._store.delete(partition, code)
            else:
                bodies = self._bodies.setdefault((partition, code), {})
                keep_only(bodies, state)
                try:
                    data = self._codec.encode(state, bodies)
                except Exception as error:
                    # A bug, not data: keep the last written state and say which record led here.
                    logger.exception("a shipment state cannot be encoded", extra={"code": code})
                    self._cache.pop((partition, code), None)
                    self._bodies.pop((partition, code), None)
                    on_failure(cause, error)
                    continue
                self._store.put(partition, code, data)
            self._sender.add(
                changelog,
                code.encode(),
                data,
                TP(self._input_topic, partition),
                partition=partition,
                on_delivered=self._store.changelog_delivered,
            )
        self._trim()

    def forget(self) -> None:
        """Drop the cached states (partitions were reassigned); changes must be written back."""
        if self._changed:
            raise RuntimeError(f"{len(self._changed)} state changes were never written back")
        self._cache.clear()
        self._bodies.clear()

    def _remember(self, key: Key, state: ShipmentState) -> None:
        self._cache[key] = state
        self._cache.move_to_end(key)
        self._trim()

    def _trim(self) -> None:
        while len(self._cache) > self._capacity:
            oldest = next(iter(self._cache))
            if oldest in self._changed:
                break  # changed states stay until written back
            del self._cache[oldest]
            self._bodies.pop(oldest, None)
