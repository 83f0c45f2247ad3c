"""The hard cases the simulator injects, their shares, and the alerts each must raise.

Journey cases change what happens to a parcel; each shipment has at most one. Delivery cases
change how its events reach tracecode and combine with any journey case. Shares are of all
shipments; counts are exact (largest-remainder rounding of share x shipments), and with at least
:data:`MIN_SHIPMENTS_FOR_ALL` shipments every case occurs at least once.

Journey cases (share of shipments: what happens -> alerts under the default join rules):

- clean (the rest): seller dispatch, pickup, sorting, export customs, flight, import customs,
  last-mile handover, out for delivery, delivered at the door, in a safe place or at a pickup
  point -> none
- delivery_failure (8 %): 1-2 failed attempts (absent, no safe place, bad address), then
  delivered or collected -> none
- customs_hold (4 %): held by import customs 24-60 h, or 96-144 h -> STALLED for the long holds
- return (3 %): refused at the door, or never collected from the pickup point, then returned
  to sender -> none
- lost (1 %): scans stop in transit; the carrier declares the parcel lost 5-12 days later ->
  STALLED, and EXPIRED when the last event is more than 30 days before the end
- stalled (2 %): stuck 4-7 days at a facility, then delivered -> STALLED
- abandoned (1.5 %): scans stop for good, in transit or at a pickup point, early enough that 30
  days pass before the end -> EXPIRED, and STALLED when it stopped in transit
- never_picked_up (2 %): dispatched (sometimes a label is created), never picked up ->
  DISPATCH_SLA_BREACH, and EXPIRED when dispatched more than 30 days before the end
- never_dispatched (2 %): scanned all the way, but no seller dispatch -> UNKNOWN_CODE
- clone (1.5 %): a counterfeit parcel carrying a copy of the code is scanned 2-4 times in
  another country, the first time hours after a genuine scan thousands of km away (sometimes by
  the same carrier under another tracking number) -> SUSPECTED_CLONE

Delivery cases (drawn independently, share of shipments where they apply) -> no alert:

- late_dispatch (4 %): the dispatch reaches tracecode 5 min-6 h after the first scan
- duplicate (3 %): one event (often the delivery scan) arrives twice, 1 min-4 h apart, with the
  same event id
- out_of_order (3 %): a scan arrives 1-30 min after the scan that followed it (at most 6 h of
  event time apart)

Alerts are due at a time (``ShipmentTruth.alert_due``); a shipment is placed in the window so
that each due time is either at least the alert margin before ``until`` or after ``until``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from producers.simulator.journey import (
    Custody,
    JourneyBuilder,
    PlannedScan,
    deliver,
    facility_id,
    failed_attempt,
    first_mile,
    full_journey,
    last_mile,
    line_haul,
    new_event_id,
    out_for_delivery,
    to_millis,
)
from producers.simulator.world import CARRIERS, CITIES, Carrier, City, Lane, Milestone

STALLED = "STALLED"
DISPATCH_SLA_BREACH = "DISPATCH_SLA_BREACH"
EXPIRED = "EXPIRED"
UNKNOWN_CODE = "UNKNOWN_CODE"
SUSPECTED_CLONE = "SUSPECTED_CLONE"

STALL_AFTER = timedelta(hours=72)
DISPATCH_SLA = timedelta(hours=48)
UNKNOWN_CODE_GRACE = timedelta(hours=24)
EXPIRE_AFTER = timedelta(days=30)
"""The join's default thresholds (``streams.join.transition.Rules``), which the cases are built
around; a test checks the simulator against the join itself."""


class HardCase(StrEnum):
    """What makes a shipment hard for the join."""

    DELIVERY_FAILURE = "delivery_failure"
    CUSTOMS_HOLD = "customs_hold"
    RETURN = "return"
    LOST = "lost"
    STALLED = "stalled"
    ABANDONED = "abandoned"
    NEVER_PICKED_UP = "never_picked_up"
    NEVER_DISPATCHED = "never_dispatched"
    CLONE = "clone"
    LATE_DISPATCH = "late_dispatch"
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out_of_order"


JOURNEY_CASES: Mapping[HardCase, float] = {
    HardCase.DELIVERY_FAILURE: 0.08,
    HardCase.CUSTOMS_HOLD: 0.04,
    HardCase.RETURN: 0.03,
    HardCase.LOST: 0.01,
    HardCase.STALLED: 0.02,
    HardCase.ABANDONED: 0.015,
    HardCase.NEVER_PICKED_UP: 0.02,
    HardCase.NEVER_DISPATCHED: 0.02,
    HardCase.CLONE: 0.015,
}
"""Share of shipments per journey case; a shipment has at most one."""

DELIVERY_CASES: Mapping[HardCase, float] = {
    HardCase.LATE_DISPATCH: 0.04,
    HardCase.DUPLICATE: 0.03,
    HardCase.OUT_OF_ORDER: 0.03,
}
"""Share of shipments per delivery case, drawn independently of the journey case."""

ALERTS: Mapping[HardCase | None, str] = {
    None: "none",
    HardCase.DELIVERY_FAILURE: "none",
    HardCase.CUSTOMS_HOLD: "STALLED for holds of 96 h and more",
    HardCase.RETURN: "none",
    HardCase.LOST: "STALLED; EXPIRED when 30 days pass",
    HardCase.STALLED: "STALLED",
    HardCase.ABANDONED: "EXPIRED; STALLED when in transit",
    HardCase.NEVER_PICKED_UP: "DISPATCH_SLA_BREACH; EXPIRED when 30 days pass",
    HardCase.NEVER_DISPATCHED: "UNKNOWN_CODE",
    HardCase.CLONE: "SUSPECTED_CLONE",
    HardCase.LATE_DISPATCH: "none",
    HardCase.DUPLICATE: "none",
    HardCase.OUT_OF_ORDER: "none",
}
"""The alerts each case raises under the default join rules, in words (help and summaries)."""

MIN_SHIPMENTS_FOR_ALL = 50


def allocate(
    shipments: int, shares: Mapping[HardCase, float], rng: random.Random
) -> list[HardCase | None]:
    """Assign cases to ``shipments`` slots in exact shares (``None`` for the rest), shuffled."""
    wanted = {case: share * shipments for case, share in shares.items()}
    counts = {case: int(value) for case, value in wanted.items()}
    spare = round(sum(wanted.values())) - sum(counts.values())
    for case in sorted(wanted, key=lambda c: counts[c] - wanted[c])[:spare]:
        counts[case] += 1
    if shipments >= MIN_SHIPMENTS_FOR_ALL:
        counts = {case: max(count, 1) for case, count in counts.items()}
    slots: list[HardCase | None] = [case for case, n in counts.items() for _ in range(n)]
    slots += [None] * (shipments - len(slots))
    rng.shuffle(slots)
    return slots


@dataclass(frozen=True, slots=True)
class Route:
    """Where one shipment goes and who carries it."""

    lane: Lane
    origin: City
    destination: City
    first: Custody
    last: Custody
    label: bool
    """Whether the first-mile carrier sends a label-created event."""
    announced: bool
    """Whether the seller's dispatch names the carrier and tracking number."""
    promised_ship_by: datetime | None


