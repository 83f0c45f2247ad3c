"""Shipment journeys: the timed scans of one parcel from seller to buyer.

A :class:`JourneyBuilder` walks a parcel through the milestones of its lane; the functions below
are the stages of a cross-border journey (first mile and export, line-haul and import, last mile,
delivery outcomes). Hard cases (``hardcases``) compose the same stages with detours.

Timing keeps clean shipments clear of every alert rule: consecutive scans are at most 48 h apart
(the stall rule waits 72 h), the first physical scan comes at most 30 h after dispatch (the SLA
is 48 h), and moves between cities take at least the time a truck (60 km/h) or a plane
(750 km/h plus handling) needs, well below the 1000 km/h clone-speed rule.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import cache

from producers.simulator.world import CITIES, Carrier, City, Lane, Milestone

GROUND_KMH = 60.0
AIR_KMH = 750.0
AIR_HANDLING_HOURS = 6.0
GROUND_LIMIT_KM = 800.0
"""Longer moves fly."""
MAX_CLEAN_GAP = timedelta(hours=48)
"""No clean journey leaves more than this between two consecutive scans."""


@cache
def travel_hours(origin: City, destination: City) -> float:
    """Minimum hours to move a parcel between two cities."""
    distance = origin.distance_km(destination)
    if distance < 1.0:
        return 0.0
    if distance < GROUND_LIMIT_KM:
        return distance / GROUND_KMH
    return distance / AIR_KMH + AIR_HANDLING_HOURS


def to_millis(moment: datetime) -> datetime:
    """``moment`` truncated to the millisecond: what an Avro ``timestamp-millis`` keeps."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def new_event_id(rng: random.Random) -> str:
    """A random (version 4) UUID drawn from ``rng``, so ids repeat with the seed."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass(frozen=True, slots=True)
class Custody:
    """Who holds the parcel: a carrier and its tracking number for it."""

    carrier: Carrier
    tracking_number: str | None


@dataclass(frozen=True, slots=True)
class PlannedScan:
    """One scan of the journey, before it becomes a ``CarrierScan`` record."""

    event_id: str
    milestone: Milestone
    time: datetime
    city: City
    custody: Custody
    facility_id: str | None
    counterfeit: bool = False
    """Scanned on a counterfeit parcel that carries a copy of the code (clone hard case)."""


_FACILITY_KIND = {
    Milestone.PICKUP: "PU",
    Milestone.SORT_IN: "SC",
    Milestone.SORT_OUT: "SC",
    Milestone.EXPORT_START: "CUS",
    Milestone.EXPORT_DONE: "CUS",
    Milestone.LINEHAUL_DEPART: "AIR",
    Milestone.LINEHAUL_ARRIVE: "AIR",
    Milestone.IMPORT_START: "CUS",
    Milestone.IMPORT_HOLD: "CUS",
    Milestone.IMPORT_DONE: "CUS",
    Milestone.HANDOVER: "CUS",
    Milestone.HUB_IN: "HUB",
    Milestone.HUB_OUT: "HUB",
    Milestone.RETURNED: "RET",
}


def facility_id(milestone: Milestone, city: City, carrier: Carrier) -> str | None:
    """The id of the facility where ``carrier`` reports ``milestone`` in ``city``."""
    if milestone is Milestone.LABEL:
        return None
    kind = _FACILITY_KIND.get(milestone, "DO")
    return f"{carrier.slug.upper()}-{city.code}-{kind}"


@dataclass(slots=True)
class JourneyBuilder:
    """Adds timed scans to a journey, one milestone after the other.

    ``wait_before`` adds an extra wait before a milestone (a stall); ``stop_after`` makes the
    parcel vanish after a milestone: later scans are not recorded (lost or abandoned parcels).
    """

    rng: random.Random
    now: datetime
    city: City
    custody: Custody
    scans: list[PlannedScan] = field(default_factory=list)
    extra_wait: dict[Milestone, timedelta] = field(default_factory=dict)
    stop: Milestone | None = None
    halted: bool = False

    def hours(self, low: float, high: float) -> timedelta:
        return timedelta(hours=self.rng.uniform(low, high))

    def wait_before(self, milestone: Milestone, wait: timedelta) -> None:
        self.extra_wait[milestone] = wait

    def stop_after(self, milestone: Milestone) -> None:
        self.stop = milestone

    def scan(self, milestone: Milestone, city: City, low: float, high: float) -> None:
        """Record ``milestone`` in ``city`` after the trip there and ``low``-``high`` hours."""
        travel = timedelta(hours=travel_hours(self.city, city))
        self.scan_at(milestone, city, self.now + travel + self.hours(low, high))

    def scan_at(self, milestone: Milestone, city: City, when: datetime) -> None:
        """Record ``milestone`` in ``city`` at ``when`` (plus any extra wait before it)."""
        if self.halted:
            return
        when = to_millis(when + self.extra_wait.pop(milestone, timedelta()))
        carrier = self.custody.carrier
        self.scans.append(
            PlannedScan(
                new_event_id(self.rng),
                milestone,
                when,
                city,
                self.custody,
                facility_id(milestone, city, carrier),
            )
        )
        self.now, self.city = when, city
        if milestone is self.stop:
            self.halted = True

    @property
    def last(self) -> PlannedScan:
        return self.scans[-1]


def first_mile(b: JourneyBuilder, lane: Lane, origin: City, *, label: bool) -> None:
    """Label, pickup at the seller, origin sorting, export customs, line-haul departure."""
    dispatched = b.now
    if label:
        b.scan(Milestone.LABEL, origin, 0.2, 3.0)
    pickup = max(b.now + timedelta(minutes=10), dispatched + b.hours(3.0, 30.0))
    b.scan_at(Milestone.PICKUP, origin, pickup)
    hub, gateway = CITIES[lane.sort_hub], CITIES[lane.export_gateway]
    b.scan(Milestone.SORT_IN, hub, 2.0, 10.0)
    b.scan(Milestone.SORT_OUT, hub, 3.0, 20.0)
    b.scan(Milestone.EXPORT_START, gateway, 4.0, 24.0)
    b.scan(Milestone.EXPORT_DONE, gateway, 2.0, 20.0)
    b.scan(Milestone.LINEHAUL_DEPART, gateway, 3.0, 30.0)


def line_haul(b: JourneyBuilder, lane: Lane, *, hold: timedelta | None = None) -> None:
    """Flight, import customs (with an optional hold of ``hold``) and handover."""
    gateway = CITIES[lane.import_gateway]
    b.scan(Milestone.LINEHAUL_ARRIVE, gateway, 4.0, 14.0)
    b.scan(Milestone.IMPORT_START, gateway, 2.0, 20.0)
    if hold is not None:
        b.scan(Milestone.IMPORT_HOLD, gateway, 1.0, 6.0)
        b.scan_at(Milestone.IMPORT_DONE, gateway, b.now + hold)
    else:
        b.scan(Milestone.IMPORT_DONE, gateway, 4.0, 36.0)
    b.scan(Milestone.HANDOVER, gateway, 2.0, 24.0)


def last_mile(b: JourneyBuilder, lane: Lane, destination: City, custody: Custody) -> None:
    """The last-mile carrier takes over: its hub, then the buyer's delivery office."""
    b.custody = custody
    hub = CITIES[lane.delivery_hub]
    b.scan(Milestone.HUB_IN, hub, 2.0, 12.0)
    b.scan(Milestone.HUB_OUT, hub, 2.0, 16.0)
    b.scan(Milestone.OFFICE_IN, destination, 2.0, 10.0)


