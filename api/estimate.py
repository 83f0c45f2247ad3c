"""When a parcel will arrive: a window from the transit times of its lane in ClickHouse.

The lane is the shipment's origin and destination countries and its first-mile carrier (the
carrier of its first scan). The estimate is conditioned on how far the parcel already is: of
the milestones below, the latest one it reached, at the time it reached it, plus the time the
delivered shipments of the same lane took from that same milestone to delivery (p50 and p90).
A lane with fewer than :data:`MIN_SAMPLES` such deliveries gives no estimate: a window resting
on a handful of parcels would promise more than it knows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cachetools import TTLCache

from api.tracking import HistoryStore, TimelineEntry
from schemas.status import STATUS_OF, Status, SubStatus

MIN_SAMPLES = 20
"""Deliveries a lane needs from a milestone before an estimate rests on them."""

MILESTONES: tuple[SubStatus, ...] = (
    SubStatus.DISPATCHED,
    SubStatus.PICKED_UP,
    SubStatus.CUSTOMS_RELEASED,
    SubStatus.HANDED_TO_LAST_MILE,
    SubStatus.OUT_FOR_DELIVERY,
)
"""Stages every journey passes, in order; the estimate counts from the latest one reached."""

DELIVERED: tuple[str, ...] = tuple(
    sub.value for sub, status in STATUS_OF.items() if status is Status.DELIVERED
)

_PER_SHIPMENT = """
SELECT
    code,
    anyIf(origin_country, origin_country IS NOT NULL) AS origin,
    anyIf(destination_country, destination_country IS NOT NULL) AS destination,
    argMinIf(carrier, event_time, kind = 'SCAN' AND carrier IS NOT NULL) AS first_carrier,
    minIf(event_time, event_sub_status IN {delivered:Array(String)}) AS delivered_at,
    minIf(dispatched_at, dispatched_at IS NOT NULL) AS dispatched,
    {reached} AS reached_at,
    countIf(event_sub_status IN {delivered:Array(String)}) AS deliveries,
    anyIf(promised_delivery, promised_delivery IS NOT NULL) AS promised
FROM shipment_events
WHERE origin_country = {origin:String} AND destination_country = {destination:String}
    AND kind != 'RETRACTION'
GROUP BY code
"""

_FROM_MILESTONE = (
    "SELECT quantiles(0.5, 0.9)(dateDiff('second', reached_at, delivered_at)) AS q, count() AS n "
    "FROM (" + _PER_SHIPMENT + ") "
    "WHERE deliveries > 0 AND first_carrier = {carrier:String} "
    "AND reached_at > toDateTime64(0, 3, 'UTC') AND delivered_at >= reached_at"
)

_LANE = (
    "SELECT quantiles(0.5, 0.9)(dateDiff('second', dispatched, delivered_at)) AS q, "
    "count() AS n, countIf(promised IS NOT NULL) AS promised_n, "
    "countIf(promised IS NOT NULL AND delivered_at <= promised) AS on_time "
    "FROM (" + _PER_SHIPMENT + ") "
    "WHERE deliveries > 0 AND dispatched IS NOT NULL AND delivered_at >= dispatched"
)


@dataclass(frozen=True, slots=True)
class Estimate:
    """A delivery window: the parcel arrives by ``p50`` one time in two, by ``p90`` nine in
    ten, going by ``sample_size`` deliveries of its lane from the same milestone."""

    p50: datetime
    p90: datetime
    milestone: str
    """The latest milestone the parcel reached: what the window counts from."""
    reached_at: datetime
    sample_size: int

    def to_json(self) -> dict[str, Any]:
        return {
            "p50": self.p50.isoformat(),
            "p90": self.p90.isoformat(),
            "from_milestone": self.milestone,
            "milestone_reached_at": self.reached_at.isoformat(),
            "sample_size": self.sample_size,
        }


@dataclass(frozen=True, slots=True)
class LaneFigures:
    """Transit of the delivered shipments of one lane, dispatch to delivery."""

    origin: str
    destination: str
    p50_days: float | None
    p90_days: float | None
    sample_size: int
    on_time_share: float | None
    """Of the deliveries with a promised date, the share delivered by it."""

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "destination": self.destination,
            "transit_days": None
            if self.p50_days is None
            else {"p50": round(self.p50_days, 1), "p90": round(self.p90_days or 0.0, 1)},
            "on_time_share": None if self.on_time_share is None else round(self.on_time_share, 3),
            "sample_size": self.sample_size,
            "enough": self.sample_size >= MIN_SAMPLES,
        }


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a parcel stands, as the estimate needs it."""

    origin: str
    destination: str
    carrier: str
    milestone: SubStatus
    reached_at: datetime

    @property
    def lane(self) -> LaneKey:
        """What the window depends on besides the time: the lane, carrier and milestone."""
        return (self.origin, self.destination, self.carrier, self.milestone)


LaneKey = tuple[str, str, str, SubStatus]
"""Origin country, destination country, first-mile carrier, milestone."""


