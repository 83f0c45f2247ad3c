"""The normalized status model shared by every component.

A shipment has a :class:`Status` (the tracking stage buyers see) and a finer :class:`SubStatus`;
every sub-status belongs to exactly one status (:data:`STATUS_OF`). Carrier scans report a
sub-status; :func:`advance` says what the shipment's sub-status becomes when a scan is applied in
event-time order. The enum values are the Avro enum symbols of ``io.tracecode.Status`` and
``io.tracecode.SubStatus`` (a test keeps them equal), so records carry them as plain strings.

docs/status-model.md maps the model to AfterShip, 17TRACK, EasyPost and GS1 CBV and explains the
precedence rules below.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Main tracking stage of a shipment."""

    PENDING = "PENDING"
    """Dispatched by the seller, no carrier scan yet."""
    INFO_RECEIVED = "INFO_RECEIVED"
    """The carrier has the shipment's data (label created) but not the parcel."""
    IN_TRANSIT = "IN_TRANSIT"
    """The carrier has the parcel and is moving it."""
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    """On the vehicle for final delivery."""
    AVAILABLE_FOR_PICKUP = "AVAILABLE_FOR_PICKUP"
    """Waiting at a pickup point or locker for the recipient."""
    DELIVERY_FAILED = "DELIVERY_FAILED"
    """A delivery attempt failed; the carrier usually tries again."""
    DELIVERED = "DELIVERED"
    """Delivered to the recipient (terminal)."""
    EXCEPTION = "EXCEPTION"
    """Something went wrong: delay, loss, damage, return, refusal, destruction, cancellation."""
    EXPIRED = "EXPIRED"
    """No update for so long that tracking gave up; a new scan revives the shipment."""
    UNKNOWN = "UNKNOWN"
    """Reserved for readers meeting a symbol added in a later schema version."""


class SubStatus(StrEnum):
    """Finer stage of a shipment; :data:`STATUS_OF` gives the status it belongs to."""

    DISPATCHED = "DISPATCHED"
    LABEL_CREATED = "LABEL_CREATED"
    PICKED_UP = "PICKED_UP"
    ARRIVED_AT_FACILITY = "ARRIVED_AT_FACILITY"
    DEPARTED_FACILITY = "DEPARTED_FACILITY"
    IN_TRANSIT = "IN_TRANSIT"
    CUSTOMS_PROCESSING = "CUSTOMS_PROCESSING"
    CUSTOMS_RELEASED = "CUSTOMS_RELEASED"
    CUSTOMS_HOLD = "CUSTOMS_HOLD"
    HANDED_TO_LAST_MILE = "HANDED_TO_LAST_MILE"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    AT_PICKUP_POINT = "AT_PICKUP_POINT"
    RECIPIENT_ABSENT = "RECIPIENT_ABSENT"
    ADDRESS_ISSUE = "ADDRESS_ISSUE"
    BUSINESS_CLOSED = "BUSINESS_CLOSED"
    NO_SAFE_PLACE = "NO_SAFE_PLACE"
    RESCHEDULED_BY_RECIPIENT = "RESCHEDULED_BY_RECIPIENT"
    DELIVERY_FAILED_OTHER = "DELIVERY_FAILED_OTHER"
    DELIVERED_TO_RECIPIENT = "DELIVERED_TO_RECIPIENT"
    LEFT_IN_SAFE_PLACE = "LEFT_IN_SAFE_PLACE"
    COLLECTED_FROM_PICKUP_POINT = "COLLECTED_FROM_PICKUP_POINT"
    DELAYED = "DELAYED"
    LOST = "LOST"
    DAMAGED = "DAMAGED"
    RETURNING = "RETURNING"
    RETURNED_TO_SENDER = "RETURNED_TO_SENDER"
    REFUSED = "REFUSED"
    DESTROYED = "DESTROYED"
    CANCELLED = "CANCELLED"
    NO_UPDATES = "NO_UPDATES"
    UNKNOWN = "UNKNOWN"


STATUS_OF: dict[SubStatus, Status] = {
    SubStatus.DISPATCHED: Status.PENDING,
    SubStatus.LABEL_CREATED: Status.INFO_RECEIVED,
    SubStatus.PICKED_UP: Status.IN_TRANSIT,
    SubStatus.ARRIVED_AT_FACILITY: Status.IN_TRANSIT,
    SubStatus.DEPARTED_FACILITY: Status.IN_TRANSIT,
    SubStatus.IN_TRANSIT: Status.IN_TRANSIT,
    SubStatus.CUSTOMS_PROCESSING: Status.IN_TRANSIT,
    SubStatus.CUSTOMS_RELEASED: Status.IN_TRANSIT,
    SubStatus.CUSTOMS_HOLD: Status.IN_TRANSIT,
    SubStatus.HANDED_TO_LAST_MILE: Status.IN_TRANSIT,
    SubStatus.OUT_FOR_DELIVERY: Status.OUT_FOR_DELIVERY,
    SubStatus.AT_PICKUP_POINT: Status.AVAILABLE_FOR_PICKUP,
    SubStatus.RECIPIENT_ABSENT: Status.DELIVERY_FAILED,
    SubStatus.ADDRESS_ISSUE: Status.DELIVERY_FAILED,
    SubStatus.BUSINESS_CLOSED: Status.DELIVERY_FAILED,
    SubStatus.NO_SAFE_PLACE: Status.DELIVERY_FAILED,
    SubStatus.RESCHEDULED_BY_RECIPIENT: Status.DELIVERY_FAILED,
    SubStatus.DELIVERY_FAILED_OTHER: Status.DELIVERY_FAILED,
    SubStatus.DELIVERED_TO_RECIPIENT: Status.DELIVERED,
    SubStatus.LEFT_IN_SAFE_PLACE: Status.DELIVERED,
    SubStatus.COLLECTED_FROM_PICKUP_POINT: Status.DELIVERED,
    SubStatus.DELAYED: Status.EXCEPTION,
    SubStatus.LOST: Status.EXCEPTION,
    SubStatus.DAMAGED: Status.EXCEPTION,
    SubStatus.RETURNING: Status.EXCEPTION,
    SubStatus.RETURNED_TO_SENDER: Status.EXCEPTION,
    SubStatus.REFUSED: Status.EXCEPTION,
    SubStatus.DESTROYED: Status.EXCEPTION,
    SubStatus.CANCELLED: Status.EXCEPTION,
    SubStatus.NO_UPDATES: Status.EXPIRED,
    SubStatus.UNKNOWN: Status.UNKNOWN,
}

