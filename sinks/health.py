"""The sink's health, as ``/health`` (ready) and ``/health/live`` (alive) answer it.

The consume loop publishes what it knows once per turn (:meth:`SinkHealth.update`); the HTTP
thread turns the latest facts into a :class:`HealthReport` when a probe asks. A sink is ready
once the group assigned it partitions and each one's ledger state is loaded, while no
partition is halted and ClickHouse has not been failing for longer than
``unreachable_after`` seconds. It is alive while the loop keeps turning: a loop stuck longer
than ``stalled_after`` (past the longest ClickHouse call it waits for) is worth a restart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

STALLED_AFTER = 600.0
"""Seconds without a turn of the consume loop before the sink counts as stalled: longer than a
ClickHouse call may take (``send_receive_timeout``, 120 s) while the loop waits for it."""


class HealthStatus(StrEnum):
    """What the sink is doing, the most pressing first when several hold."""

    STARTING = "starting"
    """Connecting to ClickHouse, migrating, subscribing."""
    STALLED = "stalled"
    HALTED = "halted"
    """A partition stopped at a record it cannot store (docs/sink.md, Failures)."""
    CLICKHOUSE_UNREACHABLE = "clickhouse-unreachable"
    LOADING = "loading"
    """Reading the ledger state of newly assigned partitions."""
    ASSIGNING = "assigning"
    """Waiting for the consumer group to assign partitions."""
    READY = "ready"


@dataclass(frozen=True, slots=True)
class HealthFacts:
    """What the consume loop knew at monotonic time ``at``."""

    at: float
    assigned: bool
    """The group has assigned this sink its partitions (possibly none)."""
    partitions: int
    loading: tuple[str, ...] = ()
    """Partitions (``topic[partition]``) whose ledger state is not loaded yet."""
    halted: tuple[str, ...] = ()
    """One line per halted partition: where and why."""
    clickhouse_failing_since: float | None = None
    """Monotonic time of the first of the ClickHouse calls failing since the last success."""
    clickhouse_error: str | None = None
    """The latest of those failures."""


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The answer to a probe."""

    status: HealthStatus
    live: bool
    reasons: tuple[str, ...] = field(default=())
    partitions: int = 0

    @property
    def ready(self) -> bool:
        """Whether the sink stores what it is assigned."""
        return self.status is HealthStatus.READY

    def to_json(self) -> dict[str, Any]:
        """The body of ``/health``."""
        return {
            "status": self.status.value,
            "ready": self.ready,
            "live": self.live,
            "partitions": self.partitions,
            "reasons": list(self.reasons),
        }


class SinkHealth:
    """The latest facts of one sink, shared between its loop and its HTTP thread."""

    def __init__(
        self,
        unreachable_after: float,
        stalled_after: float = STALLED_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.unreachable_after = unreachable_after
        self.stalled_after = stalled_after
        self._clock = clock
        self._lock = threading.Lock()
        self._facts: HealthFacts | None = None

    def update(self, facts: HealthFacts) -> None:
        """Publish the loop's latest facts."""
        with self._lock:
            self._facts = facts

    def report(self) -> HealthReport:
        """The sink's health now."""
        with self._lock:
            facts = self._facts
        if facts is None:
            return HealthReport(HealthStatus.STARTING, live=True)
        now = self._clock()
        found: list[tuple[HealthStatus, str]] = []
        idle = now - facts.at
        if idle > self.stalled_after:
            found.append(
                (HealthStatus.STALLED, f"the consume loop has not turned for {idle:.0f} s")
            )
        found += [(HealthStatus.HALTED, line) for line in facts.halted]
        since = facts.clickhouse_failing_since
        if since is not None and now - since >= self.unreachable_after:
            found.append(
                (
                    HealthStatus.CLICKHOUSE_UNREACHABLE,
                    f"ClickHouse calls have failed for {now - since:.0f} s: "
                    f"{facts.clickhouse_error}",
                )
            )
        if facts.loading:
            found.append(
                (
                    HealthStatus.LOADING,
                    f"reading the ledger state of {len(facts.loading)} partitions: "
                    + ", ".join(facts.loading),
                )
            )
        if not facts.assigned:
            found.append((HealthStatus.ASSIGNING, "waiting for the group to assign partitions"))
        if not found:
            return HealthReport(HealthStatus.READY, live=True, partitions=facts.partitions)
        statuses = list(HealthStatus)
        worst = min((status for status, _ in found), key=statuses.index)
        return HealthReport(
            worst,
            live=worst is not HealthStatus.STALLED,
            reasons=tuple(reason for _, reason in found),
            partitions=facts.partitions,
        )
