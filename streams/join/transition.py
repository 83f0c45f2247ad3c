"""The join as pure functions: a shipment's state after one more input event.

Faust has no join operator; the worker keeps one :class:`~schemas.records.ShipmentState` per
canonical code and folds every scan and dispatch into it with :func:`apply`. Time-based rules
(stalled, dispatch SLA, unknown code, expiry) run in :func:`tick` when the partition's stream
time passes :func:`next_due`. Nothing here touches Kafka, a clock or a store: wall-clock time is
an argument, so the worker, the tests and the reference checks all run the same code.

Semantics (docs/architecture.md, "The join"):

- Either side may come first. A dispatch enriches whatever scans are already there.
- The derived fields (status, sub-status, carrier, location, times, clone findings) are a
  function of the *set* of events kept, folded in ``(event_time, event_id)`` order, so any
  arrival order gives the state that replaying the events sorted by event time gives.
- An event whose id was already applied changes nothing (:attr:`Outcome.DUPLICATE`).
- Memory per code is bounded: at most :attr:`Rules.max_scans` scans are kept; older ones are
  folded into ``evicted`` and a scan older than the newest evicted one arrives too late to be
  applied (:attr:`Outcome.TOO_LATE`). Id lists are capped too.
- Outputs: a history record per applied event, a status change whenever status or sub-status
  changes (with a version that increases per code), and alerts, each emitted once per alert id.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from operator import itemgetter
from typing import Final, NamedTuple, cast

from schemas.records import (
    AlertEvidence,
    CarrierScan,
    Location,
    ScanFold,
    SellerDispatch,
    ShipmentAlert,
    ShipmentHistoryRecord,
    ShipmentState,
    ShipmentStatusChanged,
)
from schemas.status import STATUS_OF, TERMINAL, Status, SubStatus, advance

InputEvent = CarrierScan | SellerDispatch


class Outcome(StrEnum):
    """What applying an event did."""

    APPLIED = "applied"
    """The event changed the state; a history record was produced."""
    DUPLICATE = "duplicate"
    """An event with this id was already applied: nothing changed."""
    TOO_LATE = "too_late"
    """Older than the scans already evicted by the cap: it can no longer be folded in."""
    RETRACTED = "retracted"
    """The event was declared erroneous before (EPCIS errorDeclaration): it is not applied."""
    UNCHANGED = "unchanged"
    """A tick found nothing due."""
    FORGOTTEN = "forgotten"
    """A tick left the shipment idle past ``Rules.forget_after`` with no rule to fire: its state
    is to be deleted (the alerts and status change that fired in the same tick still go out)."""


class CloneRule(StrEnum):
    """The suspected-clone rules (``ShipmentAlert.rule`` for ``SUSPECTED_CLONE``)."""

    IMPOSSIBLE_SPEED = "impossible_speed"
    SCAN_AFTER_DELIVERY = "scan_after_delivery"
    MULTIPLE_TRACKING_NUMBERS = "multiple_tracking_numbers"


@dataclass(frozen=True, slots=True)
class Rules:
    """Limits and thresholds of the join; the worker's config carries one."""

    max_scans: int = 64
    """Scans kept per code; older ones are folded into ``evicted``."""
    max_remembered_ids: int = 32
    """Cap of each id list in the state (dispatch ids, retracted ids, alert ids)."""
    max_tracking_numbers: int = 16
    """Cap of distinct carrier/tracking-number pairs remembered per code."""
    clone_speed_kmh: float = 1000.0
    """A parcel moving faster than this between two scans is in two places at once."""
    clone_min_distance_km: float = 500.0
    """Below this distance, fast moves are taken for coordinate noise, not clones."""
    stall_after: timedelta = timedelta(hours=72)
    """An in-transit parcel with no scan for this long is stalled."""
    dispatch_sla: timedelta = timedelta(hours=48)
    """A dispatch with no physical scan for this long breaches the SLA (unless the dispatch
    promises its own ship-by time)."""
    unknown_code_grace: timedelta = timedelta(hours=24)
    """Scans of a code with no dispatch for this long make an unknown code."""
    expire_after: timedelta = timedelta(days=30)
    """A shipment with no event for this long expires."""
    forget_after: timedelta | None = timedelta(days=90)
    """A shipment with no event for this long, and no rule left to fire, is forgotten: its state
    leaves the table (its history stays in the sink). ``None`` keeps every state forever."""


