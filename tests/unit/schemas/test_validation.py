from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from schemas.codes import MarketplaceFormat, marketplace_code
from schemas.errors import InvalidRecordError
from schemas.records import RecordType
from schemas.validation import COUNTRIES, MAX_CLOCK_SKEW, is_carrier_slug, validate

from .samples import CODE, SAMPLES

Edit = Callable[[dict[str, Any]], object]


@pytest.mark.parametrize("record_type", list(RecordType))
def test_realistic_records_pass(record_type: RecordType) -> None:
    validate(record_type, SAMPLES[record_type]())


CASES: list[tuple[RecordType, Edit, str, str]] = [
    (RecordType.CARRIER_SCAN, lambda r: r.update(code=CODE.lower()), "code", "canonical-code"),
    (RecordType.CARRIER_SCAN, lambda r: r.update(code="TC000000000001X"), "code", "canonical-code"),
    (RecordType.CARRIER_SCAN, lambda r: r.update(event_id="  "), "event_id", "non-empty"),
    (
        RecordType.CARRIER_SCAN,
        lambda r: r.update(carrier="Cainiao Express"),
        "carrier",
        "carrier-slug",
    ),
    (
        RecordType.CARRIER_SCAN,
        lambda r: r.update(sub_status="DELIVERED_TO_RECIPIENT"),
        "sub_status",
        "sub-status-of-status",
    ),
    (
        RecordType.CARRIER_SCAN,
        lambda r: r["location"].update(country="UK"),
        "location.country",
        "iso-3166-alpha-2",
    ),
    (
        RecordType.CARRIER_SCAN,
        lambda r: r["location"].update(country="cn"),
        "location.country",
        "iso-3166-alpha-2",
    ),
    (
        RecordType.CARRIER_SCAN,
        lambda r: r["location"].update(latitude=91.0),
        "location.latitude",
        "latitude-range",
    ),
    (
        RecordType.CARRIER_SCAN,
        lambda r: r["location"].update(longitude=float("nan")),
        "location.longitude",
        "longitude-range",
    ),
    (
        RecordType.CARRIER_SCAN,
        lambda r: r["location"].update(longitude=None),
        "location",
        "lat-lon-pair",
    ),
    (
        RecordType.CARRIER_SCAN,
        lambda r: r.update(event_utc_offset_minutes=15 * 60),
        "event_utc_offset_minutes",
        "utc-offset-range",
    ),
    (
        RecordType.CARRIER_SCAN,
        lambda r: r.update(event_time=datetime(2024, 1, 1)),
        "event_time",
        "timezone-aware",
    ),
    (
        RecordType.CARRIER_SCAN,
        lambda r: r.update(event_time=r["received_time"] + MAX_CLOCK_SKEW + timedelta(seconds=1)),
        "event_time",
        "not-after-receipt",
    ),
    (
        RecordType.CARRIER_SCAN,
        lambda r: r.update(retracts_event_id=r["event_id"]),
        "retracts_event_id",
        "retracts-other-event",
    ),
    (RecordType.SELLER_DISPATCH, lambda r: r.update(quantity=0), "quantity", "quantity-positive"),
    (
        RecordType.SELLER_DISPATCH,
        lambda r: r.update(dispatch_time=r["received_time"] + timedelta(hours=8)),
        "dispatch_time",
        "not-after-receipt",
    ),
    (
        RecordType.SELLER_DISPATCH,
        lambda r: r["product"].update(gtin="09506000134353"),
        "product.gtin",
        "gtin-check-digit",
    ),
    (
        RecordType.SELLER_DISPATCH,
        lambda r: r["product"].update(gtin="9506000134352"),
        "product.gtin",
        "gtin-14",
    ),
    (
        RecordType.SELLER_DISPATCH,
        lambda r: r["product"].update(serial="a b"),
        "product.serial",
        "serial-charset",
    ),
    (
        RecordType.SELLER_DISPATCH,
        lambda r: r["product"].update(gtin=None),
        "product.serial",
        "serial-needs-gtin",
    ),
    (
        RecordType.SELLER_DISPATCH,
        lambda r: r["product"].update(digital_link="https://id.gs1.org/01/09506000134352/21/X"),
        "product.digital_link",
        "digital-link-matches-product",
    ),
    (
        RecordType.SELLER_DISPATCH,
        lambda r: r["product"].update(gtin="00614141123452", serial=None, digital_link=None),
        "product.gtin",
        "code-matches-product",
    ),
    (
        RecordType.SELLER_DISPATCH,
        lambda r: r["destination"].update(postal_prefix="01310-000-XYZ"),
        "destination.postal_prefix",
        "postal-prefix",
    ),
    (
        RecordType.SELLER_DISPATCH,
        lambda r: r["origin"].update(country="XX"),
        "origin.country",
        "iso-3166-alpha-2",
    ),
    (
        RecordType.SHIPMENT_STATUS_CHANGED,
        lambda r: r.update(version=0),
        "version",
        "version-positive",
    ),
    (
        RecordType.SHIPMENT_STATUS_CHANGED,
        lambda r: r.update(previous_status=None),
        "previous_sub_status",
        "status-pair",
    ),
    (
        RecordType.SHIPMENT_HISTORY_RECORD,
        lambda r: r.update(event_status=None, event_sub_status=None),
        "event_status",
        "scan-status-required",
    ),
    (
        RecordType.SHIPMENT_HISTORY_RECORD,
        lambda r: r.update(kind="RETRACTION"),
        "retracts_event_id",
        "retraction-target",
    ),
    (
        RecordType.SHIPMENT_HISTORY_RECORD,
        lambda r: r.update(shipment_status="DELIVERED"),
        "shipment_sub_status",
        "sub-status-of-status",
    ),
    (RecordType.SHIPMENT_ALERT, lambda r: r.update(evidence=[]), "evidence", "evidence-required"),
    (
        RecordType.SHIPMENT_ALERT,
        lambda r: r["metrics"].update(speed_kmh=float("inf")),
        "metrics['speed_kmh']",
        "metric-finite",
    ),
    (
        RecordType.SHIPMENT_ALERT,
        lambda r: r["evidence"][0].update(sub_status="LOST"),
        "evidence[0].sub_status",
        "sub-status-of-status",
    ),
    (RecordType.DEAD_LETTER, lambda r: r.update(offset=-1), "offset", "non-negative"),
    (RecordType.DEAD_LETTER, lambda r: r.update(stage="explode"), "stage", "dead-letter-stage"),
]