DEFAULT_SUB_STATUS: dict[Status, SubStatus] = {
    Status.PENDING: SubStatus.DISPATCHED,
    Status.INFO_RECEIVED: SubStatus.LABEL_CREATED,
    Status.IN_TRANSIT: SubStatus.IN_TRANSIT,
    Status.OUT_FOR_DELIVERY: SubStatus.OUT_FOR_DELIVERY,
    Status.AVAILABLE_FOR_PICKUP: SubStatus.AT_PICKUP_POINT,
    Status.DELIVERY_FAILED: SubStatus.DELIVERY_FAILED_OTHER,
    Status.DELIVERED: SubStatus.DELIVERED_TO_RECIPIENT,
    Status.EXCEPTION: SubStatus.DELAYED,
    Status.EXPIRED: SubStatus.NO_UPDATES,
    Status.UNKNOWN: SubStatus.UNKNOWN,
}
"""The sub-status to use when a source only reports a main status."""

TERMINAL: frozenset[SubStatus] = frozenset(
    {
        SubStatus.DELIVERED_TO_RECIPIENT,
        SubStatus.LEFT_IN_SAFE_PLACE,
        SubStatus.COLLECTED_FROM_PICKUP_POINT,
        SubStatus.RETURNED_TO_SENDER,
        SubStatus.DESTROYED,
        SubStatus.CANCELLED,
    }
)
"""Sub-statuses no later scan can change. A scan after delivery is a clone signal, not news."""

RETURN_LEG: frozenset[SubStatus] = frozenset({SubStatus.RETURNING, SubStatus.REFUSED})
"""Once a parcel is on its way back, movement scans keep it there and delivery ends the return."""

PRE_CARRIER: tuple[SubStatus, ...] = (SubStatus.DISPATCHED, SubStatus.LABEL_CREATED)
"""Sub-statuses before the carrier has the parcel, in order: they never override a later stage."""

MOVEMENT: frozenset[SubStatus] = frozenset(
    sub
    for sub, status in STATUS_OF.items()
    if status
    in {
        Status.IN_TRANSIT,
        Status.OUT_FOR_DELIVERY,
        Status.AVAILABLE_FOR_PICKUP,
        Status.DELIVERY_FAILED,
    }
)
"""Sub-statuses that report the parcel moving towards a recipient."""

_KEEP_ON_RETURN_LEG = MOVEMENT | {SubStatus.DELAYED, SubStatus.DAMAGED}
# A delay or damage on the way back does not end the return: the next delivery scan must still
# read as "returned to sender". Loss, destruction and cancellation do end it.

_REVIVED_BY_UNKNOWN = frozenset({*PRE_CARRIER, SubStatus.NO_UPDATES})


def is_terminal(sub_status: SubStatus) -> bool:
    """Whether no later scan can change a shipment in ``sub_status``."""
    return sub_status in TERMINAL


def advance(current: SubStatus | None, reported: SubStatus) -> SubStatus:
    """The shipment's sub-status after applying an event that reports ``reported``.

    Events must be applied in event-time order; ``current`` is ``None`` before the first one.
    The precedence rules:

    - a terminal sub-status never changes (delivered, returned to sender, destroyed, cancelled);
    - ``DISPATCHED`` (the seller's dispatch) and ``LABEL_CREATED`` (carrier data only) never
      override a later stage, so a dispatch record stamped after the first scan changes nothing;
    - ``UNKNOWN`` (an unmapped carrier code) keeps the current sub-status, except that it proves
      the carrier has the parcel: before any physical scan, or after expiry, it means
      ``IN_TRANSIT``;
    - on the return leg (returning, refused) movement, delay and damage scans keep the parcel
      returning, and a delivery scan means it reached the sender (``RETURNED_TO_SENDER``);
    - otherwise the latest event wins, so parcels may go back (e.g. failed delivery -> in
      transit) and an expired shipment revives with its next scan.
    """
    if current is not None and current in TERMINAL:
        return current
    if reported is SubStatus.UNKNOWN:
        return (
            SubStatus.IN_TRANSIT if current is None or current in _REVIVED_BY_UNKNOWN else current
        )
    if reported in PRE_CARRIER:
        if current is None or (
            current in PRE_CARRIER and PRE_CARRIER.index(current) <= PRE_CARRIER.index(reported)
        ):
            return reported
        return current
    if current in RETURN_LEG:
        if STATUS_OF[reported] is Status.DELIVERED:
            return SubStatus.RETURNED_TO_SENDER
        if reported in _KEEP_ON_RETURN_LEG:
            return current
    return reported