class Transition:
    """The result of :func:`apply` or :func:`tick` (never changed once built).

    A plain class, not a dataclass: compiled by mypyc (setup.py), a dataclass keeps the
    ``__init__`` that :mod:`dataclasses` generates as Python code, which cost ~1% of the worker
    for each of this class, ``Step`` and the fold.
    """

    __slots__ = ("alerts", "history", "late", "outcome", "state", "status_change")

    def __init__(
        self,
        state: ShipmentState,
        outcome: Outcome,
        history: ShipmentHistoryRecord | None = None,
        status_change: ShipmentStatusChanged | None = None,
        alerts: tuple[ShipmentAlert, ...] = (),
        late: bool = False,
    ) -> None:
        self.state: Final = state
        self.outcome: Final = outcome
        self.history: Final = history
        self.status_change: Final = status_change
        self.alerts: Final = alerts
        self.late: Final = late
        """The event was applied out of order (an event with a later event time came
        before)."""

    def _fields(self) -> tuple[object, ...]:
        return (
            self.state,
            self.outcome,
            self.history,
            self.status_change,
            self.alerts,
            self.late,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Transition):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # equal by value, and holds dicts

    def __repr__(self) -> str:
        return f"Transition({self.state['code']!r}, {self.outcome.value}, late={self.late})"


class FoldCache:
    """The fold over the scans of recently changed states, by code (the most recent first).

    An entry is valid while the state's ``scans``, ``evicted`` and ``dispatch`` are the very
    objects it was folded from: transitions never change those in place, they build new ones,
    so an identity check tells whether the fold still describes the state.
    """

    __slots__ = ("_capacity", "_folds")

    def __init__(self, capacity: int = 8192) -> None:
        self._capacity = capacity
        self._folds: dict[str, tuple[object, object, object, _Fold]] = {}

    def get(self, state: ShipmentState) -> _Fold | None:
        """The fold over ``state``'s scans, if it was remembered for these very scans."""
        entry = self._folds.get(state["code"])
        if entry is None:
            return None
        scans, evicted, dispatch, fold = entry
        if (
            scans is state["scans"]
            and evicted is state["evicted"]
            and dispatch is state["dispatch"]
        ):
            return fold
        return None

    def put(self, state: ShipmentState, fold: _Fold) -> None:
        """Remember ``fold`` as the fold over ``state``'s scans."""
        folds = self._folds
        folds.pop(state["code"], None)
        folds[state["code"]] = (state["scans"], state["evicted"], state["dispatch"], fold)
        if len(folds) > self._capacity:
            del folds[next(iter(folds))]


STALLABLE = frozenset({Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY})
"""Statuses in which a parcel is expected to keep moving."""

_STATUS = {status.value: status for status in Status}
_SUB_STATUS = {sub.value: sub for sub in SubStatus}
"""The members by value: a dict lookup where ``Status(value)`` costs an enum call per event."""
_VALUES = {sub: (STATUS_OF[sub].value, sub.value) for sub in SubStatus}
"""The status and sub-status values a state holds for a sub-status (an enum member's
``.value`` is a property call)."""
_UNKNOWN = _VALUES[SubStatus.UNKNOWN]
_LABEL_CREATED = SubStatus.LABEL_CREATED.value
_EVENT_ID = itemgetter("event_id")

_NOT_AFTER_DELIVERY_SIGNALS = frozenset(
    {sub for sub, status in STATUS_OF.items() if status is Status.DELIVERED}
    | {SubStatus.LABEL_CREATED}
)
"""Scans that may follow a delivery without hinting at a clone (repeated proof of delivery,
late electronic data)."""

_MIN_HOURS = 1 / 60
"""Speeds are computed over at least a minute, so equal timestamps give a finite speed."""


def apply(
    state: ShipmentState | None,
    event: InputEvent,
    rules: Rules,
    now: datetime,
    folds: FoldCache | None = None,
) -> Transition:
    """Fold one scan or dispatch into ``state`` (``None`` for a code never seen).

    ``folds`` remembers the fold over each state's scans, so that an in-order scan extends it
    instead of folding every kept scan again; the result is the same with or without it.
    """
    if "dispatch_time" in event:
        return apply_dispatch(state, cast(SellerDispatch, event), rules, now)
    return apply_scan(state, event, rules, now, folds)