@dataclass(slots=True)
class Design:
    """A journey as a hard case shapes it, with the alerts it is built to raise."""

    scans: list[PlannedScan]
    due: dict[str, datetime] = field(default_factory=dict)
    """Alert kind -> when it becomes due (event time), for the alerts the case requires."""
    open_ended: bool = False
    """The journey ends without a terminal scan, so it expires 30 days after its last event."""
    must_expire: bool = False
    """The case is only itself once it expired (abandoned shipments)."""
    dispatched: bool = True
    shows: str | None = None
    """Id of the scan that must be emitted for the case to show (e.g. the customs hold)."""


Recipe = Callable[[JourneyBuilder, Route], Design]


def _clean(b: JourneyBuilder, r: Route) -> Design:
    full_journey(b, r.lane, r.origin, r.destination, r.last, label=r.label)
    deliver(b)
    return Design(b.scans)


def _delivery_failure(b: JourneyBuilder, r: Route) -> Design:
    full_journey(b, r.lane, r.origin, r.destination, r.last, label=r.label)
    for _ in range(b.rng.choice((1, 1, 2))):
        failed_attempt(b)
    failure = b.last.event_id
    if b.rng.random() < 0.6:
        deliver(b)
    else:
        b.scan(Milestone.PICKUP_POINT, b.city, 1.0, 6.0)
        b.scan(Milestone.COLLECTED, b.city, 6.0, 60.0)
    return Design(b.scans, shows=failure)


