"""Semantic validation: the rules a record must keep beyond fitting its Avro schema.

``validate(record_type, record)`` raises :class:`~schemas.errors.InvalidRecordError` naming the
field (dotted path) and the rule for the first broken rule. Producers call it before encoding,
the streams worker after decoding (a record that fails goes to the dead-letter topic).

Countries are checked against ISO 3166-1 alpha-2 as pycountry ships it (Debian's iso-codes
data, kept current by its maintainers: better than a table of our own that nobody updates), plus
``XK`` (Kosovo), a user-assigned code that carriers and customs use in practice.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import pycountry

from schemas.codes import (
    DEFAULT_MARKETPLACE_FORMAT,
    CodeKind,
    MarketplaceFormat,
    TraceCode,
    check_serial,
    normalize_gtin,
    parse_code,
)
from schemas.errors import InvalidCodeError, InvalidRecordError
from schemas.records import RecordType
from schemas.status import STATUS_OF, SubStatus

COUNTRIES: frozenset[str] = frozenset({country.alpha_2 for country in pycountry.countries} | {"XK"})
"""Accepted country codes: ISO 3166-1 alpha-2, plus XK."""

MIN_UTC_OFFSET_MINUTES = -12 * 60
MAX_UTC_OFFSET_MINUTES = 14 * 60
"""Real UTC offsets run from UTC-12:00 (Baker Island) to UTC+14:00 (Line Islands)."""

MAX_CLOCK_SKEW = timedelta(hours=1)
"""How far an event's own time may lie after tracecode received it.