def apply_scan(
    state: ShipmentState | None,
    scan: CarrierScan,
    rules: Rules,
    now: datetime,
    folds: FoldCache | None = None,
) -> Transition:
    """Fold one carrier scan (or retraction) into ``state``."""
    old = state if state is not None else new_state(scan["code"], now)
    if scan.get("retracts_event_id"):
        return _apply_retraction(state, old, scan, rules, now)
    event_id = scan["event_id"]
    if event_id in old["retracted_event_ids"]:
        return Transition(old, Outcome.RETRACTED)
    if event_id in map(_EVENT_ID, old["scans"]):
        return Transition(old, Outcome.DUPLICATE)
    evicted = old["evicted"]
    if evicted is not None and _scan_key(scan) <= (
        evicted["last_event_time"],
        evicted["last_event_id"],
    ):
        same = event_id == evicted["last_event_id"]
        return Transition(old, Outcome.DUPLICATE if same else Outcome.TOO_LATE)

    scans = _insert_sorted(old["scans"], scan)
    while len(scans) > rules.max_scans:
        evicted = _evict(evicted, scans.pop(0), old["dispatch"], rules)
    new = dict(old)
    new["scans"] = scans
    new["evicted"] = evicted
    extends = None
    if folds is not None and scans[-1] is scan and evicted is old["evicted"]:
        # The latest scan so far and nothing evicted: the fold of the old scans plus this one.
        base = folds.get(old)
        if base is not None:
            extends = base.extended(scan, rules)
    return _finish(state, cast(ShipmentState, new), scan, "SCAN", rules, now, folds, extends)


def apply_dispatch(
    state: ShipmentState | None, dispatch: SellerDispatch, rules: Rules, now: datetime
) -> Transition:
    """Fold one seller dispatch into ``state``.

    When several dispatches arrive for one code, the latest by ``(dispatch_time, event_id)``
    is kept; every one of them is applied once (and recorded in the history).
    """
    old = state if state is not None else new_state(dispatch["code"], now)
    event_id = dispatch["event_id"]
    if event_id in old["dispatch_event_ids"]:
        return Transition(old, Outcome.DUPLICATE)
    new = dict(old)
    current = old["dispatch"]
    if current is None or _dispatch_key(dispatch) > _dispatch_key(current):
        new["dispatch"] = dispatch
    new["dispatch_event_ids"] = _capped(
        [*old["dispatch_event_ids"], event_id], rules.max_remembered_ids
    )
    return _finish(state, cast(ShipmentState, new), dispatch, "DISPATCH", rules, now)


def _apply_retraction(
    state: ShipmentState | None,
    old: ShipmentState,
    retraction: CarrierScan,
    rules: Rules,
    now: datetime,
) -> Transition:
    retracted = retraction["retracts_event_id"]
    assert retracted is not None
    if retracted in old["retracted_event_ids"]:
        return Transition(old, Outcome.DUPLICATE)
    new = dict(old)
    new["scans"] = [scan for scan in old["scans"] if scan["event_id"] != retracted]
    new["retracted_event_ids"] = _capped(
        [*old["retracted_event_ids"], retracted], rules.max_remembered_ids
    )
    return _finish(state, cast(ShipmentState, new), retraction, "RETRACTION", rules, now)


def new_state(code: str, now: datetime) -> ShipmentState:
    """The state of a code before any event."""
    return {
        "code": code,
        "dispatch": None,
        "dispatch_event_ids": [],
        "scans": [],
        "evicted": None,
        "retracted_event_ids": [],
        "status": Status.UNKNOWN.value,
        "sub_status": SubStatus.UNKNOWN.value,
        "status_version": 0,
        "carrier": None,
        "tracking_number": None,
        "location": None,
        "first_scan_at": None,
        "last_scan_at": None,
        "delivered_at": None,
        "scan_count": 0,
        "tracking_numbers": [],
        "clone_rules": [],
        "last_event_time": None,
        "expired_at": None,
        "alerted": [],
        "updated_at": now,
    }


def _finish(
    previous: ShipmentState | None,
    state: ShipmentState,
    event: InputEvent,
    kind: str,
    rules: Rules,
    now: datetime,
    folds: FoldCache | None = None,
    fold: _Fold | None = None,
) -> Transition:
    """Recompute the derived fields after an event and build the outputs (``fold``: the fold
    over the state's scans, when already known)."""
    event_time = _event_time(event)
    last = state["last_event_time"]
    late = last is not None and event_time < last
    if last is None or event_time > last:
        state["last_event_time"] = event_time
    fold = _derive(state, rules, fold)
    if folds is not None:
        folds.put(state, fold)
    state["updated_at"] = now

    status_change = _status_change(previous, state, event_time, event["event_id"], now)
    alerts = _clone_alerts(state, fold, rules, now)
    history = _history(state, event, kind, late, now)
    return Transition(state, Outcome.APPLIED, history, status_change, alerts, late)


@dataclass(slots=True)
class _Finding:
    rule: CloneRule
    evidence: list[AlertEvidence]
    detected_at: datetime
    message: str
    metrics: dict[str, float] = field(default_factory=dict)


