"""What the public view says, in plain words: the sub-statuses, the verdicts, what to do.

English only for now; every sentence is here, keyed by the status model's symbols, so a
translation catalogue replaces this one mapping.
"""

from __future__ import annotations

from schemas.status import SubStatus

SUB_STATUS: dict[SubStatus, str] = {
    SubStatus.DISPATCHED: "The seller has sent the order off; the carrier has not scanned it yet.",
    SubStatus.LABEL_CREATED: "The carrier has the parcel's details but not the parcel yet.",
    SubStatus.PICKED_UP: "The carrier has picked the parcel up.",
    SubStatus.ARRIVED_AT_FACILITY: "The parcel arrived at a carrier facility.",
    SubStatus.DEPARTED_FACILITY: "The parcel left a carrier facility.",
    SubStatus.IN_TRANSIT: "The parcel is on its way.",
    SubStatus.CUSTOMS_PROCESSING: "The parcel is going through customs.",
    SubStatus.CUSTOMS_RELEASED: "Customs released the parcel.",
    SubStatus.CUSTOMS_HOLD: "Customs is holding the parcel; it may need documents or duties.",
    SubStatus.HANDED_TO_LAST_MILE: "The parcel was handed to the local delivery company.",
    SubStatus.OUT_FOR_DELIVERY: "The parcel is out for delivery today.",
    SubStatus.AT_PICKUP_POINT: "The parcel is waiting for you at a pickup point or locker.",
    SubStatus.RECIPIENT_ABSENT: "Delivery was attempted but nobody was there.",
    SubStatus.ADDRESS_ISSUE: "Delivery failed because of a problem with the address.",
    SubStatus.BUSINESS_CLOSED: "Delivery failed because the business was closed.",
    SubStatus.NO_SAFE_PLACE: "Delivery failed: there was no safe place to leave the parcel.",
    SubStatus.RESCHEDULED_BY_RECIPIENT: "The delivery was rescheduled at the recipient's wish.",
    SubStatus.DELIVERY_FAILED_OTHER: "A delivery attempt failed; the carrier usually tries again.",
    SubStatus.DELIVERED_TO_RECIPIENT: "The parcel was delivered.",
    SubStatus.LEFT_IN_SAFE_PLACE: "The parcel was delivered and left in a safe place.",
    SubStatus.COLLECTED_FROM_PICKUP_POINT: "The parcel was collected from the pickup point.",
    SubStatus.DELAYED: "The parcel is delayed.",
    SubStatus.LOST: "The carrier reports the parcel as lost.",
    SubStatus.DAMAGED: "The carrier reports the parcel as damaged.",
    SubStatus.RETURNING: "The parcel is on its way back to the seller.",
    SubStatus.RETURNED_TO_SENDER: "The parcel was returned to the seller.",
    SubStatus.REFUSED: "The parcel was refused and is going back to the seller.",
    SubStatus.DESTROYED: "The parcel was destroyed.",
    SubStatus.CANCELLED: "The shipment was cancelled.",
    SubStatus.NO_UPDATES: "There has been no news of this parcel for a long time.",
    SubStatus.UNKNOWN: "The parcel's status is not known.",
}

CLONE_RULES: dict[str, str] = {
    "impossible_speed": "this code was scanned in places too far apart for one parcel to travel "
    "between in the time between the scans",
    "scan_after_delivery": "this code was scanned again after its parcel had been delivered",
    "multiple_tracking_numbers": "this code is attached to more than one carrier shipment",
}
"""Plain words for the suspected-clone rules (``ShipmentAlert.rule``)."""

GENUINE = "A seller dispatched this code and nothing suggests it has been copied."
NEVER_SEEN = "tracecode has no record of this code."
NEVER_DISPATCHED = "This code has been scanned, but no seller dispatched it."
SUSPICIOUS_ADVICE = (
    "Do not accept or use the product until this is cleared up: contact the seller through the "
    "marketplace and report the code."
)


def describe(sub_status: str) -> str:
    """The plain-language description of ``sub_status`` (a ``SubStatus`` symbol)."""
    try:
        return SUB_STATUS[SubStatus(sub_status)]
    except ValueError:
        return SUB_STATUS[SubStatus.UNKNOWN]


def clone_reason(rules: list[str]) -> str:
    """Why a code is suspicious, from the clone rules it met."""
    known = [CLONE_RULES[rule] for rule in rules if rule in CLONE_RULES]
    if not known:
        return "This code shows signs of having been copied."
    return "This code may have been copied: " + "; and ".join(known) + "."
