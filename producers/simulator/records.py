"""Turn simulated dispatches and scans into the contract records (``schemas.records``)."""

from __future__ import annotations

from datetime import datetime

from producers.simulator.journey import PlannedScan
from producers.simulator.shipment import Shipment
from schemas.records import CarrierScan, SellerDispatch
from schemas.status import STATUS_OF

SOURCE = "SIMULATOR"


def utc_offset_minutes(local_time: datetime) -> int:
    """The UTC offset of an aware local time, in minutes."""
    offset = local_time.utcoffset()
    assert offset is not None
    return int(offset.total_seconds() // 60)


def scan_record(shipment: Shipment, scan: PlannedScan, received: datetime) -> CarrierScan:
    """The carrier's scan event as tracecode receives it."""
    carrier = scan.custody.carrier
    raw_code, raw_description = carrier.raw_event(scan.milestone)
    sub_status = scan.milestone.sub_status
    city = scan.city
    return {
        "event_id": scan.event_id,
        "code": shipment.code,
        "carrier": carrier.slug,
        "tracking_number": scan.custody.tracking_number,
        "raw_event_code": raw_code,
        "raw_description": raw_description,
        "status": STATUS_OF[sub_status].value,
        "sub_status": sub_status.value,
        "location": {
            "facility_id": scan.facility_id,
            "city": city.name,
            "country": city.country,
            "latitude": city.latitude,
            "longitude": city.longitude,
        },
        "event_time": scan.time,
        "event_utc_offset_minutes": utc_offset_minutes(scan.time.astimezone(city.zone)),
        "received_time": received,
        "source": SOURCE,
        "retracts_event_id": None,
    }


def dispatch_record(shipment: Shipment, received: datetime) -> SellerDispatch:
    """The seller's dispatch event as the marketplace sends it."""
    route, order = shipment.route, shipment.order
    origin, destination = route.origin, route.destination
    return {
        "event_id": order.event_id,
        "code": shipment.code,
        "order_id": order.order_id,
        "seller_id": order.seller_id,
        "seller_verified": order.seller_verified,
        "product": order.product,
        "quantity": order.quantity,
        "dispatch_time": shipment.dispatched_at,
        "dispatch_utc_offset_minutes": utc_offset_minutes(
            shipment.dispatched_at.astimezone(origin.zone)
        ),
        "promised_ship_by": route.promised_ship_by,
        "promised_delivery": order.promised_delivery,
        "carrier": route.first.carrier.slug if route.announced else None,
        "tracking_number": route.first.tracking_number if route.announced else None,
        "origin": {"country": origin.country, "city": origin.name, "postal_prefix": None},
        "destination": {
            "country": destination.country,
            "city": destination.name,
            "postal_prefix": None,
        },
        "received_time": received,
        "source": SOURCE,
    }