class _Fold:
    """Running fold over scans in event-time order (what ``ScanFold`` persists)."""

    __slots__ = (
        "delivered_at",
        "delivered_scan",
        "findings",
        "first_scan_at",
        "last_scan",
        "scan_count",
        "sub_status",
        "tracking",
    )

    def __init__(
        self,
        sub_status: SubStatus | None,
        first_scan_at: datetime | None = None,
        delivered_at: datetime | None = None,
        delivered_scan: CarrierScan | None = None,
        last_scan: CarrierScan | None = None,
        tracking: dict[str, AlertEvidence | None] | None = None,
        findings: dict[CloneRule, _Finding | None] | None = None,
        scan_count: int = 0,
    ) -> None:
        self.sub_status = sub_status
        self.first_scan_at = first_scan_at
        self.delivered_at = delivered_at
        self.delivered_scan = delivered_scan
        self.last_scan = last_scan
        self.tracking: dict[str, AlertEvidence | None] = {} if tracking is None else tracking
        self.findings: dict[CloneRule, _Finding | None] = {} if findings is None else findings
        self.scan_count = scan_count

    @classmethod
    def start(cls, evicted: ScanFold | None, dispatch: SellerDispatch | None) -> _Fold:
        if evicted is None:
            fold = cls(SubStatus.DISPATCHED if dispatch is not None else None)
        else:
            sub = evicted["sub_status"]
            fold = cls(
                SubStatus(sub) if sub is not None else None,
                first_scan_at=evicted["first_scan_at"],
                delivered_at=evicted["delivered_at"],
                last_scan=evicted["last_scan"],
                tracking=dict.fromkeys(evicted["tracking_numbers"]),
                findings=dict.fromkeys(CloneRule(rule) for rule in evicted["clone_rules"]),
                scan_count=evicted["scan_count"],
            )
        if dispatch is not None and dispatch["carrier"] and dispatch["tracking_number"]:
            pair = f"{dispatch['carrier']}|{dispatch['tracking_number']}"
            fold.tracking.setdefault(pair, _dispatch_evidence(dispatch))
        return fold

    def extended(self, scan: CarrierScan, rules: Rules) -> _Fold:
        """A new fold: this one with ``scan`` added (this one is left as it is)."""
        fold = _Fold(
            self.sub_status,
            self.first_scan_at,
            self.delivered_at,
            self.delivered_scan,
            self.last_scan,
            dict(self.tracking),
            dict(self.findings),
            self.scan_count,
        )
        fold.add(scan, rules)
        return fold

    def add(self, scan: CarrierScan, rules: Rules) -> None:
        previous = self.last_scan
        reported = _SUB_STATUS[scan["sub_status"]]
        if self.delivered_at is not None and reported not in _NOT_AFTER_DELIVERY_SIGNALS:
            delivered = [self.delivered_scan] if self.delivered_scan is not None else []
            self._find(
                CloneRule.SCAN_AFTER_DELIVERY,
                [_scan_evidence(s) for s in (*delivered, scan)],
                scan["event_time"],
                f"scanned ({reported.value.lower()}) after it was delivered",
            )
        if previous is not None:
            self._check_speed(previous, scan, rules)
        self._check_tracking(scan)

        self.sub_status = advance(self.sub_status, reported)
        if self.first_scan_at is None:
            self.first_scan_at = scan["event_time"]
        if self.delivered_at is None and STATUS_OF[self.sub_status] is Status.DELIVERED:
            self.delivered_at = scan["event_time"]
            self.delivered_scan = scan
        self.last_scan = scan
        self.scan_count += 1

    def _check_speed(self, previous: CarrierScan, scan: CarrierScan, rules: Rules) -> None:
        distance = distance_km(previous["location"], scan["location"])
        if distance is None or distance < rules.clone_min_distance_km:
            return
        hours = (scan["event_time"] - previous["event_time"]).total_seconds() / 3600
        speed = distance / max(hours, _MIN_HOURS)
        if speed <= rules.clone_speed_kmh:
            return
        self._find(
            CloneRule.IMPOSSIBLE_SPEED,
            [_scan_evidence(previous), _scan_evidence(scan)],
            scan["event_time"],
            f"scanned in {_place(previous['location'])} then in {_place(scan['location'])} "
            f"{hours:.1f} h later: {distance:.0f} km at {speed:.0f} km/h",
            {"distance_km": round(distance, 1), "hours": round(hours, 3), "speed_kmh": speed},
        )

    def _check_tracking(self, scan: CarrierScan) -> None:
        number = scan["tracking_number"]
        if not number:
            return
        pair = f"{scan['carrier']}|{number}"
        if pair in self.tracking:
            return
        same_carrier = [
            known for known in self.tracking if known.split("|", 1)[0] == scan["carrier"]
        ]
        self.tracking[pair] = _scan_evidence(scan)
        if same_carrier:
            earlier = self.tracking[same_carrier[0]]
            evidence = [e for e in (earlier, _scan_evidence(scan)) if e is not None]
            self._find(
                CloneRule.MULTIPLE_TRACKING_NUMBERS,
                evidence,
                scan["event_time"],
                f"{scan['carrier']} reports tracking number {number} besides "
                f"{same_carrier[0].split('|', 1)[1]}",
            )

    def _find(
        self,
        rule: CloneRule,
        evidence: list[AlertEvidence],
        detected_at: datetime,
        message: str,
        metrics: dict[str, float] | None = None,
    ) -> None:
        # The first finding in event-time order is the one reported, whatever the arrival order.
        if rule not in self.findings:
            self.findings[rule] = _Finding(rule, evidence, detected_at, message, metrics or {})

    def persist(self, scan: CarrierScan, rules: Rules) -> ScanFold:
        assert self.first_scan_at is not None
        return {
            "last_event_time": scan["event_time"],
            "last_event_id": scan["event_id"],
            "last_scan": scan,
            "sub_status": self.sub_status.value if self.sub_status is not None else None,
            "first_scan_at": self.first_scan_at,
            "delivered_at": self.delivered_at,
            "tracking_numbers": _capped(list(self.tracking), rules.max_tracking_numbers),
            "clone_rules": sorted(rule.value for rule in self.findings),
            "scan_count": self.scan_count,
        }


