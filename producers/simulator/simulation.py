"""The simulator's public face: plan a simulation, iterate its events, know what it should cause.

:func:`simulate` plans every shipment up front (cheap: only what the ground truth needs is kept)
and returns a :class:`Simulation`, whose :meth:`~Simulation.events` yields the events in the
order they reach tracecode: all shipments merged by receive time, which is event time plus a
bounded delivery delay (see ``emission``). The same seed and ``until`` give the same events,
ids, times and order, whatever the machine.

Time model: shipments are dispatched across ``days`` days ending at ``until``; an event received
at or after ``until`` is not emitted. The join's clock is each partition's stream time (the
largest event time it has seen), which ends just before ``until``; the ground truth
(:class:`ShipmentTruth`) says, per code, which hard cases were injected and which alerts the
join must raise under its default rules, with the event time each becomes due.
"""

from __future__ import annotations

import heapq
import logging
import random
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from producers.events import EventKind
from producers.simulator.emission import DELIVERY_MILESTONES, Delivery, deliveries
from producers.simulator.hardcases import (
    DELIVERY_CASES,
    EXPIRE_AFTER,
    EXPIRED,
    JOURNEY_CASES,
    HardCase,
    allocate,
)
from producers.simulator.records import dispatch_record, scan_record
from producers.simulator.shipment import Shipment, build_shipment, shipment_rng
from schemas.records import CarrierScan, SellerDispatch

logger = logging.getLogger(__name__)

MIN_DAYS = 50
"""Abandoned shipments must expire (30 days without news) inside the window."""
MAX_ATTEMPTS = 64


class SimulationError(ValueError):
    """The simulation cannot be planned as configured."""


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """What to simulate."""

    shipments: int
    until: datetime
    """End of the simulated window (timezone-aware); nothing received from then on is emitted."""
    seed: int = 0
    days: int = 60
    """Length of the window over which shipments are dispatched."""
    gs1_share: float = 0.15
    """Share of codes that are serialized GS1 items (Digital Link in the dispatch)."""
    alert_margin: timedelta = timedelta(hours=24)
    """Alerts are expected when due at least this long before ``until``; none falls closer."""
    journey_shares: Mapping[HardCase, float] = field(
        default_factory=lambda: MappingProxyType(dict(JOURNEY_CASES))
    )
    delivery_shares: Mapping[HardCase, float] = field(
        default_factory=lambda: MappingProxyType(dict(DELIVERY_CASES))
    )

    def __post_init__(self) -> None:
        if self.shipments < 0:
            raise SimulationError(f"shipments must be 0 or more, not {self.shipments}")
        if self.until.utcoffset() is None:
            raise SimulationError("until must be timezone-aware (e.g. 2026-11-01T00:00:00Z)")
        if self.days < MIN_DAYS:
            raise SimulationError(
                f"days must be at least {MIN_DAYS}: abandoned shipments need 30 days without "
                "news inside the window"
            )
        if not 0.0 <= self.gs1_share <= 1.0:
            raise SimulationError(f"gs1_share must be between 0 and 1, not {self.gs1_share}")
        for name, shares, allowed in (
            ("journey_shares", self.journey_shares, JOURNEY_CASES),
            ("delivery_shares", self.delivery_shares, DELIVERY_CASES),
        ):
            unknown = set(shares) - set(allowed)
            if unknown:
                raise SimulationError(f"{name} has cases that do not belong: {sorted(unknown)}")
            if any(not 0.0 <= share <= 1.0 for share in shares.values()):
                raise SimulationError(f"{name}: every share must be between 0 and 1")
        if sum(self.journey_shares.values()) > 1.0:
            raise SimulationError("journey_shares add up to more than 1")

    @property
    def key(self) -> str:
        """What every random draw derives from: the seed and the end of the window."""
        return f"{self.seed}:{self.until.isoformat()}"

    @property
    def window(self) -> tuple[datetime, datetime]:
        """When shipments are dispatched: the ``days`` before ``until``."""
        return self.until - timedelta(days=self.days), self.until


