"""One shipment as the tracking service, ``tracecode track`` and the demo show it: status,
verdict and timeline.

Two sources, each optional:

- the **live state** from a worker's web view (``GET /shipments/{code}``, routed by Faust to
  the worker that owns the code): the current status, the dispatch, the clone rules met;
- the **history** in ClickHouse (through the sink's query path): every accepted event, the
  alerts with their evidence, the last stored status.

The verdict: *suspicious* when a suspected-clone rule fired (the alerts are the evidence);
*unknown* when no seller dispatched the code (scanned only) or nothing ever mentioned it;
*genuine* when a seller dispatched it and no clone rule fired.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, Protocol

from clickhouse_connect.driver.exceptions import ClickHouseError

from api.live import WorkerUnavailableError, get_shipment

logger = logging.getLogger(__name__)

TIMELINE_SQL = """
SELECT
    event_id, kind, event_time, event_utc_offset_minutes, carrier, tracking_number,
    event_status, event_sub_status, facility_id, city, country, raw_event_code,
    raw_description, late, seller_id, seller_verified, origin_city, origin_country,
    event_id IN (
        SELECT retracts_event_id FROM shipment_events
        WHERE code = {code:String} AND kind = 'RETRACTION'
    ) AS retracted
FROM shipment_events
WHERE code = {code:String}
ORDER BY event_time, event_id
"""

ALERTS_SQL = """
SELECT alert_id, kind, rule, severity, detected_at, message, evidence
FROM alerts
WHERE code = {code:String}
ORDER BY detected_at, alert_id
"""

STATE_SQL = """
SELECT status, sub_status, changed_at, carrier, tracking_number, facility_id, city, country,
       version