def _customs_hold(b: JourneyBuilder, r: Route) -> Design:
    long_hold = b.rng.random() < 0.4
    hold = b.hours(96.0, 144.0) if long_hold else b.hours(24.0, 60.0)
    first_mile(b, r.lane, r.origin, label=r.label)
    line_haul(b, r.lane, hold=hold)
    held = next(s for s in b.scans if s.milestone is Milestone.IMPORT_HOLD)
    last_mile(b, r.lane, r.destination, r.last)
    deliver(b)
    due = {STALLED: held.time + STALL_AFTER} if long_hold else {}
    return Design(b.scans, due, shows=held.event_id)


def _return(b: JourneyBuilder, r: Route) -> Design:
    full_journey(b, r.lane, r.origin, r.destination, r.last, label=r.label)
    if b.rng.random() < 0.6:
        out_for_delivery(b)
        b.scan(Milestone.REFUSED, b.city, 0.5, 8.0)
        b.scan(Milestone.RETURN_START, b.city, 4.0, 24.0)
    else:
        failed_attempt(b)
        b.scan(Milestone.PICKUP_POINT, b.city, 1.0, 6.0)
        # Pickup points keep parcels 5-9 days before sending them back.
        b.scan(Milestone.RETURN_START, b.city, 120.0, 216.0)
    returning = b.last.event_id
    hub = CITIES[r.lane.delivery_hub]
    b.scan(Milestone.HUB_IN, hub, 2.0, 12.0)
    b.scan(Milestone.HUB_OUT, hub, 2.0, 16.0)
    b.scan(Milestone.RETURNED, CITIES[r.lane.import_gateway], 4.0, 30.0)
    return Design(b.scans, shows=returning)


IN_TRANSIT_STOPS = (
    Milestone.PICKUP,
    Milestone.SORT_IN,
    Milestone.SORT_OUT,
    Milestone.EXPORT_START,
    Milestone.EXPORT_DONE,
    Milestone.LINEHAUL_DEPART,
    Milestone.LINEHAUL_ARRIVE,
    Milestone.IMPORT_START,
    Milestone.IMPORT_DONE,
    Milestone.HANDOVER,
    Milestone.HUB_IN,
    Milestone.HUB_OUT,
    Milestone.OFFICE_IN,
)
"""Milestones after which a parcel is in transit (a stallable status)."""


def _lost(b: JourneyBuilder, r: Route) -> Design:
    b.stop_after(b.rng.choice(IN_TRANSIT_STOPS))
    full_journey(b, r.lane, r.origin, r.destination, r.last, label=r.label)
    last = b.last
    b.halted = False
    b.custody = last.custody
    b.scan_at(Milestone.LOST, last.city, last.time + b.hours(5 * 24.0, 12 * 24.0))
    due = {STALLED: last.time + STALL_AFTER}
    return Design(b.scans, due, open_ended=True, shows=b.last.event_id)


def _stalled(b: JourneyBuilder, r: Route) -> Design:
    stuck = b.rng.choice(IN_TRANSIT_STOPS[1:])
    b.wait_before(stuck, b.hours(96.0, 168.0))
    full_journey(b, r.lane, r.origin, r.destination, r.last, label=r.label)
    deliver(b)
    index = next(i for i, s in enumerate(b.scans) if s.milestone is stuck)
    due = {STALLED: b.scans[index - 1].time + STALL_AFTER}
    return Design(b.scans, due, shows=b.scans[index].event_id)


def _abandoned(b: JourneyBuilder, r: Route) -> Design:
    if b.rng.random() < 0.6:
        b.stop_after(b.rng.choice(IN_TRANSIT_STOPS))
        full_journey(b, r.lane, r.origin, r.destination, r.last, label=r.label)
        due = {STALLED: b.last.time + STALL_AFTER}
        return Design(b.scans, due, open_ended=True, must_expire=True)
    full_journey(b, r.lane, r.origin, r.destination, r.last, label=r.label)
    failed_attempt(b)
    b.scan(Milestone.PICKUP_POINT, b.city, 1.0, 6.0)
    return Design(b.scans, open_ended=True, must_expire=True)