@dataclass(frozen=True, slots=True)
class ShipmentTruth:
    """What was injected into one code's events and what the join must make of them."""

    index: int
    code: str
    lane: str
    carriers: tuple[str, ...]
    journey: HardCase | None
    """The journey case (``None``: a clean journey)."""
    cases: frozenset[HardCase]
    """Journey and delivery cases that show in the emitted events (empty: a clean shipment)."""
    alert_due: Mapping[str, datetime]
    """Alert kind -> the stream time (event time) from which the join must have raised it."""
    dispatched: bool
    """Whether the seller dispatch is among the emitted events."""
    delivered: bool
    """Whether the delivery to the buyer is among the emitted events."""
    events: int
    """Number of events emitted for this code (duplicate copies included)."""

    @property
    def expected_alerts(self) -> frozenset[str]:
        """Alert kinds the join must raise once stream time reached ``until - alert_margin``."""
        return frozenset(self.alert_due)

    def expected_at(self, stream_time: datetime) -> frozenset[str]:
        """Alert kinds the join must have raised by ``stream_time``."""
        return frozenset(kind for kind, due in self.alert_due.items() if due <= stream_time)


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One event as it reaches tracecode."""

    kind: EventKind
    record: CarrierScan | SellerDispatch
    shipment: int
    """Index of the shipment (``Simulation.shipments``)."""
    case: HardCase | None
    """The delivery case this very event shows (a late dispatch, a duplicate copy, a scan
    arriving out of order), if any."""


@dataclass(frozen=True, slots=True)
class _Plan:
    attempt: int
    dispatched_at: datetime
    delivery_cases: frozenset[HardCase]


class Simulation:
    """A planned simulation: its ground truth now, its events on demand."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self._plans: list[_Plan] = []
        truths = []
        rng = random.Random(f"{config.key}:plan")
        cases = allocate(config.shipments, config.journey_shares, rng)
        delivery = _delivery_cases(cases, config.delivery_shares, rng)
        codes: set[str] = set()
        for index in range(config.shipments):
            plan, truth = self._place(index, cases[index], delivery[index], codes)
            self._plans.append(plan)
            truths.append(truth)
            codes.add(truth.code)
        self.shipments: tuple[ShipmentTruth, ...] = tuple(truths)
        """Ground truth per shipment, by index."""
        self.truth: Mapping[str, ShipmentTruth] = MappingProxyType(
            {truth.code: truth for truth in truths}
        )
        """Ground truth per canonical code."""
        logger.info(
            "simulation planned",
            extra={
                "shipments": config.shipments,
                "events": self.event_count,
                "seed": config.seed,
                "until": config.until.isoformat(),
                "placement_retries": sum(plan.attempt for plan in self._plans),
            },
        )

    @property
    def event_count(self) -> int:
        """How many events :meth:`events` yields."""
        return sum(truth.events for truth in self.shipments)

    def case_counts(self) -> Counter[HardCase | None]:
        """Shipments per journey case (``None``: clean) and per delivery case shown."""
        counts: Counter[HardCase | None] = Counter()
        for truth in self.shipments:
            counts[truth.journey] += 1
            counts.update(truth.cases - {truth.journey})
        return counts

    def events(self) -> Iterator[SimEvent]:
        """All emitted events, in the order they reach tracecode (by receive time)."""
        heap: list[tuple[datetime, str, int, int]] = []
        active: dict[int, tuple[Shipment, list[Delivery]]] = {}
        by_dispatch = sorted(range(len(self._plans)), key=lambda i: self._plans[i].dispatched_at)
        for index in by_dispatch:
            # A shipment's events all arrive after its dispatch time: everything received by
            # then is final.
            yield from self._drain(heap, active, self._plans[index].dispatched_at)
            shipment, items = self._build(index)
            if items:
                active[index] = (shipment, items)
                heapq.heappush(heap, (items[0].received, items[0].event_id, index, 0))
        yield from self._drain(heap, active, None)

    def _drain(
        self,
        heap: list[tuple[datetime, str, int, int]],
        active: dict[int, tuple[Shipment, list[Delivery]]],
        before: datetime | None,
    ) -> Iterator[SimEvent]:
        while heap and (before is None or heap[0][0] <= before):
            _, _, index, position = heapq.heappop(heap)
            shipment, items = active[index]
            item = items[position]
            if position + 1 < len(items):
                following = items[position + 1]
                heapq.heappush(heap, (following.received, following.event_id, index, position + 1))
            else:
                del active[index]
            yield _event(shipment, item)

    def _build(self, index: int) -> tuple[Shipment, list[Delivery]]:
        plan, config = self._plans[index], self.config
        journey = self.shipments[index].journey
        shipment = build_shipment(
            config.key,
            index,
            plan.attempt,
            journey,
            window=config.window,
            gs1_share=config.gs1_share,
        )
        rng = shipment_rng(config.key, index, plan.attempt, "delivery")
        items, _ = deliveries(shipment, plan.delivery_cases, rng, config.until)
        return shipment, items

    def _place(
        self,
        index: int,
        case: HardCase | None,
        delivery_cases: frozenset[HardCase],
        taken: set[str],
    ) -> tuple[_Plan, ShipmentTruth]:
        """Draw the shipment until its alerts fall clear of the end of the window."""
        config = self.config
        for attempt in range(MAX_ATTEMPTS):
            shipment = build_shipment(
                config.key, index, attempt, case, window=config.window, gs1_share=config.gs1_share
            )
            if shipment.code in taken:
                continue
            rng = shipment_rng(config.key, index, attempt, "delivery")
            items, shown = deliveries(shipment, delivery_cases, rng, config.until)
            due = _alert_due(shipment, items, config)
            if due is None:
                continue
            plan = _Plan(attempt, shipment.dispatched_at, delivery_cases)
            return plan, _truth(shipment, shown, due, items)
        raise SimulationError(
            f"could not place a {case or 'clean'} shipment in a {config.days}-day window; "
            "use a longer window"
        )


