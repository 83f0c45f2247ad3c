"""What the public view says, in plain words and in the reader's language.

The sentences are written here in English, marked with :func:`N_`; the other languages are
gettext catalogues in ``api/locales/<language>/LC_MESSAGES/tracecode.po``, managed with Babel::

    pybabel extract -k N_ -o api/locales/tracecode.pot api/texts.py
    pybabel update -i api/locales/tracecode.pot -d api/locales -D tracecode

A test holds every catalogue complete: each marked sentence translated, none left over. The
language is the best match of the request's ``Accept-Language`` among :data:`LANGUAGES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.pofile import read_po

from schemas.status import SubStatus

LOCALES = Path(__file__).parent / "locales"
DOMAIN = "tracecode"
LANGUAGES = ("en", "es", "fr", "de", "pt", "ru")
"""The languages the public view speaks; English is the source, and the fallback."""


def N_(message: str) -> str:
    """Mark ``message`` for the catalogues; it is translated where it is shown."""
    return message


SUB_STATUS: dict[SubStatus, str] = {
    SubStatus.DISPATCHED: N_(
        "The seller has sent the order off; the carrier has not scanned it yet."
    ),
    SubStatus.LABEL_CREATED: N_("The carrier has the parcel's details but not the parcel yet."),
    SubStatus.PICKED_UP: N_("The carrier has picked the parcel up."),
    SubStatus.ARRIVED_AT_FACILITY: N_("The parcel arrived at a carrier facility."),
    SubStatus.DEPARTED_FACILITY: N_("The parcel left a carrier facility."),
    SubStatus.IN_TRANSIT: N_("The parcel is on its way."),
    SubStatus.CUSTOMS_PROCESSING: N_("The parcel is going through customs."),
    SubStatus.CUSTOMS_RELEASED: N_("Customs released the parcel."),
    SubStatus.CUSTOMS_HOLD: N_("Customs is holding the parcel; it may need documents or duties."),
    SubStatus.HANDED_TO_LAST_MILE: N_("The parcel was handed to the local delivery company."),
    SubStatus.OUT_FOR_DELIVERY: N_("The parcel is out for delivery today."),
    SubStatus.AT_PICKUP_POINT: N_("The parcel is waiting for you at a pickup point or locker."),
    SubStatus.RECIPIENT_ABSENT: N_("Delivery was attempted but nobody was there."),
    SubStatus.ADDRESS_ISSUE: N_("Delivery failed because of a problem with the address."),
    SubStatus.BUSINESS_CLOSED: N_("Delivery failed because the business was closed."),
    SubStatus.NO_SAFE_PLACE: N_("Delivery failed: there was no safe place to leave the parcel."),
    SubStatus.RESCHEDULED_BY_RECIPIENT: N_("The delivery was rescheduled at the recipient's wish."),
    SubStatus.DELIVERY_FAILED_OTHER: N_(
        "A delivery attempt failed; the carrier usually tries again."
    ),
    SubStatus.DELIVERED_TO_RECIPIENT: N_("The parcel was delivered."),
    SubStatus.LEFT_IN_SAFE_PLACE: N_("The parcel was delivered and left in a safe place."),
    SubStatus.COLLECTED_FROM_PICKUP_POINT: N_("The parcel was collected from the pickup point."),
    SubStatus.DELAYED: N_("The parcel is delayed."),
    SubStatus.LOST: N_("The carrier reports the parcel as lost."),
    SubStatus.DAMAGED: N_("The carrier reports the parcel as damaged."),
    SubStatus.RETURNING: N_("The parcel is on its way back to the seller."),
    SubStatus.RETURNED_TO_SENDER: N_("The parcel was returned to the seller."),
    SubStatus.REFUSED: N_("The parcel was refused and is going back to the seller."),
    SubStatus.DESTROYED: N_("The parcel was destroyed."),
    SubStatus.CANCELLED: N_("The shipment was cancelled."),
    SubStatus.NO_UPDATES: N_("There has been no news of this parcel for a long time."),
    SubStatus.UNKNOWN: N_("The parcel's status is not known."),
}

CLONE_RULES: dict[str, str] = {
    "impossible_speed": N_(
        "It was scanned in places too far apart for one parcel to travel between them in the "
        "time between the scans."
    ),
    "scan_after_delivery": N_("It was scanned again after its parcel had been delivered."),
    "multiple_tracking_numbers": N_("It is attached to more than one carrier shipment."),
}
"""Plain words for the suspected-clone rules (``ShipmentAlert.rule``)."""

MAY_BE_COPIED = N_("This code may have been copied.")
GENUINE = N_("A seller dispatched this code and nothing suggests it has been copied.")
NEVER_SEEN = N_("tracecode has no record of this code.")
NEVER_DISPATCHED = N_("This code has been scanned, but no seller dispatched it.")
SUSPICIOUS_ADVICE = N_(
    "Do not accept or use the product until this is cleared up: contact the seller through the "
    "marketplace and report the code."
)

PAGE: tuple[str, ...] = (
    N_("Track a parcel"),
    N_("Traceability code"),
    N_("Track"),
    N_("Enter the code from the parcel's label or the product."),
    N_("Verdict"),
    N_("Genuine"),
    N_("Suspicious"),
    N_("Unknown"),
    N_("Status"),
    N_("Estimated delivery"),
    N_("between {p50} and {p90}"),
    N_("based on {count} deliveries on this route"),
    N_("Timeline"),
)
"""The tracking page's own words (``api/templates/track.html``)."""