def _evict(
    evicted: ScanFold | None, scan: CarrierScan, dispatch: SellerDispatch | None, rules: Rules
) -> ScanFold:
    fold = _Fold.start(evicted, dispatch)
    fold.add(scan, rules)
    return fold.persist(scan, rules)


def _derive(state: ShipmentState, rules: Rules, fold: _Fold | None = None) -> _Fold:
    """Recompute the derived fields of ``state`` in place (from ``fold``, the fold over its
    scans, when it is known); return the fold for the alerts."""
    dispatch = state["dispatch"]
    if fold is None:
        fold = _Fold.start(state["evicted"], dispatch)
        for scan in state["scans"]:
            fold.add(scan, rules)

    sub = fold.sub_status
    if sub is None:
        sub = SubStatus.UNKNOWN
    latest = _latest_event_time(state)
    expired_at = state["expired_at"]
    if expired_at is not None and latest is not None and latest <= expired_at:
        sub = SubStatus.NO_UPDATES
    state["status"], state["sub_status"] = _VALUES[sub]

    last_scan = fold.last_scan
    state["carrier"] = (
        last_scan["carrier"] if last_scan else (dispatch["carrier"] if dispatch else None)
    )
    state["tracking_number"] = _latest_tracking_number(state)
    state["location"] = last_scan["location"] if last_scan else None
    state["first_scan_at"] = fold.first_scan_at
    state["last_scan_at"] = last_scan["event_time"] if last_scan else None
    state["delivered_at"] = fold.delivered_at
    state["scan_count"] = fold.scan_count
    state["tracking_numbers"] = _capped(sorted(fold.tracking), rules.max_tracking_numbers)
    state["clone_rules"] = sorted(rule.value for rule in fold.findings)
    return fold


def tick(state: ShipmentState, stream_time: datetime, rules: Rules, now: datetime) -> Transition:
    """Run the time-based rules for ``state`` at ``stream_time`` (the partition's event time).

    Alerts carry the time their condition became true, not ``stream_time``, so the same input
    gives the same alerts however late the tick runs.
    """
    new = cast(ShipmentState, dict(state))
    alerts: list[ShipmentAlert] = []
    status_change = None
    for due in _due_alerts(state, rules):
        if due.detected_at <= stream_time and due.alert_id not in state["alerted"]:
            alerts.append({**_build_alert(state, due, rules), "emitted_at": now})

    expiry = _expiry_due(state, rules)
    if expiry is not None and expiry <= stream_time:
        new["expired_at"] = expiry
        _derive(new, rules)
        status_change = _status_change(state, new, expiry, None, now)

    outcome = Outcome.APPLIED
    if not alerts and status_change is None:
        new, outcome = state, Outcome.UNCHANGED
    else:
        new["alerted"] = _capped(
            [*state["alerted"], *(alert["alert_id"] for alert in alerts)], rules.max_remembered_ids
        )
        new["updated_at"] = now
    forget = _forget_at(new, rules)
    if forget is not None and forget <= stream_time and _pending_due(new, rules) is None:
        # What fired just now still goes out; only the state is dropped.
        outcome = Outcome.FORGOTTEN
    return Transition(new, outcome, None, status_change, tuple(alerts))


def next_due(state: ShipmentState, rules: Rules) -> datetime | None:
    """The earliest stream time at which :func:`tick` would change something, if any."""
    pending = _pending_due(state, rules)
    return pending if pending is not None else _forget_at(state, rules)