Carrier and seller clocks drift by seconds or minutes; an event stamped hours after its receipt
comes from a wrong clock or UTC offset. Accepted, it would move the join's stream time ahead for
every shipment of its partition and fire their time-based alerts early.
"""

DEAD_LETTER_STAGES = frozenset({"decode", "validate", "process"})

_CARRIER = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_POSTAL_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9 -]{0,9}")
_SUB_STATUS = {sub.value: sub for sub in SubStatus}


@lru_cache(maxsize=1 << 16)
def _parsed_code(value: str, marketplace: MarketplaceFormat) -> TraceCode:
    """:func:`parse_code`, remembered: every event of a shipment carries the same code (a
    code that fails raises each time; errors are not kept)."""
    return parse_code(value, marketplace=marketplace)


class _Rules:
    """Checks of one record; every failure names the record type, field and rule."""

    def __init__(self, record_type: RecordType, marketplace: MarketplaceFormat) -> None:
        self.name = record_type.short_name
        self.marketplace = marketplace

    def fail(self, field: str, rule: str, detail: str) -> InvalidRecordError:
        return InvalidRecordError(self.name, field, rule, detail)

    def non_empty(self, record: Mapping[str, Any], field: str, path: str = "") -> None:
        value = record[field]
        if value is not None and not value.strip():
            raise self.fail(path + field, "non-empty", "must not be empty or blank")

    def code(self, record: Mapping[str, Any], field: str = "code") -> TraceCode:
        value = record[field]
        try:
            parsed = _parsed_code(value, self.marketplace)
        except InvalidCodeError as exc:
            raise self.fail(field, "canonical-code", str(exc)) from exc
        if parsed.canonical != value:
            raise self.fail(
                field, "canonical-code", f"{value!r} is not canonical; write {parsed.canonical!r}"
            )
        return parsed

    def country(self, value: str | None, field: str) -> None:
        if value is not None and value not in COUNTRIES:
            raise self.fail(
                field, "iso-3166-alpha-2", f"{value!r} is not an ISO 3166-1 alpha-2 country code"
            )

    def status_pair(self, status: str | None, sub_status: str | None, field: str) -> None:
        if (status is None) != (sub_status is None):
            raise self.fail(field, "status-pair", "status and sub-status are set together or not")
        if sub_status is None:
            return
        sub = _SUB_STATUS.get(sub_status)
        if sub is None:
            raise self.fail(field, "avro-enum-symbol", f"{sub_status!r} is not a SubStatus")
        owner = STATUS_OF[sub]
        if owner != status:
            raise self.fail(
                field,
                "sub-status-of-status",
                f"sub-status {sub_status} belongs to status {owner}, not {status}",
            )

    def offset(self, record: Mapping[str, Any], field: str) -> None:
        minutes = record[field]
        if not MIN_UTC_OFFSET_MINUTES <= minutes <= MAX_UTC_OFFSET_MINUTES:
            raise self.fail(
                field, "utc-offset-range", f"{minutes} min is outside UTC-12:00..UTC+14:00"
            )

    def aware(self, record: Mapping[str, Any], *fields: str) -> None:
        for field in fields:
            value = record[field]
            if isinstance(value, datetime) and value.utcoffset() is None:
                raise self.fail(
                    field, "timezone-aware", "a naive datetime would be read as UTC silently"
                )

    def not_after_receipt(self, record: Mapping[str, Any], field: str) -> None:
        happened, received = record[field], record["received_time"]
        if happened - received > MAX_CLOCK_SKEW:
            raise self.fail(
                field,
                "not-after-receipt",
                f"{happened.isoformat()} is {happened - received} after received_time "
                f"{received.isoformat()}; an event is received after it happens (clocks may "
                f"differ by {MAX_CLOCK_SKEW} at most): check the sender's clock and UTC offset",
            )

    def carrier(self, value: str | None, field: str) -> None:
        if value is not None and not is_carrier_slug(value):
            raise self.fail(
                field, "carrier-slug", f"{value!r} is not a lower-case slug like 'cainiao'"
            )

    def location(self, location: Mapping[str, Any] | None, field: str) -> None:
        if location is None:
            return
        self.country(location["country"], f"{field}.country")
        latitude, longitude = location["latitude"], location["longitude"]
        if (latitude is None) != (longitude is None):
            raise self.fail(field, "lat-lon-pair", "latitude and longitude come together")
        if latitude is not None and not (math.isfinite(latitude) and -90 <= latitude <= 90):
            raise self.fail(f"{field}.latitude", "latitude-range", f"{latitude} not in -90..90")
        if longitude is not None and not (math.isfinite(longitude) and -180 <= longitude <= 180):
            raise self.fail(
                f"{field}.longitude", "longitude-range", f"{longitude} not in -180..180"
            )
        self.non_empty(location, "facility_id", f"{field}.")
        self.non_empty(location, "city", f"{field}.")

    def place(self, place: Mapping[str, Any] | None, field: str) -> None:
        if place is None:
            return
        self.country(place["country"], f"{field}.country")
        self.non_empty(place, "city", f"{field}.")
        prefix = place["postal_prefix"]
        if prefix is not None and not _POSTAL_PREFIX.fullmatch(prefix):
            raise self.fail(
                f"{field}.postal_prefix",
                "postal-prefix",
                f"{prefix!r}: 1-10 letters, digits, spaces or hyphens, starting alphanumeric",
            )

    def gtin(self, value: str | None, field: str) -> None:
        if value is None:
            return
        try:
            gtin14 = normalize_gtin(value)
        except InvalidCodeError as exc:
            raise self.fail(field, exc.rule, exc.detail) from exc
        if gtin14 != value:
            raise self.fail(field, "gtin-14", f"write GTINs as 14 digits: {gtin14}")

    def serial(self, value: str | None, field: str) -> None:
        if value is None:
            return
        try:
            check_serial(value)
        except InvalidCodeError as exc:
            raise self.fail(field, exc.rule, exc.detail) from exc


def _carrier_scan(record: Mapping[str, Any], rules: _Rules) -> None:
    for field in ("event_id", "raw_event_code", "tracking_number", "retracts_event_id"):
        rules.non_empty(record, field)
    rules.code(record)
    rules.carrier(record["carrier"], "carrier")
    rules.status_pair(record["status"], record["sub_status"], "sub_status")
    rules.location(record["location"], "location")
    rules.offset(record, "event_utc_offset_minutes")
    rules.aware(record, "event_time", "received_time")
    rules.not_after_receipt(record, "event_time")
    if record["retracts_event_id"] == record["event_id"]:
        raise rules.fail(
            "retracts_event_id", "retracts-other-event", "an event cannot retract itself"
        )


def _seller_dispatch(record: Mapping[str, Any], rules: _Rules) -> None:
    for field in ("event_id", "order_id", "seller_id", "tracking_number"):
        rules.non_empty(record, field)
    code = rules.code(record)
    product = record["product"]
    rules.non_empty(product, "sku", "product.")
    rules.gtin(product["gtin"], "product.gtin")
    rules.serial(product["serial"], "product.serial")
    if product["serial"] is not None and product["gtin"] is None:
        raise rules.fail("product.serial", "serial-needs-gtin", "a serial number needs its GTIN")
    if product["digital_link"] is not None:
        try:
            link = parse_code(product["digital_link"])
        except InvalidCodeError as exc:
            raise rules.fail("product.digital_link", exc.rule, exc.detail) from exc
        if link.kind is not CodeKind.SGTIN or not product["digital_link"].lower().startswith(
            "http"
        ):
            raise rules.fail("product.digital_link", "digital-link", "not a GS1 Digital Link URI")
        for part in ("gtin", "serial"):
            if product[part] is not None and product[part] != getattr(link, part):
                raise rules.fail(
                    "product.digital_link",
                    "digital-link-matches-product",
                    f"the link's {part} {getattr(link, part)!r} differs from {product[part]!r}",
                )
    gtin = product["gtin"]
    if code.kind is CodeKind.SGTIN and gtin is not None and code.gtin != gtin:
        raise rules.fail(
            "product.gtin",
            "code-matches-product",
            f"the code is GTIN {code.gtin}, the product {gtin}",
        )
    if record["quantity"] < 1:
        raise rules.fail("quantity", "quantity-positive", f"{record['quantity']} < 1")
    rules.offset(record, "dispatch_utc_offset_minutes")
    rules.aware(record, "dispatch_time", "promised_ship_by", "promised_delivery", "received_time")
    rules.not_after_receipt(record, "dispatch_time")
    rules.carrier(record["carrier"], "carrier")
    rules.place(record["origin"], "origin")
    rules.place(record["destination"], "destination")


def _status_changed(record: Mapping[str, Any], rules: _Rules) -> None:
    rules.code(record)
    if record["version"] < 1:
        raise rules.fail("version", "version-positive", f"{record['version']} < 1")
    rules.status_pair(record["status"], record["sub_status"], "sub_status")
    rules.status_pair(
        record["previous_status"], record["previous_sub_status"], "previous_sub_status"
    )
    rules.non_empty(record, "cause_event_id")
    rules.carrier(record["carrier"], "carrier")
    rules.location(record["location"], "location")
    rules.country(record["origin_country"], "origin_country")
    rules.country(record["destination_country"], "destination_country")
    rules.aware(
        record,
        "changed_at",
        "emitted_at",
        "dispatched_at",
        "first_scan_at",
        "delivered_at",
        "promised_delivery",
    )


def _history_record(record: Mapping[str, Any], rules: _Rules) -> None:
    rules.non_empty(record, "event_id")
    rules.code(record)
    kind = record["kind"]
    if kind == "SCAN" and record["event_status"] is None:
        raise rules.fail("event_status", "scan-status-required", "a scan reports a status")
    if (kind == "RETRACTION") != (record["retracts_event_id"] is not None):
        raise rules.fail(
            "retracts_event_id", "retraction-target", "set for retractions and only for them"
        )
    rules.status_pair(record["event_status"], record["event_sub_status"], "event_sub_status")
    rules.status_pair(
        record["shipment_status"], record["shipment_sub_status"], "shipment_sub_status"
    )
    if record["status_version"] < 0:
        raise rules.fail("status_version", "version-non-negative", f"{record['status_version']}")
    rules.carrier(record["carrier"], "carrier")
    rules.location(record["location"], "location")
    rules.place(record["origin"], "origin")
    rules.place(record["destination"], "destination")
    rules.gtin(record["gtin"], "gtin")
    rules.serial(record["serial"], "serial")
    rules.offset(record, "event_utc_offset_minutes")
    rules.aware(
        record,
        "event_time",
        "received_time",
        "processed_time",
        "dispatched_at",
        "promised_ship_by",
        "promised_delivery",
        "first_scan_at",
    )


def _alert(record: Mapping[str, Any], rules: _Rules) -> None:
    for field in ("alert_id", "rule", "message"):
        rules.non_empty(record, field)
    rules.code(record)
    if not record["evidence"]:
        raise rules.fail("evidence", "evidence-required", "an alert shows the events behind it")
    for index, evidence in enumerate(record["evidence"]):
        path = f"evidence[{index}]"
        rules.non_empty(evidence, "event_id", f"{path}.")
        rules.status_pair(evidence["status"], evidence["sub_status"], f"{path}.sub_status")
        rules.carrier(evidence["carrier"], f"{path}.carrier")
        rules.location(evidence["location"], f"{path}.location")
        rules.aware(evidence, "event_time")
    for name, value in record["metrics"].items():
        if not math.isfinite(value):
            raise rules.fail(f"metrics[{name!r}]", "metric-finite", f"{value} is not finite")
    rules.aware(record, "detected_at", "emitted_at")


def _dead_letter(record: Mapping[str, Any], rules: _Rules) -> None:
    rules.non_empty(record, "topic")
    rules.non_empty(record, "error_class")
    for field in ("partition", "offset"):
        if record[field] < 0:
            raise rules.fail(field, "non-negative", f"{record[field]} < 0")
    if record["stage"] not in DEAD_LETTER_STAGES:
        raise rules.fail(
            "stage",
            "dead-letter-stage",
            f"{record['stage']!r} is not one of {sorted(DEAD_LETTER_STAGES)}",
        )
    rules.aware(record, "timestamp", "failed_at")


def _shipment_state(record: Mapping[str, Any], rules: _Rules) -> None:
    rules.code(record)
    rules.status_pair(record["status"], record["sub_status"], "sub_status")
    for field in ("status_version", "scan_count"):
        if record[field] < 0:
            raise rules.fail(field, "non-negative", f"{record[field]} < 0")
    rules.carrier(record["carrier"], "carrier")
    rules.location(record["location"], "location")
    rules.aware(
        record,
        "first_scan_at",
        "last_scan_at",
        "delivered_at",
        "last_event_time",
        "expired_at",
        "updated_at",
    )


_VALIDATORS: dict[RecordType, Callable[[Mapping[str, Any], _Rules], None]] = {
    RecordType.CARRIER_SCAN: _carrier_scan,
    RecordType.SELLER_DISPATCH: _seller_dispatch,
    RecordType.SHIPMENT_STATUS_CHANGED: _status_changed,
    RecordType.SHIPMENT_HISTORY_RECORD: _history_record,
    RecordType.SHIPMENT_ALERT: _alert,
    RecordType.DEAD_LETTER: _dead_letter,
    RecordType.SHIPMENT_STATE: _shipment_state,
}


def is_carrier_slug(value: str) -> bool:
    """Whether ``value`` may name a carrier: a lower-case slug like ``cainiao``."""
    return _CARRIER.fullmatch(value) is not None


def validate(
    record_type: RecordType,
    record: Mapping[str, Any],
    *,
    marketplace: MarketplaceFormat = DEFAULT_MARKETPLACE_FORMAT,
) -> None:
    """Check ``record`` (which fits its Avro schema) against the semantic rules of its type.

    ``marketplace`` is the deployment's marketplace code format. Raises
    :class:`InvalidRecordError` for the first broken rule.
    """
    rules = _Rules(record_type, marketplace)
    try:
        _VALIDATORS[record_type](record, rules)
    except KeyError as exc:
        raise rules.fail(str(exc.args[0]), "avro-required", "field missing") from exc
    except (AttributeError, TypeError) as exc:
        raise rules.fail("?", "avro-type", f"record does not fit its schema: {exc}") from exc