def progress_of(
    timeline: Sequence[TimelineEntry], dispatch: Mapping[str, Any] | None
) -> Progress | None:
    """The lane and latest milestone of a parcel on its way; ``None`` when it is delivered,
    off its normal course (an exception, a return), or its lane or carrier is unknown."""
    standing = [entry for entry in timeline if not entry.retracted and entry.kind == "SCAN"]
    if dispatch is None or not standing:
        return None
    origin, destination = dispatch.get("origin"), dispatch.get("destination")
    carrier = next((entry.carrier for entry in standing if entry.carrier), None)
    if not origin or not destination or carrier is None:
        return None
    last = standing[-1].sub_status
    if last is None or STATUS_OF[SubStatus(last)] in (Status.DELIVERED, Status.EXCEPTION):
        return None
    milestone, reached = SubStatus.DISPATCHED, _dispatched_at(dispatch)
    for entry in standing:
        sub = SubStatus(entry.sub_status) if entry.sub_status else None
        if sub in MILESTONES and MILESTONES.index(sub) >= MILESTONES.index(milestone):
            milestone, reached = sub, entry.time
    if reached is None:
        return None
    return Progress(str(origin), str(destination), carrier, milestone, reached)


def estimate(store: HistoryStore, progress: Progress) -> Estimate | None:
    """The delivery window of a parcel at ``progress``, or ``None`` when its lane has fewer
    than :data:`MIN_SAMPLES` deliveries from its milestone."""
    return _window(progress, remaining(store, progress.lane))


def remaining(store: HistoryStore, key: LaneKey) -> tuple[timedelta, timedelta, int] | None:
    """p50 and p90 of the time from ``key``'s milestone to delivery on its lane, and the count
    they rest on; ``None`` below :data:`MIN_SAMPLES`."""
    origin, destination, carrier, milestone = key
    sql = _FROM_MILESTONE.replace("{reached}", _reached(milestone))
    params = _params(origin, destination, {"carrier": carrier, "milestone": milestone.value})
    rows = list(store.query(sql, params).named_results())
    quantiles, count = (rows[0]["q"], int(rows[0]["n"])) if rows else ([], 0)
    if count < MIN_SAMPLES:
        return None
    p50, p90 = (timedelta(seconds=float(value)) for value in quantiles)
    return p50, p90, count


class TransitTimes:
    """:func:`remaining` and :func:`lane` behind a cache of ``ttl_s`` seconds per lane.

    A lane's figures rest on many deliveries and move slowly, while every page view asks for
    them: without the cache each view would scan the lane's history in ClickHouse.
    """

    def __init__(
        self,
        open_history: Callable[[], HistoryStore],
        ttl_s: float = 600.0,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._open = open_history
        self._cache: TTLCache[tuple[Any, ...], Any] = TTLCache(4096, ttl_s, timer=timer)
        self._lock = threading.Lock()

    def estimate(self, progress: Progress) -> Estimate | None:
        """The window of ``progress``, as :func:`estimate` gives it."""
        figures = self._cached(("remaining", *progress.lane), lambda s: remaining(s, progress.lane))
        return _window(progress, figures)

    def lane(self, origin: str, destination: str) -> LaneFigures:
        """The figures of a lane, as :func:`lane` gives them."""
        found: LaneFigures = self._cached(
            ("lane", origin, destination), lambda s: lane(s, origin, destination)
        )
        return found

    def _cached(self, key: tuple[Any, ...], compute: Callable[[HistoryStore], Any]) -> Any:
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        with self._open() as store:
            value = compute(store)
        with self._lock:
            self._cache[key] = value
        return value


def _window(
    progress: Progress, figures: tuple[timedelta, timedelta, int] | None
) -> Estimate | None:
    if figures is None:
        return None
    p50, p90, count = figures
    return Estimate(
        progress.reached_at + p50,
        progress.reached_at + p90,
        progress.milestone.value,
        progress.reached_at,
        count,
    )


def lane(store: HistoryStore, origin: str, destination: str) -> LaneFigures:
    """Dispatch-to-delivery figures of the lane ``origin`` -> ``destination`` (countries)."""
    sql = _LANE.replace("{reached}", "toDateTime64(0, 3, 'UTC')")
    rows = list(store.query(sql, _params(origin, destination, {})).named_results())
    row: Mapping[str, Any] = rows[0] if rows else {"q": [], "n": 0, "promised_n": 0, "on_time": 0}
    count = int(row["n"])
    p50 = p90 = None
    if count:
        p50, p90 = (float(value) / 86_400 for value in row["q"])
    promised = int(row["promised_n"])
    return LaneFigures(
        origin,
        destination,
        p50,
        p90,
        count,
        int(row["on_time"]) / promised if promised else None,
    )


def _reached(milestone: SubStatus) -> str:
    if milestone is SubStatus.DISPATCHED:
        return "minIf(dispatched_at, dispatched_at IS NOT NULL)"
    return "minIf(event_time, event_sub_status = {milestone:String})"


def _params(origin: str, destination: str, extra: Mapping[str, str]) -> dict[str, Any]:
    return {
        "origin": origin,
        "destination": destination,
        "delivered": list(DELIVERED),
        **extra,
    }


def _dispatched_at(dispatch: Mapping[str, Any]) -> datetime | None:
    value = dispatch.get("dispatched_at")
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value)
    return None
