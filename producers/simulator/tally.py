"""Counting a simulation's events as they go by (for summaries and tests)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from producers.events import EventKind
from producers.simulator.hardcases import HardCase
from producers.simulator.simulation import SimEvent, Simulation


@dataclass(slots=True)
class Tally:
    """Events counted by kind, by the journey case of their shipment and by delivery case."""

    simulation: Simulation
    events: int = 0
    by_kind: Counter[EventKind] = field(default_factory=Counter)
    by_journey: Counter[HardCase | None] = field(default_factory=Counter)
    """Events per journey case of their shipment (``None``: clean)."""
    by_delivery: Counter[HardCase] = field(default_factory=Counter)
    """Events that show a delivery case (a late dispatch, a duplicate copy, a late scan)."""

    def add(self, event: SimEvent) -> None:
        self.events += 1
        self.by_kind[event.kind] += 1
        self.by_journey[self.simulation.shipments[event.shipment].journey] += 1
        if event.case is not None:
            self.by_delivery[event.case] += 1