def _pending_due(state: ShipmentState, rules: Rules) -> datetime | None:
    """When the next alert or the expiry of ``state`` is due, if any."""
    alerted = state["alerted"]
    latest = _latest_event_time(state)
    if alerted:
        dues = [
            due.detected_at
            for due in _due_alerts(state, rules, latest)
            if due.alert_id not in alerted
        ]
    else:  # nothing fired yet: the alert ids (strings to build) are not needed
        dues = [due.detected_at for due in _due_alerts(state, rules, latest, with_ids=False)]
    expiry = _expiry_due(state, rules, latest)
    if expiry is not None:
        dues.append(expiry)
    return min(dues, default=None)


def _forget_at(state: ShipmentState, rules: Rules) -> datetime | None:
    """When ``state`` may be forgotten, once no alert or expiry is pending any more."""
    last = state["last_event_time"]
    if rules.forget_after is None or last is None:
        return None
    return last + rules.forget_after


def _expiry_due(
    state: ShipmentState, rules: Rules, latest: datetime | None = None
) -> datetime | None:
    sub = _SUB_STATUS[state["sub_status"]]
    if latest is None:
        latest = _latest_event_time(state)
    if latest is None or sub in TERMINAL or sub is SubStatus.NO_UPDATES:
        return None
    return latest + rules.expire_after


class _Due(NamedTuple):
    """A time-based alert that applies to a state: which one, its id and when it becomes due
    (built into an alert only when it fires: most are only looked at for their due time)."""

    kind: str
    alert_id: str
    detected_at: datetime


def _due_alerts(
    state: ShipmentState, rules: Rules, latest: datetime | None = None, with_ids: bool = True
) -> list[_Due]:
    """Time-based alerts that apply to ``state``, each with the time it becomes due (and its
    alert id, unless not ``with_ids``; ``latest``: the state's latest event time, if known)."""
    sub = _SUB_STATUS[state["sub_status"]]
    if sub in TERMINAL:
        return []
    code = state["code"]
    dispatch = state["dispatch"]
    scans = state["scans"]
    dues = []
    if _STATUS[state["status"]] in STALLABLE and scans:
        last = scans[-1]
        alert_id = f"{code}:STALLED:{last['event_id']}" if with_ids else ""
        dues.append(_Due("STALLED", alert_id, last["event_time"] + rules.stall_after))
    if (
        dispatch is not None
        and state["evicted"] is None
        and all(scan["sub_status"] == _LABEL_CREATED for scan in scans)
    ):
        promised = dispatch["promised_ship_by"]
        due = promised if promised is not None else dispatch["dispatch_time"] + rules.dispatch_sla
        alert_id = f"{code}:DISPATCH_SLA_BREACH" if with_ids else ""
        dues.append(_Due("DISPATCH_SLA_BREACH", alert_id, due))
    first = state["first_scan_at"]
    if dispatch is None and first is not None:
        alert_id = f"{code}:UNKNOWN_CODE" if with_ids else ""
        dues.append(_Due("UNKNOWN_CODE", alert_id, first + rules.unknown_code_grace))
    if latest is None:
        latest = _latest_event_time(state)
    if latest is not None and sub is not SubStatus.NO_UPDATES:
        alert_id = f"{code}:EXPIRED:{latest.isoformat()}" if with_ids else ""
        dues.append(_Due("EXPIRED", alert_id, latest + rules.expire_after))
    return dues


def _build_alert(state: ShipmentState, due: _Due, rules: Rules) -> ShipmentAlert:
    """The alert ``due`` stands for, with its message and evidence."""
    code, scans, dispatch = state["code"], state["scans"], state["dispatch"]
    common = {"code": code, "alert_id": due.alert_id, "kind": due.kind}
    if due.kind == "STALLED":
        last = scans[-1]
        return _alert(
            **common,
            rule="no_scan_for",
            severity="WARNING",
            detected_at=due.detected_at,
            message=f"no scan for {_hours(rules.stall_after)} h since {_place(last['location'])}",
            evidence=[_scan_evidence(last)],
            metrics={"hours_without_scan": rules.stall_after.total_seconds() / 3600},
        )
    if due.kind == "DISPATCH_SLA_BREACH":
        assert dispatch is not None
        promised = dispatch["promised_ship_by"]
        hours = (due.detected_at - dispatch["dispatch_time"]).total_seconds() / 3600
        return _alert(
            **common,
            rule="promised_ship_by" if promised is not None else "no_first_scan",
            severity="WARNING",
            detected_at=due.detected_at,
            message=(
                f"dispatched by seller {dispatch['seller_id']}, "
                f"no carrier scan by {due.detected_at:%Y-%m-%d %H:%M} UTC"
            ),
            evidence=[_dispatch_evidence(dispatch)],
            metrics={"hours_after_dispatch": hours},
        )
    if due.kind == "UNKNOWN_CODE":
        first = state["first_scan_at"]
        assert first is not None
        return _alert(
            **common,
            rule="no_dispatch",
            severity="CRITICAL",
            detected_at=due.detected_at,
            message=f"scanned since {first:%Y-%m-%d %H:%M} UTC but never dispatched by a seller",
            evidence=[_scan_evidence(scan) for scan in scans[:1]],
            metrics={"grace_hours": rules.unknown_code_grace.total_seconds() / 3600},
        )
    return _alert(
        **common,
        rule="no_updates",
        severity="INFO",
        detected_at=due.detected_at,
        message=f"no update for {rules.expire_after.days} days: tracking expired",
        evidence=[_scan_evidence(scan) for scan in scans[-1:]],
        metrics={"days_without_update": rules.expire_after.total_seconds() / 86400},
    )