FROM shipment_state FINAL
WHERE code = {code:String}
"""

CLONE = "SUSPECTED_CLONE"
_RETRY_UNAVAILABLE_S = 5.0


class HistoryUnavailableError(Exception):
    """The history cannot be opened; the message says what to start or fix."""


class QueryResult(Protocol):
    def named_results(self) -> Iterable[Mapping[str, Any]]: ...


class HistoryStore(Protocol):
    """A read-only ClickHouse connection (clickhouse-connect's client, or one that wraps it)."""

    via: str
    """How it reaches the store, for people."""

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> QueryResult: ...

    def __enter__(self) -> HistoryStore: ...

    def __exit__(self, *exc: object) -> None: ...


class VerdictKind(StrEnum):
    """Whether the code looks like a genuine product's."""

    GENUINE = "genuine"
    SUSPICIOUS = "suspicious"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One accepted event of a shipment, as stored in ``shipment_events``."""

    event_id: str
    kind: str
    """SCAN, DISPATCH or RETRACTION."""
    time: datetime
    """Event time in the UTC offset of the place it happened."""
    carrier: str | None
    tracking_number: str | None
    status: str | None
    sub_status: str | None
    facility_id: str | None
    city: str | None
    country: str | None
    raw_event_code: str | None
    description: str | None
    late: bool
    """Arrived after a later event of the same shipment (folded in where it belongs)."""
    retracted: bool
    """Declared erroneous by a later retraction (EPCIS errorDeclaration)."""
    seller_id: str | None = None
    """The seller, on a dispatch."""
    seller_verified: bool | None = None

    def place(self) -> str:
        """City and country, for people."""
        return ", ".join(part for part in (self.city, self.country) if part) or "-"

    def to_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "kind": self.kind,
            "time": self.time.isoformat(),
            "time_utc": self.time.astimezone(UTC).isoformat(),
            "carrier": self.carrier,
            "tracking_number": self.tracking_number,
            "status": self.status,
            "sub_status": self.sub_status,
            "location": {
                "facility_id": self.facility_id,
                "city": self.city,
                "country": self.country,
            },
            "raw_event_code": self.raw_event_code,
            "description": self.description,
            "late": self.late,
            "retracted": self.retracted,
            "seller_id": self.seller_id,
            "seller_verified": self.seller_verified,
        }


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert of a shipment, with its evidence (the events the rule looked at)."""

    alert_id: str
    kind: str
    rule: str
    severity: str
    detected_at: datetime
    message: str
    evidence: tuple[Mapping[str, Any], ...]
    code: str | None = None
    """The shipment's code, in lists of several shipments' alerts."""

    def to_json(self) -> dict[str, Any]:
        return {
            **({"code": self.code} if self.code is not None else {}),
            "alert_id": self.alert_id,
            "kind": self.kind,
            "rule": self.rule,
            "severity": self.severity,
            "detected_at": self.detected_at.isoformat(),
            "message": self.message,
            "evidence": [dict(event) for event in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class CurrentStatus:
    """Where the shipment stands."""

    status: str
    sub_status: str
    carrier: str | None
    tracking_number: str | None
    city: str | None
    country: str | None
    source: str
    """``live`` (a worker's table) or ``history`` (ClickHouse, as of the last stored change)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "sub_status": self.sub_status,
            "carrier": self.carrier,
            "tracking_number": self.tracking_number,
            "location": {"city": self.city, "country": self.country},
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """Genuine, suspicious (with the clone alerts as evidence) or unknown, and why."""

    kind: VerdictKind
    reason: str
    evidence: tuple[Alert, ...] = ()
    rules: tuple[str, ...] = ()
    """The suspected-clone rules met (``ShipmentAlert.rule``), when suspicious."""

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.kind.value,
            "reason": self.reason,
            "evidence": [alert.to_json() for alert in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class Source:
    """How one source answered: ``ok`` with where from, or why not."""

    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class LiveState:
    """The web view's answer: the state (None: the worker does not know the code)."""

    state: Mapping[str, Any] | None
    worker: str


@dataclass(frozen=True, slots=True)
class History:
    """What ClickHouse holds about a code."""

    timeline: tuple[TimelineEntry, ...]
    alerts: tuple[Alert, ...]
    state: Mapping[str, Any] | None
    """The last stored status change (``shipment_state FINAL``)."""


@dataclass(frozen=True, slots=True)
class Tracking:
    """Everything ``tracecode track`` shows about one code."""

    code: str
    status: CurrentStatus | None
    verdict: Verdict
    alerts: tuple[Alert, ...]
    timeline: tuple[TimelineEntry, ...]
    live: Source
    history: Source
    dispatch: Mapping[str, Any] | None = field(default=None)
    """Seller, order and lane of the dispatch, when one is known."""

    @property
    def seen(self) -> bool:
        """Whether any source knows the code."""
        return self.status is not None or bool(self.timeline)

    def to_json(self) -> dict[str, Any]:
        """The documented ``--json`` shape (docs/track.md); ``version`` changes with it."""
        return {
            "version": 1,
            "code": self.code,
            "found": self.seen,
            "status": self.status.to_json() if self.status else None,
            "verdict": self.verdict.to_json(),
            "dispatch": dict(self.dispatch) if self.dispatch else None,
            "alerts": [alert.to_json() for alert in self.alerts],
            "timeline": [entry.to_json() for entry in self.timeline],
            "sources": {"live": self.live.to_json(), "history": self.history.to_json()},
        }


def track(code: str, web_urls: Sequence[str], open_history: Callable[[], HistoryStore]) -> Tracking:
    """Ask both sources about ``code`` (canonical); a source that cannot answer is noted in
    :attr:`Tracking.live` / :attr:`Tracking.history` with what to start."""
    live: LiveState | None = None
    try:
        live = read_live(web_urls, code)
        live_source = Source(True, f"worker {live.worker}")
    except WorkerUnavailableError as error:
        live_source = Source(
            False, f"no worker answered ({error}); start one with `tracecode worker`"
        )
    history: History | None = None
    try:
        with open_history() as client:
            history = read_history(client, code)
            history_source = Source(True, client.via)
    except HistoryUnavailableError as error:
        history_source = Source(False, str(error))
    except ClickHouseError as error:
        history_source = Source(
            False,
            f"the history cannot be read ({_first_line(error)}); is the schema there? "
            "start the sink (`tracecode sink`), which creates it",
        )
    except OSError as error:
        history_source = Source(False, f"ClickHouse did not answer: {error}")
    return assemble(code, live, history, live_source, history_source)


RECENT_ALERTS_SQL = """
SELECT alert_id, code, kind, rule, severity, detected_at, message, evidence
FROM alerts
WHERE ({kind:Nullable(String)} IS NULL OR kind = {kind:Nullable(String)})
    AND detected_at >= {since:DateTime64(3, 'UTC')}
ORDER BY detected_at DESC, alert_id
LIMIT {limit:UInt32}
"""


def recent_alerts(
    client: HistoryStore, kind: str | None, since: datetime | None, limit: int
) -> list[Alert]:
    """The newest ``limit`` alerts (of ``kind``, detected at or after ``since``)."""
    params = {
        "kind": kind,
        "since": since or datetime(1970, 1, 1, tzinfo=UTC),
        "limit": limit,
    }
    return [_alert(row) for row in client.query(RECENT_ALERTS_SQL, params).named_results()]


def read_history(client: HistoryStore, code: str) -> History:
    """The timeline, alerts and stored state of ``code`` (canonical)."""
    params = {"code": code}
    timeline = tuple(_entry(row) for row in client.query(TIMELINE_SQL, params).named_results())
    alerts = tuple(_alert(row) for row in client.query(ALERTS_SQL, params).named_results())
    states = list(client.query(STATE_SQL, params).named_results())
    return History(timeline, alerts, states[0] if states else None)


def read_live(web_urls: Sequence[str], code: str) -> LiveState:
    """The state of ``code`` from the first worker that answers for it.

    Raises :class:`~api.live.WorkerUnavailableError` when no worker can answer (none runs, or
    every one says the code's partition is moving, even after a short wait).
    """
    if not web_urls:
        raise WorkerUnavailableError("no worker web view to ask")
    deadline = time.monotonic() + _RETRY_UNAVAILABLE_S
    problems: list[str] = []
    while True:
        for url in web_urls:
            try:
                status, body, worker = get_shipment(url, code)
            except WorkerUnavailableError as error:
                problems.append(str(error))
                continue
            if status == 200 and isinstance(body, dict):
                return LiveState(body, worker)
            if status == 404:
                return LiveState(None, worker)
            problems.append(f"{url}: HTTP {status} {_error_text(body)}")
        # 503 while partitions move between workers: it says to retry.
        if time.monotonic() >= deadline or not any("HTTP 503" in p for p in problems):
            raise WorkerUnavailableError("; ".join(dict.fromkeys(problems)))
        problems.clear()
        time.sleep(0.5)


def assemble(
    code: str,
    live: LiveState | None,
    history: History | None,
    live_source: Source,
    history_source: Source,
) -> Tracking:
    """Combine what the sources said into status, verdict and timeline."""
    state = live.state if live else None
    timeline = history.timeline if history else ()
    alerts = history.alerts if history else ()
    status = None
    if state is not None:
        status = _current_status(state, state.get("location") or {}, "live")
    elif history is not None and history.state is not None:
        status = _current_status(history.state, history.state, "history")
    dispatch = _dispatch(state, timeline)
    clone_rules = list(state.get("clone_rules") or []) if state else []
    return Tracking(
        code=code,
        status=status,
        verdict=judge(
            seen=status is not None or bool(timeline),
            dispatch=dispatch,
            clone_alerts=[a for a in alerts if a.kind == CLONE],
            clone_rules=clone_rules,
            scans=_scan_count(state, timeline),
        ),
        alerts=alerts,
        timeline=timeline,
        live=live_source,
        history=history_source,
        dispatch=dispatch,
    )


def _current_status(
    state: Mapping[str, Any], place: Mapping[str, Any], source: str
) -> CurrentStatus:
    """The status in a worker's state or the stored row; ``place`` holds city and country."""
    return CurrentStatus(
        status=str(state["status"]),
        sub_status=str(state["sub_status"]),
        carrier=state.get("carrier"),
        tracking_number=state.get("tracking_number"),
        city=place.get("city"),
        country=place.get("country"),
        source=source,
    )


def judge(
    *,
    seen: bool,
    dispatch: Mapping[str, Any] | None,
    clone_alerts: Sequence[Alert],
    clone_rules: Sequence[str],
    scans: int,
) -> Verdict:
    """The verdict on a code from what is known about it."""
    if not seen:
        return Verdict(VerdictKind.UNKNOWN, "tracecode has never seen this code")
    if clone_alerts or clone_rules:
        if clone_alerts:
            reason = f"suspected clone: {clone_alerts[0].message}"
        else:
            reason = f"suspected clone: rules met: {', '.join(clone_rules)}"
        rules = dict.fromkeys([*(alert.rule for alert in clone_alerts), *clone_rules])
        return Verdict(VerdictKind.SUSPICIOUS, reason, tuple(clone_alerts), tuple(rules))
    if dispatch is None:
        return Verdict(
            VerdictKind.UNKNOWN,
            f"scanned {scans} time{'s' if scans != 1 else ''}, but no seller dispatched this code",
        )
    seller = dispatch.get("seller_id") or "unknown seller"
    verified = "verified" if dispatch.get("seller_verified") else "not verified"
    return Verdict(
        VerdictKind.GENUINE,
        f"dispatched by seller {seller} ({verified}); no suspected-clone rule met",
    )


def _dispatch(
    state: Mapping[str, Any] | None, timeline: Sequence[TimelineEntry]
) -> dict[str, Any] | None:
    if state is not None and state.get("dispatch"):
        dispatch = state["dispatch"]
        return {
            "seller_id": dispatch.get("seller_id"),
            "seller_verified": dispatch.get("seller_verified"),
            "order_id": dispatch.get("order_id"),
            "dispatched_at": dispatch.get("dispatch_time"),
            "origin": (dispatch.get("origin") or {}).get("country"),
            "destination": (dispatch.get("destination") or {}).get("country"),
        }
    for entry in timeline:
        if entry.kind == "DISPATCH" and not entry.retracted:
            return {
                "seller_id": entry.seller_id,
                "seller_verified": entry.seller_verified,
                "order_id": None,
                "dispatched_at": entry.time.isoformat(),
                "origin": entry.country,
                "destination": None,
            }
    return None


def _scan_count(state: Mapping[str, Any] | None, timeline: Sequence[TimelineEntry]) -> int:
    if state is not None and state.get("scan_count") is not None:
        return int(state["scan_count"])
    return sum(1 for entry in timeline if entry.kind == "SCAN" and not entry.retracted)


def _entry(row: Mapping[str, Any]) -> TimelineEntry:
    offset = timezone(timedelta(minutes=int(row["event_utc_offset_minutes"])))
    dispatch = row["kind"] == "DISPATCH"
    return TimelineEntry(
        event_id=row["event_id"],
        kind=row["kind"],
        time=row["event_time"].astimezone(offset),
        carrier=row["carrier"],
        tracking_number=row["tracking_number"],
        status=row["event_status"],
        sub_status=row["event_sub_status"],
        facility_id=row["facility_id"],
        # A dispatch has no scan location: it happens at the seller's, in the origin city.
        city=row["origin_city"] if dispatch and not row["city"] else row["city"],
        country=row["origin_country"] if dispatch and not row["country"] else row["country"],
        raw_event_code=row["raw_event_code"],
        description=row["raw_description"],
        late=bool(row["late"]),
        retracted=bool(row["retracted"]),
        seller_id=row["seller_id"] if dispatch else None,
        seller_verified=row["seller_verified"] if dispatch else None,
    )


def _alert(row: Mapping[str, Any]) -> Alert:
    try:
        evidence = json.loads(row["evidence"]) if row["evidence"] else []
    except ValueError:
        evidence = []
    return Alert(
        code=row.get("code"),
        alert_id=row["alert_id"],
        kind=row["kind"],
        rule=row["rule"],
        severity=row["severity"],
        detected_at=row["detected_at"],
        message=row["message"],
        evidence=tuple(evidence),
    )


def _first_line(error: Exception) -> str:
    text = str(error)
    start = text.find("Code: ")
    return (text[start:] if start >= 0 else text).strip().splitlines()[0]


def _error_text(body: Any) -> str:
    if isinstance(body, dict) and "error" in body:
        return str(body["error"])
    return str(body or "")[:200]
