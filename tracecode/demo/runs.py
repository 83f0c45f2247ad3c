"""Which simulation the demo's topics hold, so that running the demo again is sane.

The workers' clock is each partition's stream time, the latest event time they have applied;
it only moves forward. A second simulation over a window the topics already cover would reach
the workers weeks "late": nearly every new shipment would look overdue and raise time-based
alerts at once. So the demo records the simulation it published (seed, shipments, end of the
window) in ``<data dir>/demo/simulations.json``, per topic prefix, and runs again only that
one, with the recorded window even on another day: every event is then a duplicate, nothing
changes, and the report is the same. Another simulation needs empty topics.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tracecode.errors import TracecodeError


class DemoConflictError(TracecodeError):
    """The topics hold events of another simulation than the one asked for."""


@dataclass(frozen=True, slots=True)
class DemoSimulation:
    """What one demo publishes: the simulator's seed and size, and the end of its window."""

    seed: int
    shipments: int
    until: datetime

    def to_json(self) -> dict[str, object]:
        return {"seed": self.seed, "shipments": self.shipments, "until": self.until.isoformat()}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> DemoSimulation:
        return cls(
            seed=int(str(data["seed"])),
            shipments=int(str(data["shipments"])),
            until=datetime.fromisoformat(str(data["until"])),
        )


class DemoRuns:
    """The simulations recorded in a data folder, one per topic prefix."""

    def __init__(self, data_dir: Path, topic_prefix: str) -> None:
        self._path = data_dir / "demo" / "simulations.json"
        self._prefix = topic_prefix

    def recorded(self) -> DemoSimulation | None:
        """The simulation the topics of this prefix hold, when a demo published one."""
        entry = self._read().get(self._prefix)
        if not isinstance(entry, dict):
            return None
        try:
            return DemoSimulation.from_json(entry)
        except (KeyError, ValueError):
            return None

    def plan(
        self, seed: int, shipments: int, until: datetime, *, topics_hold_events: bool
    ) -> DemoSimulation:
        """The simulation to publish, or :class:`DemoConflictError` when the topics hold
        another one (or events no demo recorded)."""
        if not topics_hold_events:
            return DemoSimulation(seed, shipments, until)
        previous = self.recorded()
        if previous is not None and (previous.seed, previous.shipments) == (seed, shipments):
            return previous
        if previous is None:
            held = "events that no demo published (from `tracecode simulate` or `ingest`?)"
            again = ""
        else:
            held = (
                f"the demo of seed {previous.seed} with {previous.shipments:,} shipments "
                f"(window ending {previous.until:%Y-%m-%d})"
            )
            again = (
                f"run that one again (`tracecode demo --seed {previous.seed} --shipments "
                f"{previous.shipments}`: every event is a duplicate, the report the same), or "
            )
        raise DemoConflictError(
            f"the input topics already hold {held}. Another simulation over the same weeks "
            "would reach the workers after their clocks (the event time they have seen) passed "
            "it, and nearly every new shipment would raise time-based alerts at once",
            hint=f"{again}start from empty topics: see docs/demo.md, 'Running it twice'",
        )

    def record(self, simulation: DemoSimulation) -> None:
        """Remember that the topics of this prefix hold ``simulation``."""
        entries = self._read()
        entries[self._prefix] = simulation.to_json()
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._path.write_text(json.dumps(entries, indent=2) + "\n")

    def _read(self) -> dict[str, object]:
        try:
            data = json.loads(self._path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}