def out_for_delivery(b: JourneyBuilder) -> None:
    """Loaded on the van the next delivery morning (07:30-10:00 local time)."""
    b.scan_at(Milestone.OUT_FOR_DELIVERY, b.city, next_morning(b.now, b.city, b.rng))


def next_morning(after: datetime, city: City, rng: random.Random) -> datetime:
    """A delivery-round start in ``city``: the same morning when ``after`` is before 05:00
    local time, else the next one; always at least two hours after ``after``."""
    local = after.astimezone(city.zone)
    day = local.date() if local.time() < time(5) else local.date() + timedelta(days=1)
    start = datetime.combine(day, time(7, 30), city.zone) + timedelta(minutes=rng.uniform(0, 150))
    return max(start.astimezone(after.tzinfo), after + timedelta(hours=2))


def deliver(b: JourneyBuilder) -> None:
    """The delivery round ends well: at the door, in a safe place, or at a pickup point."""
    out_for_delivery(b)
    outcome = b.rng.random()
    if outcome < 0.70:
        b.scan(Milestone.DELIVERED, b.city, 0.5, 8.0)
    elif outcome < 0.85:
        b.scan(Milestone.SAFE_PLACE, b.city, 0.5, 8.0)
    else:
        b.scan(Milestone.PICKUP_POINT, b.city, 1.0, 8.0)
        b.scan(Milestone.COLLECTED, b.city, 4.0, 40.0)


FAILURE_REASONS = (Milestone.ABSENT, Milestone.NO_SAFE_PLACE, Milestone.BAD_ADDRESS)
FAILURE_WEIGHTS = (0.6, 0.25, 0.15)


def failed_attempt(b: JourneyBuilder) -> None:
    """A delivery round that fails (recipient absent, no safe place, bad address)."""
    out_for_delivery(b)
    b.scan(b.rng.choices(FAILURE_REASONS, FAILURE_WEIGHTS)[0], b.city, 0.5, 8.0)


def full_journey(
    b: JourneyBuilder,
    lane: Lane,
    origin: City,
    destination: City,
    last: Custody,
    *,
    label: bool,
    hold: timedelta | None = None,
) -> None:
    """Everything up to the delivery office in the buyer's city."""
    first_mile(b, lane, origin, label=label)
    line_haul(b, lane, hold=hold)
    last_mile(b, lane, destination, last)