@pytest.mark.parametrize(
    ("record_type", "edit", "field", "rule"),
    CASES,
    ids=[f"{rt.short_name}-{rule}-{field}" for rt, _, field, rule in CASES],
)
def test_broken_rule_is_named(record_type: RecordType, edit: Edit, field: str, rule: str) -> None:
    record = SAMPLES[record_type]()
    edit(record)
    with pytest.raises(InvalidRecordError) as info:
        validate(record_type, record)
    assert (info.value.field, info.value.rule) == (field, rule)
    assert f"{field!r} breaks rule {rule!r}" in str(info.value)


@pytest.mark.parametrize(
    ("record_type", "field"),
    [(RecordType.CARRIER_SCAN, "event_time"), (RecordType.SELLER_DISPATCH, "dispatch_time")],
)
def test_an_event_may_run_ahead_of_its_receipt_by_the_clock_skew(
    record_type: RecordType, field: str
) -> None:
    record: dict[str, Any] = dict(SAMPLES[record_type]())
    record[field] = record["received_time"] + MAX_CLOCK_SKEW
    validate(record_type, record)


def test_non_canonical_code_error_says_what_to_write() -> None:
    record = SAMPLES[RecordType.CARRIER_SCAN]()
    record["code"] = "tc-" + CODE[2:]
    with pytest.raises(InvalidRecordError, match=f"write '{CODE}'"):
        validate(RecordType.CARRIER_SCAN, record)


def test_marketplace_format_of_the_deployment_is_used() -> None:
    record = SAMPLES[RecordType.CARRIER_SCAN]()
    record["code"] = "LP00123456789012"
    with pytest.raises(InvalidRecordError, match="canonical-code"):
        validate(RecordType.CARRIER_SCAN, record)
    plain = MarketplaceFormat(pattern=r"LP[0-9]{14}", check_character=False)
    validate(RecordType.CARRIER_SCAN, record, marketplace=plain)
    record["code"] = marketplace_code(3)
    with pytest.raises(InvalidRecordError):
        validate(RecordType.CARRIER_SCAN, record, marketplace=plain)


def test_missing_field_is_named() -> None:
    record: dict[str, Any] = dict(SAMPLES[RecordType.CARRIER_SCAN]())
    del record["carrier"]
    with pytest.raises(InvalidRecordError) as info:
        validate(RecordType.CARRIER_SCAN, record)
    assert (info.value.field, info.value.rule) == ("carrier", "avro-required")


def test_country_list_is_iso_3166_plus_kosovo() -> None:
    assert {"CN", "BR", "DE", "US", "GB", "SS", "CW", "XK"} <= COUNTRIES
    assert not {"UK", "EU", "XX", "cn", "CHN"} & COUNTRIES
    assert len(COUNTRIES) == 250


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("cainiao", True),
        ("dhl-express", True),
        ("4px", True),
        ("DHL", False),
        ("", False),
        ("-dhl", False),
        ("a b", False),
    ],
)
def test_carrier_slugs(value: str, valid: bool) -> None:
    assert is_carrier_slug(value) is valid