def _clone_alerts(
    state: ShipmentState, fold: _Fold, rules: Rules, now: datetime
) -> tuple[ShipmentAlert, ...]:
    alerts = []
    for finding in fold.findings.values():
        if finding is None:
            continue
        alert_id = f"{state['code']}:SUSPECTED_CLONE:{finding.rule.value}"
        if alert_id in state["alerted"]:
            continue
        alert = _alert(
            code=state["code"],
            alert_id=alert_id,
            kind="SUSPECTED_CLONE",
            rule=finding.rule.value,
            severity="CRITICAL",
            detected_at=finding.detected_at,
            message=finding.message,
            evidence=finding.evidence,
            metrics=finding.metrics,
        )
        alert["emitted_at"] = now
        alerts.append(alert)
    if alerts:
        state["alerted"] = _capped(
            [*state["alerted"], *(alert["alert_id"] for alert in alerts)],
            rules.max_remembered_ids,
        )
    return tuple(alerts)


def _alert(
    *,
    code: str,
    alert_id: str,
    kind: str,
    rule: str,
    severity: str,
    detected_at: datetime,
    message: str,
    evidence: list[AlertEvidence],
    metrics: dict[str, float],
) -> ShipmentAlert:
    return {
        "alert_id": alert_id,
        "code": code,
        "kind": kind,
        "rule": rule,
        "severity": severity,
        "detected_at": detected_at,
        "emitted_at": detected_at,
        "message": message,
        "evidence": evidence,
        "metrics": metrics,
    }


def _status_change(
    previous: ShipmentState | None,
    state: ShipmentState,
    changed_at: datetime,
    cause_event_id: str | None,
    now: datetime,
) -> ShipmentStatusChanged | None:
    before = (previous["status"], previous["sub_status"]) if previous is not None else _UNKNOWN
    if before == (state["status"], state["sub_status"]):
        return None
    first = previous is None or previous["status_version"] == 0
    state["status_version"] += 1
    dispatch = state["dispatch"]
    return {
        "code": state["code"],
        "version": state["status_version"],
        "status": state["status"],
        "sub_status": state["sub_status"],
        "previous_status": None if first else before[0],
        "previous_sub_status": None if first else before[1],
        "changed_at": changed_at,
        "cause_event_id": cause_event_id,
        "emitted_at": now,
        "carrier": state["carrier"],
        "tracking_number": state["tracking_number"],
        "location": state["location"],
        "order_id": dispatch["order_id"] if dispatch else None,
        "seller_id": dispatch["seller_id"] if dispatch else None,
        "origin_country": dispatch["origin"]["country"] if dispatch else None,
        "destination_country": dispatch["destination"]["country"] if dispatch else None,
        "dispatched_at": dispatch["dispatch_time"] if dispatch else None,
        "first_scan_at": state["first_scan_at"],
        "delivered_at": state["delivered_at"],
        "promised_delivery": dispatch["promised_delivery"] if dispatch else None,
        "suspected_clone": bool(state["clone_rules"]),
    }


