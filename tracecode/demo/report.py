"""The demo's closing report, read from the stores: ClickHouse and the workers' web view.

Nothing in it comes from the simulator: the figures are what tracecode made of the events.
:meth:`Report.to_json` is the machine-readable form (``tracecode demo --json-report FILE``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api.tracking import (
    CLONE,
    LiveState,
    Source,
    Tracking,
    assemble,
    read_history,
    read_live,
)
from sinks.query import QueryClient
from tracecode.endpoints import EndpointError

# Examples prefer marketplace codes: a GS1 code's parentheses and slashes need quoting in a
# shell and escaping in a URL.
_PLAIN_FIRST = "startsWith(code, '(')"

STATUS_SQL = """
SELECT status, count() AS shipments
FROM shipment_state FINAL
GROUP BY status
ORDER BY shipments DESC, status
"""

ALERTS_SQL = f"""
SELECT
    kind,
    count() AS alerts,
    uniqExact(code) AS codes,
    argMin((code, rule, message), ({_PLAIN_FIRST}, code, alert_id)) AS example
FROM alerts
GROUP BY kind
ORDER BY alerts DESC, kind
"""

CLONE_EXAMPLE_SQL = f"""
SELECT code
FROM alerts
WHERE kind = '{CLONE}'
ORDER BY rule != 'impossible_speed', {_PLAIN_FIRST}, code
LIMIT 1
"""

DELIVERED_EXAMPLE_SQL = f"""
SELECT code, count() AS events
FROM shipment_events
WHERE code IN (
    SELECT code FROM shipment_state FINAL
    WHERE status = 'DELIVERED' AND dispatched_at IS NOT NULL
)
  AND code NOT IN (SELECT code FROM alerts)
GROUP BY code
ORDER BY {_PLAIN_FIRST}, events DESC, code
LIMIT 1
"""

TRANSIT_SQL = """
SELECT
    origin_country,
    destination_country,
    uniqExactMerge(shipments) AS delivered,
    quantilesExactMerge(0.5, 0.9)(transit_hours) AS hours
FROM transit_daily
GROUP BY origin_country, destination_country
ORDER BY origin_country, destination_country
"""


@dataclass(frozen=True, slots=True)
class Stage:
    """What one stage of the pipeline achieved in this run."""

    name: str
    """produced, joined or stored."""
    count: int
    unit: str
    """events or rows."""
    seconds: float
    """From the first event produced to the stage's end."""

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "unit": self.unit,
            "seconds": round(self.seconds, 3),
            "per_second": round(self.per_second, 1),
        }


@dataclass(frozen=True, slots=True)
class AlertKind:
    """The alerts of one kind, with one example."""

    kind: str
    alerts: int
    codes: int
    example_code: str
    example_rule: str
    example_message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "alerts": self.alerts,
            "codes": self.codes,
            "example": {
                "code": self.example_code,
                "rule": self.example_rule,
                "message": self.example_message,
            },
        }


@dataclass(frozen=True, slots=True)
class LaneTransit:
    """Dispatch-to-delivery time of one lane."""

    origin: str
    destination: str
    delivered: int
    p50_hours: float
    p90_hours: float

    @property
    def lane(self) -> str:
        return f"{self.origin}->{self.destination}"

    def to_json(self) -> dict[str, Any]:
        return {
            "lane": self.lane,
            "delivered": self.delivered,
            "p50_hours": round(self.p50_hours, 1),
            "p90_hours": round(self.p90_hours, 1),
        }


@dataclass(frozen=True, slots=True)
class Run:
    """What this run of the demo did."""

    shipments: int
    seed: int
    until: datetime
    events: int
    """Events the simulator produced."""
    workers: int
    seconds: float
    """Wall time of the whole run so far."""

    def to_json(self) -> dict[str, Any]:
        return {
            "shipments": self.shipments,
            "seed": self.seed,
            "until": self.until.isoformat(),
            "events": self.events,
            "workers": self.workers,
            "seconds": round(self.seconds, 1),
        }


@dataclass(frozen=True, slots=True)
class Report:
    """Everything the demo shows at the end."""

    run: Run
    stages: tuple[Stage, ...]
    by_status: dict[str, int]
    """Shipments by current status (``shipment_state FINAL``)."""
    alerts: tuple[AlertKind, ...]
    transit: tuple[LaneTransit, ...]
    delivered: Tracking | None
    clone: Tracking | None

    @property
    def shipments(self) -> int:
        return sum(self.by_status.values())

    @property
    def alert_count(self) -> int:
        return sum(kind.alerts for kind in self.alerts)

    def to_json(self) -> dict[str, Any]:
        """The ``--json-report`` document (documented in docs/demo.md)."""
        return {
            "version": 1,
            "run": self.run.to_json(),
            "stages": {stage.name: stage.to_json() for stage in self.stages},
            "shipments": {"total": self.shipments, "by_status": dict(self.by_status)},
            "alerts": {
                "total": self.alert_count,
                "by_kind": {kind.kind: kind.to_json() for kind in self.alerts},
            },
            "transit_by_lane": [lane.to_json() for lane in self.transit],
            "examples": {
                "delivered": self.delivered.to_json() if self.delivered else None,
                "suspected_clone": self.clone.to_json() if self.clone else None,
            },
        }


def build_report(
    client: QueryClient, worker_urls: Sequence[str], run: Run, stages: Sequence[Stage]
) -> Report:
    """Read the report's figures from ClickHouse and the examples' live state from a worker."""
    by_status = {row[0]: int(row[1]) for row in client.query(STATUS_SQL).result_rows}
    alerts = tuple(
        AlertKind(kind, int(count), int(codes), *example)
        for kind, count, codes, example in client.query(ALERTS_SQL).result_rows
    )
    transit = tuple(
        LaneTransit(origin, destination, int(delivered), float(hours[0]), float(hours[1]))
        for origin, destination, delivered, hours in client.query(TRANSIT_SQL).result_rows
    )
    delivered = _first(client, DELIVERED_EXAMPLE_SQL)
    clone = _first(client, CLONE_EXAMPLE_SQL)
    return Report(
        run=run,
        stages=tuple(stages),
        by_status=by_status,
        alerts=alerts,
        transit=transit,
        delivered=_example(client, worker_urls, delivered) if delivered else None,
        clone=_example(client, worker_urls, clone) if clone else None,
    )


def _first(client: QueryClient, sql: str) -> str | None:
    rows = client.query(sql).result_rows
    return str(rows[0][0]) if rows else None


def _example(client: QueryClient, worker_urls: Sequence[str], code: str) -> Tracking:
    history = read_history(client, code)
    live: LiveState | None = None
    try:
        live = read_live(worker_urls, code)
        live_source = Source(True, f"worker {live.worker}")
    except EndpointError as error:
        live_source = Source(False, str(error))
    return assemble(code, live, history, live_source, Source(True, client.via))