def _never_picked_up(b: JourneyBuilder, r: Route) -> Design:
    dispatched = b.now
    if r.label:
        b.scan(Milestone.LABEL, r.origin, 0.2, 3.0)
    due = r.promised_ship_by or dispatched + DISPATCH_SLA
    return Design(b.scans, {DISPATCH_SLA_BREACH: due}, open_ended=True)


def _never_dispatched(b: JourneyBuilder, r: Route) -> Design:
    design = _clean(b, r)
    design.due[UNKNOWN_CODE] = design.scans[0].time + UNKNOWN_CODE_GRACE
    design.dispatched = False
    return design


def _clone(b: JourneyBuilder, r: Route) -> Design:
    genuine = _clean(b, r).scans
    counterfeit = counterfeit_scans(b.rng, genuine, r.first)
    scans = sorted([*genuine, *counterfeit], key=lambda s: s.time)
    return Design(scans, {SUSPECTED_CLONE: counterfeit[0].time})


RECIPES: Mapping[HardCase | None, Recipe] = {
    None: _clean,
    HardCase.DELIVERY_FAILURE: _delivery_failure,
    HardCase.CUSTOMS_HOLD: _customs_hold,
    HardCase.RETURN: _return,
    HardCase.LOST: _lost,
    HardCase.STALLED: _stalled,
    HardCase.ABANDONED: _abandoned,
    HardCase.NEVER_PICKED_UP: _never_picked_up,
    HardCase.NEVER_DISPATCHED: _never_dispatched,
    HardCase.CLONE: _clone,
}
"""How each journey case (``None``: clean) builds its journey."""


COUNTERFEIT_ORIGINS = {
    "CN": ("Shenzhen", "Guangzhou", "Yiwu", "Dongguan"),
    "TR": ("Istanbul", "Izmir", "Bursa"),
}
"""Where counterfeits ship from: Turkey when the genuine parcel is in China, else China
(every such pair of places is more than 6,000 km apart)."""

COUNTERFEIT_STEPS = (
    Milestone.PICKUP,
    Milestone.SORT_IN,
    Milestone.SORT_OUT,
    Milestone.EXPORT_START,
)


def counterfeit_scans(
    rng: random.Random, genuine: list[PlannedScan], first: Custody
) -> list[PlannedScan]:
    """2-4 scans of a counterfeit parcel labelled with the genuine parcel's code.

    The first comes between two genuine physical scans, so soon after the earlier one that the
    parcel would have flown faster than 1000 km/h (at most half the distance in km, as hours
    over 1000); the rest follow the counterfeit's own pace and stop before the genuine journey
    ends.
    """
    physical = [s for s in genuine if s.milestone is not Milestone.LABEL]
    index = rng.randrange(len(physical) - 2)
    before, after = physical[index], physical[index + 1]
    country = "TR" if before.city.country == "CN" else "CN"
    city = CITIES[rng.choice(COUNTERFEIT_ORIGINS[country])]
    custody = _counterfeit_custody(rng, country, first.carrier)
    distance = before.city.distance_km(city)
    gap_hours = (after.time - before.time).total_seconds() / 3600
    hours = rng.uniform(0.1, 0.5) * min(distance / 1000.0, gap_hours)
    when = to_millis(before.time + timedelta(hours=hours))
    scans: list[PlannedScan] = []
    end = genuine[-1].time
    for milestone in COUNTERFEIT_STEPS[: rng.randint(2, 4)]:
        if when >= end:
            break
        scans.append(
            PlannedScan(
                new_event_id(rng),
                milestone,
                when,
                city,
                custody,
                facility_id(milestone, city, custody.carrier),
                counterfeit=True,
            )
        )
        when = to_millis(when + timedelta(hours=rng.uniform(3.0, 12.0)))
    return scans


def _counterfeit_custody(rng: random.Random, country: str, genuine: Carrier) -> Custody:
    local = [c for c in CARRIERS.values() if c.slug in _FIRST_MILE_BY_COUNTRY[country]]
    carrier = genuine if genuine in local and rng.random() < 0.5 else rng.choice(local)
    return Custody(carrier, carrier.tracking_numbers(rng))


_FIRST_MILE_BY_COUNTRY = {"CN": ("cainiao", "yanwen", "4px"), "TR": ("ptt",)}
