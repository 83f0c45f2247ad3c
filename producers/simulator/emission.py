"""When each event of a shipment reaches tracecode, and the delivery hard cases.

Every event is received some minutes after it happened (the carrier's latency); a shipment's
events reach tracecode in the order they happened, unless a delivery case says otherwise:

- ``late_dispatch``: the seller dispatch arrives 5 min-6 h after the first scan;
- ``out_of_order``: a scan arrives 1-30 min after the scan that followed it (at most 6 h later
  in event time);
- ``duplicate``: one event (often the delivery scan) arrives a second time, 1 min-4 h later,
  with the same event id.

Events received at or after the end of the window are not emitted: those shipments are still on
their way when the simulation ends.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from producers.simulator.hardcases import HardCase
from producers.simulator.journey import PlannedScan, to_millis
from producers.simulator.shipment import Shipment
from producers.simulator.world import Milestone

DISPATCH_LATENCY_SECONDS = (5.0, 600.0)
LATE_DISPATCH_DELAY_MINUTES = (5.0, 360.0)
OUT_OF_ORDER_DELAY_MINUTES = (1.0, 30.0)
OUT_OF_ORDER_MAX_GAP = timedelta(hours=6)
DUPLICATE_DELAY_MINUTES = (1.0, 240.0)
DELIVERY_MILESTONES = frozenset({Milestone.DELIVERED, Milestone.SAFE_PLACE, Milestone.COLLECTED})
_TICK = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event reaching tracecode."""

    received: datetime
    event_id: str
    scan: PlannedScan | None
    """The scan delivered, or ``None`` for the seller dispatch."""
    case: HardCase | None = None
    """The delivery case this very copy shows, if any."""


def deliveries(
    shipment: Shipment, cases: Iterable[HardCase], rng: random.Random, until: datetime
) -> tuple[list[Delivery], frozenset[HardCase]]:
    """The shipment's events in the order they reach tracecode before ``until``, and the
    delivery cases that actually show in them."""
    wanted = frozenset(cases)
    design = shipment.design
    genuine = [scan for scan in design.scans if not scan.counterfeit]
    counterfeit = [scan for scan in design.scans if scan.counterfeit]

    chain: datetime | None = None
    items: list[Delivery] = []
    if design.dispatched:
        chain = _after(shipment.dispatched_at, rng.uniform(*DISPATCH_LATENCY_SECONDS) / 60)
        items.append(Delivery(chain, shipment.order.event_id, None))
    scans = _received_in_order(genuine, rng, chain)
    counterfeits = _received_in_order(counterfeit, rng, None)

    if HardCase.LATE_DISPATCH in wanted and items and scans:
        late = _after(scans[0].received, rng.uniform(*LATE_DISPATCH_DELAY_MINUTES))
        items[0] = Delivery(late, items[0].event_id, None, HardCase.LATE_DISPATCH)
    if HardCase.OUT_OF_ORDER in wanted:
        _swap_one(scans, rng)
    items += scans + counterfeits
    if HardCase.DUPLICATE in wanted and items:
        items.append(_duplicate(items, rng))

    kept = sorted((d for d in items if d.received < until), key=_order)
    shown = frozenset(d.case for d in kept if d.case is not None)
    return kept, shown


def _order(delivery: Delivery) -> tuple[datetime, str]:
    return delivery.received, delivery.event_id


def _after(moment: datetime, minutes: float) -> datetime:
    return to_millis(moment + timedelta(minutes=minutes))


def _received_in_order(
    scans: list[PlannedScan], rng: random.Random, chain: datetime | None
) -> list[Delivery]:
    result = []
    for scan in scans:
        received = _after(scan.time, rng.uniform(*scan.custody.carrier.latency_minutes))
        if chain is not None and received <= chain:
            received = chain + _TICK
        result.append(Delivery(received, scan.event_id, scan))
        chain = received
    return result


def _swap_one(scans: list[Delivery], rng: random.Random) -> None:
    """Hold back one scan until just after the next one arrived."""
    candidates = [
        i
        for i in range(len(scans) - 1)
        if _time(scans[i + 1]) - _time(scans[i]) <= OUT_OF_ORDER_MAX_GAP
    ]
    if not candidates:
        return
    i = rng.choice(candidates)
    late = _after(scans[i + 1].received, rng.uniform(*OUT_OF_ORDER_DELAY_MINUTES))
    scans[i] = Delivery(late, scans[i].event_id, scans[i].scan, HardCase.OUT_OF_ORDER)


def _duplicate(items: list[Delivery], rng: random.Random) -> Delivery:
    deliveries_ = [
        d for d in items if d.scan is not None and d.scan.milestone in DELIVERY_MILESTONES
    ]
    target = rng.choice(deliveries_ if deliveries_ and rng.random() < 0.6 else items)
    again = _after(target.received, rng.uniform(*DUPLICATE_DELAY_MINUTES))
    return Delivery(again, target.event_id, target.scan, HardCase.DUPLICATE)


def _time(delivery: Delivery) -> datetime:
    assert delivery.scan is not None
    return delivery.scan.time
