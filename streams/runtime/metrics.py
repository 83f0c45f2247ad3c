"""The join's Prometheus counters, served on ``/metrics`` next to Faust's own."""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge

from streams.join.partition import PartitionJoin, Step

PREFIX = "tracecode_streams"


class JoinMetrics:
    """Counters of what the join did, labelled so dashboards can split them."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            f"{PREFIX}_events",
            "Input events by kind (SCAN, DISPATCH, RETRACTION) and outcome (applied, "
            "duplicate, too_late, retracted).",
            ["kind", "outcome"],
            registry=registry,
        )
        self.late_events = Counter(
            f"{PREFIX}_late_events",
            "Events applied out of order (a later event of the same code came first).",
            ["kind"],
            registry=registry,
        )
        self.dead_letters = Counter(
            f"{PREFIX}_dead_letters",
            "Input records sent to the dead-letter topic, by stage (decode, validate, process).",
            ["stage", "topic"],
            registry=registry,
        )
        self.alerts = Counter(
            f"{PREFIX}_alerts", "Alerts emitted, by kind.", ["kind"], registry=registry
        )
        self.status_changes = Counter(
            f"{PREFIX}_status_changes",
            "Status change records emitted, by new status.",
            ["status"],
            registry=registry,
        )
        self.stream_time = Gauge(
            f"{PREFIX}_stream_time_seconds",
            "Stream time (latest applied event time, Unix seconds) of each assigned partition.",
            ["partition"],
            registry=registry,
        )
        self.forgotten = Counter(
            f"{PREFIX}_states_forgotten",
            "Shipment states deleted after Rules.forget_after without events.",
            registry=registry,
        )
        self.deadlines = Gauge(
            f"{PREFIX}_deadlines_scheduled",
            "Shipments with a time-based rule (or their forgetting) pending, per assigned "
            "partition.",
            ["partition"],
            registry=registry,
        )

    def on_steps(self, events: Mapping[tuple[str, str], int], steps: Iterable[Step]) -> None:
        """Count a batch of processed events, ``events`` by (kind, outcome), and what their
        steps caused: one counter update per label, not per event."""
        for (kind, outcome), count in events.items():
            self.events.labels(kind, outcome).inc(count)
        late: collections.Counter[str] = collections.Counter()
        alerts: collections.Counter[str] = collections.Counter()
        statuses: collections.Counter[str] = collections.Counter()
        forgotten = 0
        for step in steps:
            history = step.event.history
            if step.event.late and history is not None:
                late[history["kind"]] += 1
            for _code, transition in step.changes:
                for alert in transition.alerts:
                    alerts[alert["kind"]] += 1
                if transition.status_change is not None:
                    statuses[transition.status_change["status"]] += 1
            forgotten += sum(1 for state in step.writes.values() if state is None)
        for kind, count in late.items():
            self.late_events.labels(kind).inc(count)
        for kind, count in alerts.items():
            self.alerts.labels(kind).inc(count)
        for status, count in statuses.items():
            self.status_changes.labels(status).inc(count)
        if forgotten:
            self.forgotten.inc(forgotten)

    def on_partition(self, partition: int, join: PartitionJoin | None) -> None:
        """Show the stream time and pending deadlines of ``partition``."""
        if join is None or join.stream_time is None:
            return
        self.stream_time.labels(str(partition)).set(join.stream_time.timestamp())
        self.deadlines.labels(str(partition)).set(join.scheduled)

    def forget_partition(self, partition: int) -> None:
        """Stop showing ``partition`` (no longer assigned to this worker)."""
        for gauge in (self.stream_time, self.deadlines):
            with contextlib.suppress(KeyError):
                gauge.remove(str(partition))
