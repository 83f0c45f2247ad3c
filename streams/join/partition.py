"""One partition's join: events in arrival order, the partition's stream time and its deadlines.

:class:`PartitionJoin` is what the worker runs for every input record of a partition, and what
the reference checks run over the records read back from Kafka: the same code, so "the worker's
state equals the reference" tests the Faust plumbing, not a second implementation of the rules.
It reads states through a lookup function and returns the states to write; persisting them (and
producing the outputs) is the caller's job.

Stream time is the latest event time of any event the join applied on the partition; it only
moves forward, and equals the largest ``last_event_time`` of the partition's states, so it is
rebuilt exactly from the table after a restart. When an applied event moves it forward, every
rule due by then fires *before* the event is applied (a parcel scanned 80 h after its previous
scan was stalled from hour 72 on), and rules the event itself made due in the past fire right
after it. A shipment idle for ``Rules.forget_after`` with no rule left to fire is forgotten
(its state deleted); the state that set the stream time never is, so the clock survives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import NamedTuple

from schemas.records import ShipmentState
from streams.join.deadlines import DeadlineIndex
from streams.join.transition import (
    FoldCache,
    InputEvent,
    Outcome,
    Rules,
    Transition,
    apply,
    next_due,
    tick,
)

StateLookup = Callable[[str], ShipmentState | None]
"""Returns the stored state of a code of this partition, ``None`` for a code never seen."""


class Schedule(NamedTuple):
    """What the join's index needs of a stored state (:func:`schedule_of`)."""

    code: str
    due: datetime | None
    """When a time-based rule of the state is next due (:func:`next_due`)."""
    last_event_time: datetime | None


def schedule_of(state: ShipmentState, rules: Rules) -> Schedule:
    """The schedule of ``state`` under ``rules``."""
    return Schedule(state["code"], next_due(state, rules), state["last_event_time"])


class Step:
    """What processing one input event produced."""

    __slots__ = ("changes", "event", "writes")

    def __init__(self, event: Transition) -> None:
        self.event = event
        """The event's own transition (its outcome says whether it was applied)."""
        self.changes: list[tuple[str, Transition]] = []
        """Every state-changing transition, the event's and the ticks', in the order they
        ran."""
        self.writes: dict[str, ShipmentState | None] = {}
        """The new state of every code that changed, to persist; ``None`` forgets the code."""


class PartitionJoin:
    """Applies one partition's events and fires its time-based rules at its stream time."""

    __slots__ = ("_folds", "_index", "_lookup", "_rules", "stream_time")

    def __init__(
        self, rules: Rules, lookup: StateLookup, stream_time: datetime | None = None
    ) -> None:
        self._rules = rules
        self._lookup = lookup
        self._index = DeadlineIndex()
        self._folds = FoldCache()
        self.stream_time = stream_time
        """Latest event time applied on this partition (``None`` before the first)."""

    @classmethod
    def rebuild(
        cls, rules: Rules, lookup: StateLookup, schedules: Iterable[Schedule]
    ) -> PartitionJoin:
        """The join of a partition whose stored states have ``schedules`` (after a restart or
        a rebalance; :func:`schedule_of` gives a state's)."""
        join = cls(rules, lookup)
        for code, due, last in schedules:
            join._index.schedule(code, due)
            if last is not None and (join.stream_time is None or last > join.stream_time):
                join.stream_time = last
        return join

    @property
    def scheduled(self) -> int:
        """Number of codes with a time-based rule pending."""
        return len(self._index)

    def process(self, event: InputEvent, now: datetime) -> Step:
        """Apply ``event`` (wall-clock time ``now``) and fire the rules due at stream time."""
        code = event["code"]
        step = Step(apply(self._lookup(code), event, self._rules, now, self._folds))
        if step.event.outcome is not Outcome.APPLIED:
            return step
        assert step.event.history is not None
        event_time = step.event.history["event_time"]
        if self.stream_time is None or event_time > self.stream_time:
            self.stream_time = event_time
            self._fire_due(step, now)
            if code in step.writes:
                # The event's own code was due: apply the event to the ticked state (ticks
                # change no scan or id list, so it is still applied), or to none if the tick
                # forgot the code: an event after so long starts the shipment afresh.
                step.event = apply(step.writes[code], event, self._rules, now, self._folds)
        self._record(step, code, step.event)
        self._fire_due(step, now)
        return step

    def _get(self, code: str, step: Step) -> ShipmentState | None:
        return step.writes[code] if code in step.writes else self._lookup(code)

    def _record(self, step: Step, code: str, transition: Transition) -> None:
        step.changes.append((code, transition))
        step.writes[code] = transition.state
        self._index.schedule(code, next_due(transition.state, self._rules))

    def _fire_due(self, step: Step, now: datetime) -> None:
        assert self.stream_time is not None
        for code in self._index.pop_due(self.stream_time):
            state = self._get(code, step)
            if state is None:
                continue
            fired = tick(state, self.stream_time, self._rules, now)
            if fired.outcome is Outcome.APPLIED:
                self._record(step, code, fired)
            elif fired.outcome is Outcome.FORGOTTEN:
                if fired.alerts or fired.status_change is not None:
                    step.changes.append((code, fired))
                step.writes[code] = None
            else:
                # Nothing to do now (the index held a due time the state no longer has).
                self._index.schedule(code, _later(next_due(state, self._rules), self.stream_time))


def _later(due: datetime | None, now: datetime) -> datetime | None:
    """``due`` if it lies after ``now``: a due time already passed would fire again at once."""
    return due if due is not None and due > now else None