NOT_A_CODE = N_("This is not a valid traceability code: check it for typos.")
NO_SUCH_CODE = N_("No parcel is known by this code.")
UNAVAILABLE = N_("Tracking is unavailable right now; please try again in a few minutes.")
TOO_MANY = N_("Too many requests; please wait a moment and try again.")


class Texts:
    """The public view's sentences in one language."""

    def __init__(self, language: str, catalog: Mapping[str, str]) -> None:
        self.language = language
        self._catalog = catalog

    def __call__(self, message: str) -> str:
        """``message`` (a marked English sentence) in this language."""
        return self._catalog.get(message) or message

    def describe(self, sub_status: str) -> str:
        """The plain-language description of ``sub_status`` (a ``SubStatus`` symbol)."""
        try:
            message = SUB_STATUS[SubStatus(sub_status)]
        except ValueError:
            message = SUB_STATUS[SubStatus.UNKNOWN]
        return self(message)

    def clone_reason(self, rules: list[str]) -> str:
        """Why a code is suspicious, from the clone rules it met."""
        found = [self(CLONE_RULES[rule]) for rule in rules if rule in CLONE_RULES]
        return " ".join([self(MAY_BE_COPIED), *found])


def texts_for(accept_language: str | None) -> Texts:
    """The texts in the best language for an ``Accept-Language`` header (English without one,
    or without a match)."""
    language = negotiate(accept_language)
    return Texts(language, catalog(language))


def negotiate(accept_language: str | None) -> str:
    """The first of the header's languages, by quality, that the public view speaks."""
    wanted: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and quality > 0:
            wanted.append((-quality, position, tag))
    for _, _, tag in sorted(wanted):
        if tag == "*":
            return LANGUAGES[0]
        try:
            language = Locale.parse(tag, sep="-" if "-" in tag else "_").language
        except (ValueError, UnknownLocaleError):
            continue
        if language in LANGUAGES:
            return language
    return LANGUAGES[0]


@cache
def catalog(language: str) -> Mapping[str, str]:
    """The translations of ``language`` (English: none), read from its ``.po`` catalogue."""
    if language == LANGUAGES[0]:
        return {}
    path = LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as source:
        messages = read_po(source, locale=language, domain=DOMAIN)
    return {
        str(message.id): str(message.string)
        for message in messages
        if message.id and isinstance(message.string, str) and message.string
    }
