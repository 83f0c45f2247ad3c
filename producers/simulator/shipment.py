"""One simulated shipment: the order, the route, the code and the journey its case shapes.

Everything about shipment ``index`` is drawn from its own random generator, seeded with the
simulation key (seed and end of window), the index and the placement attempt, so a shipment can
be rebuilt identically at any time without keeping its events in memory.
"""

from __future__ import annotations

import random
import string
import zlib
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from biip.checksums import gs1_standard_check_digit

from producers.simulator.hardcases import RECIPES, Design, HardCase, Route
from producers.simulator.journey import (
    Custody,
    JourneyBuilder,
    new_event_id,
    to_millis,
)
from producers.simulator.world import CARRIERS, CITIES, LANES, City, Lane
from schemas.codes import marketplace_code, sgtin_code, to_digital_link
from schemas.records import Product

GS1_COMPANY_PREFIX = "0614141"
"""The GS1 company prefix of the simulated brand (GS1's own example prefix)."""


@dataclass(frozen=True, slots=True)
class Order:
    """What the seller's dispatch record says about the order."""

    event_id: str
    order_id: str
    seller_id: str
    seller_verified: bool
    product: Product
    quantity: int
    promised_delivery: datetime


@dataclass(frozen=True, slots=True)
class Shipment:
    """A shipment as generated: dispatch, route and the journey of its case."""

    index: int
    attempt: int
    code: str
    case: HardCase | None
    dispatched_at: datetime
    route: Route
    order: Order
    design: Design


def shipment_rng(key: str, index: int, attempt: int, purpose: str = "journey") -> random.Random:
    """The random generator of one shipment (string seeds hash the same on every platform)."""
    return random.Random(f"{key}:{index}:{attempt}:{purpose}")


def build_shipment(
    key: str,
    index: int,
    attempt: int,
    case: HardCase | None,
    *,
    window: tuple[datetime, datetime],
    gs1_share: float,
) -> Shipment:
    """Draw shipment ``index`` (placement ``attempt``) dispatched within ``window``."""
    rng = shipment_rng(key, index, attempt)
    lane = rng.choices(LANES, [lane.weight for lane in LANES])[0]
    origin = CITIES[rng.choice(lane.origins)]
    dispatched_at = _dispatch_time(rng, origin, window)
    route = _route(rng, lane, origin, dispatched_at)
    code, product = _code_and_product(rng, origin, gs1_share)
    seller = f"{origin.country}-S{rng.randrange(400):05d}"
    order = Order(
        event_id=new_event_id(rng),
        order_id="8" + "".join(rng.choices(string.digits, k=15)),
        seller_id=seller,
        # A seller is verified or not for good, whichever shipment draws it.
        seller_verified=zlib.crc32(seller.encode()) % 10 < 8,
        product=product,
        quantity=rng.choices((1, 2, 3), (0.8, 0.15, 0.05))[0],
        promised_delivery=dispatched_at + timedelta(days=rng.randint(*lane.promised_days)),
    )
    builder = JourneyBuilder(rng, dispatched_at, origin, route.first)
    design = RECIPES[case](builder, route)
    return Shipment(index, attempt, code, case, dispatched_at, route, order, design)


def _dispatch_time(rng: random.Random, origin: City, window: tuple[datetime, datetime]) -> datetime:
    """A moment in ``window`` during the seller's working day (08:00-20:00 local time)."""
    start, end = window
    days = (end - start).days
    for _ in range(8):
        day = (start + timedelta(days=rng.randrange(days))).astimezone(origin.zone).date()
        local = datetime.combine(day, time(8), origin.zone) + timedelta(hours=rng.uniform(0, 12))
        moment = to_millis(local.astimezone(start.tzinfo))
        if start <= moment < end:
            return moment
    return to_millis(start + (end - start) * rng.random())


def _route(rng: random.Random, lane: Lane, origin: City, dispatched_at: datetime) -> Route:
    slugs = list(lane.first_mile)
    first_carrier = CARRIERS[rng.choices(slugs, [lane.first_mile[s] for s in slugs])[0]]
    first = Custody(first_carrier, first_carrier.tracking_numbers(rng))
    last_carrier = CARRIERS[lane.last_mile]
    # Destination posts often keep the line-haul number; otherwise they issue their own.
    own_number = rng.random() < 0.5
    last = Custody(
        last_carrier,
        last_carrier.tracking_numbers(rng) if own_number else first.tracking_number,
    )
    promised_ship_by = dispatched_at + timedelta(hours=72) if rng.random() < 0.3 else None
    return Route(
        lane=lane,
        origin=origin,
        destination=CITIES[rng.choice(lane.destinations)],
        first=first,
        last=last,
        label=rng.random() < 0.7,
        announced=rng.random() < 0.85,
        promised_ship_by=promised_ship_by,
    )


def _code_and_product(rng: random.Random, origin: City, gs1_share: float) -> tuple[str, Product]:
    sku = f"{origin.country}{rng.randrange(10**6):06d}"
    if rng.random() < gs1_share:
        body = GS1_COMPANY_PREFIX + f"{rng.randrange(10**5):05d}"
        gtin = "0" + body + str(gs1_standard_check_digit("0" + body))
        serial = "".join(rng.choices(string.ascii_uppercase + string.digits, k=10))
        trace = sgtin_code(gtin, serial)
        product: Product = {
            "sku": sku,
            "gtin": gtin,
            "serial": serial,
            "digital_link": to_digital_link(trace),
        }
        return trace.canonical, product
    code = marketplace_code(rng.getrandbits(60))
    return code, {"sku": sku, "gtin": None, "serial": None, "digital_link": None}