def simulate(config: SimulationConfig) -> Simulation:
    """Plan the simulation ``config`` describes."""
    return Simulation(config)


def _delivery_cases(
    cases: list[HardCase | None], shares: Mapping[HardCase, float], rng: random.Random
) -> list[frozenset[HardCase]]:
    """Pick the shipments of each delivery case (exact count) among those it can apply to."""
    chosen: list[set[HardCase]] = [set() for _ in cases]
    for delivery_case, share in shares.items():
        eligible = [i for i, case in enumerate(cases) if _applies(delivery_case, case)]
        count = min(len(eligible), round(share * len(cases)))
        for index in rng.sample(eligible, count):
            chosen[index].add(delivery_case)
    return [frozenset(c) for c in chosen]


def _applies(delivery_case: HardCase, case: HardCase | None) -> bool:
    if delivery_case is HardCase.LATE_DISPATCH:
        return case is not HardCase.NEVER_DISPATCHED
    if delivery_case is HardCase.OUT_OF_ORDER:
        return case is not HardCase.NEVER_PICKED_UP
    return True


def _alert_due(
    shipment: Shipment, items: list[Delivery], config: SimulationConfig
) -> dict[str, datetime] | None:
    """The alerts the shipment must raise, with due times; ``None`` when any would fall due in
    the last ``alert_margin`` before ``until`` (where the partitions' stream times may or may
    not have reached it) or when the case does not show."""
    horizon = config.until - config.alert_margin
    design = shipment.design
    due = dict(design.due)
    if any(moment > horizon for moment in due.values()):
        return None
    if design.shows is not None and all(item.event_id != design.shows for item in items):
        return None
    if design.open_ended and items:
        latest = max(
            (item.scan.time if item.scan is not None else shipment.dispatched_at) for item in items
        )
        expiry = latest + EXPIRE_AFTER
        if expiry <= horizon:
            due[EXPIRED] = expiry
        elif expiry < config.until or design.must_expire:
            return None
    return due


def _truth(
    shipment: Shipment,
    shown: frozenset[HardCase],
    due: dict[str, datetime],
    items: list[Delivery],
) -> ShipmentTruth:
    route = shipment.route
    carriers = tuple(dict.fromkeys((route.first.carrier.slug, route.last.carrier.slug)))
    journey = shipment.case
    return ShipmentTruth(
        index=shipment.index,
        code=shipment.code,
        lane=route.lane.name,
        carriers=carriers,
        journey=journey,
        cases=shown | {journey} if journey is not None else shown,
        alert_due=MappingProxyType(due),
        dispatched=any(item.scan is None for item in items),
        delivered=any(
            item.scan is not None
            and not item.scan.counterfeit
            and item.scan.milestone in DELIVERY_MILESTONES
            for item in items
        ),
        events=len(items),
    )


def _event(shipment: Shipment, item: Delivery) -> SimEvent:
    if item.scan is None:
        return SimEvent(
            EventKind.DISPATCH, dispatch_record(shipment, item.received), shipment.index, item.case
        )
    record = scan_record(shipment, item.scan, item.received)
    return SimEvent(EventKind.SCAN, record, shipment.index, item.case)