def _history(
    state: ShipmentState, event: InputEvent, kind: str, late: bool, now: datetime
) -> ShipmentHistoryRecord:
    dispatch = state["dispatch"]
    record: ShipmentHistoryRecord = {
        "event_id": event["event_id"],
        "code": state["code"],
        "kind": kind,
        "event_time": _event_time(event),
        "event_utc_offset_minutes": 0,
        "received_time": event["received_time"],
        "processed_time": now,
        "late": late,
        "source": event["source"],
        "carrier": event["carrier"],
        "tracking_number": event["tracking_number"],
        "raw_event_code": None,
        "raw_description": None,
        "event_status": None,
        "event_sub_status": None,
        "location": None,
        "retracts_event_id": None,
        "shipment_status": state["status"],
        "shipment_sub_status": state["sub_status"],
        "status_version": state["status_version"],
        "order_id": dispatch["order_id"] if dispatch else None,
        "seller_id": dispatch["seller_id"] if dispatch else None,
        "seller_verified": dispatch["seller_verified"] if dispatch else None,
        "sku": dispatch["product"]["sku"] if dispatch else None,
        "gtin": dispatch["product"]["gtin"] if dispatch else None,
        "serial": dispatch["product"]["serial"] if dispatch else None,
        "origin": dispatch["origin"] if dispatch else None,
        "destination": dispatch["destination"] if dispatch else None,
        "dispatched_at": dispatch["dispatch_time"] if dispatch else None,
        "promised_ship_by": dispatch["promised_ship_by"] if dispatch else None,
        "promised_delivery": dispatch["promised_delivery"] if dispatch else None,
        "first_scan_at": state["first_scan_at"],
    }
    if kind == "DISPATCH":
        record["event_utc_offset_minutes"] = cast(SellerDispatch, event)[
            "dispatch_utc_offset_minutes"
        ]
    else:
        scan = cast(CarrierScan, event)
        record["event_utc_offset_minutes"] = scan["event_utc_offset_minutes"]
        record["raw_event_code"] = scan["raw_event_code"]
        record["raw_description"] = scan["raw_description"]
        record["event_status"] = scan["status"]
        record["event_sub_status"] = scan["sub_status"]
        record["location"] = scan["location"]
        record["retracts_event_id"] = scan["retracts_event_id"]
    return record


def _scan_evidence(scan: CarrierScan) -> AlertEvidence:
    return {
        "event_id": scan["event_id"],
        "kind": "SCAN",
        "event_time": scan["event_time"],
        "carrier": scan["carrier"],
        "tracking_number": scan["tracking_number"],
        "status": scan["status"],
        "sub_status": scan["sub_status"],
        "location": scan["location"],
    }


def _dispatch_evidence(dispatch: SellerDispatch) -> AlertEvidence:
    return {
        "event_id": dispatch["event_id"],
        "kind": "DISPATCH",
        "event_time": dispatch["dispatch_time"],
        "carrier": dispatch["carrier"],
        "tracking_number": dispatch["tracking_number"],
        "status": None,
        "sub_status": None,
        "location": None,
    }


def distance_km(a: Location, b: Location) -> float | None:
    """Great-circle distance between two scan locations, ``None`` unless both have coordinates."""
    lat1, lon1, lat2, lon2 = a["latitude"], a["longitude"], b["latitude"], b["longitude"]
    if lat1 is None or lon1 is None or lat2 is None or lon2 is None:
        return None
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


def _insert_sorted(scans: list[CarrierScan], scan: CarrierScan) -> list[CarrierScan]:
    key = _scan_key(scan)
    index = len(scans)
    # New scans are usually the latest: search from the end.
    while index > 0 and _scan_key(scans[index - 1]) > key:
        index -= 1
    return [*scans[:index], scan, *scans[index:]]


def _scan_key(scan: CarrierScan) -> tuple[datetime, str]:
    return scan["event_time"], scan["event_id"]


def _dispatch_key(dispatch: SellerDispatch) -> tuple[datetime, str]:
    return dispatch["dispatch_time"], dispatch["event_id"]


def _event_time(event: InputEvent) -> datetime:
    if "dispatch_time" in event:
        return cast(SellerDispatch, event)["dispatch_time"]
    return event["event_time"]


def _latest_event_time(state: ShipmentState) -> datetime | None:
    scans, evicted, dispatch = state["scans"], state["evicted"], state["dispatch"]
    latest = scans[-1]["event_time"] if scans else None
    for time in (
        evicted["last_event_time"] if evicted is not None else None,
        dispatch["dispatch_time"] if dispatch is not None else None,
    ):
        if time is not None and (latest is None or time > latest):
            latest = time
    return latest


def _latest_tracking_number(state: ShipmentState) -> str | None:
    for scan in reversed(state["scans"]):
        if scan["tracking_number"]:
            return scan["tracking_number"]
    dispatch = state["dispatch"]
    return dispatch["tracking_number"] if dispatch else None


def _capped(items: list[str], cap: int) -> list[str]:
    return items[-cap:] if len(items) > cap else items


def _place(location: Location) -> str:
    parts = [part for part in (location["city"], location["country"]) if part]
    return ", ".join(parts) if parts else "an unknown place"


def _hours(delta: timedelta) -> int:
    return int(delta.total_seconds() // 3600)
