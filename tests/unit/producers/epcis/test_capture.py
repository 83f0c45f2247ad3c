"""From valid EPCIS input to carrier scan records: the mapping, one rule at a time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest

from producers.epcis.capture import Capture, capture
from producers.epcis.errors import InvalidDocumentError
from producers.epcis.hashing import CONTENT_HASH_PREFIX, event_hash
from producers.epcis.mapping import retraction_id
from schemas.codec import codec_for
from schemas.records import RecordType
from tests.unit.producers.epcis.builders import EPCIS_CONTEXT, document, dumps, object_event

ITEM = "urn:epc:id:sgtin:0614141.107346.2017"
ITEM_CODE = "(01)10614141073464(21)2017"
ITEM_LINK = "https://id.gs1.org/01/10614141073464/21/2017"
OTHER = "urn:epc:id:sgtin:0614141.107346.2018"
OTHER_CODE = "(01)10614141073464(21)2018"
PALLET = "urn:epc:id:sscc:0614141.1234567890"
RECEIVED = datetime(2025, 1, 1, tzinfo=UTC)


def run(value: dict[str, Any], **options: Any) -> Capture:
    return capture(dumps(value), received_time=RECEIVED, **options)


def aggregation(**fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "AggregationEvent",
        "eventID": "urn:uuid:5a0e8a3c-0000-4000-8000-00000000a661",
        "eventTime": "2024-05-01T10:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "parentID": "urn:epc:id:sgtin:0614141.107346.9000",
        "childEPCs": [ITEM, OTHER],
        "action": "OBSERVE",
        "bizStep": "receiving",
        "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0"},
    }
    event.update(fields)
    return {key: value for key, value in event.items() if value is not None}


def test_a_scan_per_item_with_every_field_mapped() -> None:
    event = object_event(
        eventID="urn:uuid:1f8c0a52-9d31-4c1f-bb43-2f8e0a6b7c11", epcList=[ITEM, OTHER]
    )
    result = run(document(event), carrier="dhl-express")
    first, second = result.records
    assert first == {
        "event_id": "urn:uuid:1f8c0a52-9d31-4c1f-bb43-2f8e0a6b7c11",
        "code": ITEM_CODE,
        "carrier": "dhl-express",
        "tracking_number": None,
        "raw_event_code": "shipping",
        "raw_description": "ObjectEvent OBSERVE: bizStep shipping, disposition in_transit",
        "status": "IN_TRANSIT",
        "sub_status": "DEPARTED_FACILITY",
        "location": {
            "facility_id": "urn:epc:id:sgln:0614141.07346.1234",
            "city": None,
            "country": None,
            "latitude": None,
            "longitude": None,
        },
        "event_time": datetime(2024, 5, 1, 8, 0, tzinfo=UTC),
        "event_utc_offset_minutes": 120,
        "received_time": RECEIVED,
        "source": "EPCIS",
        "retracts_event_id": None,
    }
    assert (second["code"], second["event_id"]) == (OTHER_CODE, first["event_id"])
    assert result.summary.scans == 2
    codec = codec_for(RecordType.CARRIER_SCAN)
    assert codec.decode(codec.encode(first)) == first


@pytest.mark.parametrize(
    ("step", "disposition", "status", "sub_status", "raw_code"),
    [
        (
            "urn:epcglobal:cbv:bizstep:arriving",
            None,
            "IN_TRANSIT",
            "ARRIVED_AT_FACILITY",
            "arriving",
        ),
        ("https://ref.gs1.org/cbv/BizStep-accepting", None, "IN_TRANSIT", "PICKED_UP", "accepting"),
        ("inspecting", "damaged", "EXCEPTION", "DAMAGED", "inspecting"),
        ("receiving", "returned", "EXCEPTION", "RETURNED_TO_SENDER", "receiving"),
        (None, "in_transit", "IN_TRANSIT", "IN_TRANSIT", "in_transit"),
        (
            "https://carrier.example.com/steps/x",
            "stolen",
            "EXCEPTION",
            "LOST",
            "https://carrier.example.com/steps/x",
        ),
    ],
)
def test_business_step_and_disposition_give_the_status(
    step: str | None, disposition: str | None, status: str, sub_status: str, raw_code: str
) -> None:
    [record] = run(document(object_event(bizStep=step, disposition=disposition))).records
    assert (record["status"], record["sub_status"], record["raw_event_code"]) == (
        status,
        sub_status,
        raw_code,
    )


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        ("commissioning", "bizStep commissioning: no shipment movement"),
        ("https://carrier.example.com/steps/x", "bizStep of the sender's own vocabulary"),
        (None, "no bizStep, and no disposition that decides a status"),
    ],
)
def test_events_without_movement_are_counted_not_scanned(step: str | None, reason: str) -> None:
    result = run(document(object_event(bizStep=step, disposition="in_progress")))
    assert result.records == []
    [(counted, count)] = result.summary.skipped_events.items()
    assert reason in counted and count == 1


def test_event_types_without_movement_are_counted_by_type() -> None:
    common = {"eventTime": "2024-05-01T10:00:00Z", "eventTimeZoneOffset": "+00:00"}
    events = [
        {**common, "type": "TransformationEvent", "inputEPCList": [ITEM], "outputEPCList": [OTHER]},
        {
            **common,
            "type": "AssociationEvent",
            "action": "ADD",
            "parentID": "urn:epc:id:grai:4012345.55555.987",
            "childEPCs": [ITEM],
        },
        {
            **common,
            "type": "TransactionEvent",
            "action": "ADD",
            "bizStep": "shipping",
            "epcList": [ITEM],
            "bizTransactionList": [{"type": "po", "bizTransaction": "urn:x:po:1"}],
        },
        {
            **common,
            "type": "TransactionEvent",
            "action": "DELETE",
            "bizTransactionList": [{"bizTransaction": "urn:x:po:1"}],
        },
        {**common, "type": "ex:CustomsEvent", "ex:office": "DEHAM"},
        object_event(),
    ]
    result = run(document(*events, **{"@context": [EPCIS_CONTEXT, {"ex": "https://ex.example/"}]}))
    assert result.summary.scans == 1
    assert result.summary.events_read == 6
    assert dict(result.summary.skipped_events) == {
        "TransformationEvent: no shipment movement": 1,
        "AssociationEvent: no shipment movement": 1,
        "TransactionEvent: no shipment movement": 2,
        "ex:CustomsEvent: no shipment movement": 1,
    }


def test_an_aggregation_scans_the_parent_and_each_child() -> None:
    result = run(document(aggregation()))
    child = "AggregationEvent OBSERVE, child of urn:epc:id:sgtin:0614141.107346.9000"
    assert [(r["code"], r["raw_description"]) for r in result.records] == [
        ("(01)10614141073464(21)9000", "AggregationEvent OBSERVE, parent: bizStep receiving"),
        (ITEM_CODE, f"{child}: bizStep receiving"),
        (OTHER_CODE, f"{child}: bizStep receiving"),
    ]
    assert {r["sub_status"] for r in result.records} == {"ARRIVED_AT_FACILITY"}


def test_an_sscc_parent_is_no_traceability_code_and_quantities_name_no_item() -> None:
    event = aggregation(
        parentID=PALLET,
        childQuantityList=[
            {"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 3}
        ],
    )
    result = run(document(event))
    assert [r["code"] for r in result.records] == [ITEM_CODE, OTHER_CODE]
    assert dict(result.summary.skipped_identifiers) == {
        "not a traceability code (sscc)": 1,
        "class-level quantity (no serial number)": 1,
    }


def test_an_unpacking_at_receipt_scans_what_it_names() -> None:
    # DELETE disaggregates; without childEPCs it means all children, of which only the parent
    # is known by name here.
    result = run(document(aggregation(action="DELETE", childEPCs=None)))
    assert [r["code"] for r in result.records] == ["(01)10614141073464(21)9000"]


def test_one_item_written_twice_is_scanned_once() -> None:
    result = run(document(object_event(epcList=[ITEM, ITEM_LINK])))
    assert [r["code"] for r in result.records] == [ITEM_CODE]


def test_an_event_with_no_traceable_identifier_is_counted() -> None:
    result = run(document(object_event(epcList=[PALLET])))
    assert result.records == []
    assert dict(result.summary.skipped_events) == {"no traceability code among its identifiers": 1}


class TestErrorDeclaration:
    ORIGINAL = object_event(
        eventID="urn:uuid:9e7c1a52-0000-4000-8000-0000000e4401", epcList=[ITEM, OTHER]
    )
    DECLARATION: ClassVar[dict[str, Any]] = {
        "declarationTime": "2024-05-03T09:30:00.000+01:00",
        "reason": "incorrect_data",
        "correctiveEventIDs": ["urn:uuid:9e7c1a52-0000-4000-8000-0000000c0223"],
    }
    CORRECTIVE = object_event(
        eventID="urn:uuid:9e7c1a52-0000-4000-8000-0000000c0223",
        epcList=[ITEM, OTHER],
        bizStep="departing",
    )

    def test_it_retracts_the_erroneous_event_per_code(self) -> None:
        declared = {**self.ORIGINAL, "errorDeclaration": self.DECLARATION}
        result = run(document(declared, self.CORRECTIVE))
        retractions = [r for r in result.records if r["retracts_event_id"]]
        assert [r["code"] for r in retractions] == [ITEM_CODE, OTHER_CODE]
        expected_id = retraction_id(
            self.ORIGINAL["eventID"], datetime(2024, 5, 3, 8, 30, tzinfo=UTC)
        )
        for record in retractions:
            assert record["retracts_event_id"] == self.ORIGINAL["eventID"]
            assert record["event_id"] == expected_id != record["retracts_event_id"]
            assert record["event_time"] == datetime(2024, 5, 3, 8, 30, tzinfo=UTC)
            assert record["event_utc_offset_minutes"] == 60
            assert (record["status"], record["sub_status"]) == ("UNKNOWN", "UNKNOWN")
            assert "urn:uuid:9e7c1a52-0000-4000-8000-0000000c0223" in record["raw_description"]
        # The corrective event is an ordinary event of its own.
        scans = [r for r in result.records if not r["retracts_event_id"]]
        assert {r["event_id"] for r in scans} == {self.CORRECTIVE["eventID"]}
        assert (result.summary.scans, result.summary.retractions) == (2, 2)

    def test_the_retraction_id_is_stable_and_tied_to_the_declaration_time(self) -> None:
        declared = {**self.ORIGINAL, "errorDeclaration": self.DECLARATION}
        first = run(document(declared)).records[0]["event_id"]
        assert run(document(declared)).records[0]["event_id"] == first
        later = {**self.DECLARATION, "declarationTime": "2024-05-04T09:30:00+01:00"}
        assert (
            run(document({**self.ORIGINAL, "errorDeclaration": later})).records[0]["event_id"]
            != first
        )

    def test_without_event_id_it_retracts_the_event_hash_of_the_original(self) -> None:
        original = {key: value for key, value in self.ORIGINAL.items() if key != "eventID"}
        scanned = run(document(original)).records[0]["event_id"]
        declared = run(document({**original, "errorDeclaration": self.DECLARATION})).records[0]
        assert scanned.startswith("ni:///sha-256;")
        assert declared["retracts_event_id"] == scanned


class TestEventIds:
    def test_without_event_id_the_standard_event_hash_is_the_id(self) -> None:
        event = object_event()
        [record] = run(document(event)).records
        assert record["event_id"] == event_hash(event, [EPCIS_CONTEXT])
        assert record["event_id"].startswith("ni:///sha-256;")

    def test_the_hash_does_not_depend_on_how_the_item_is_written(self) -> None:
        as_urn = run(document(object_event(epcList=[ITEM]))).records[0]
        as_link = run(document(object_event(epcList=[ITEM_LINK]))).records[0]
        assert as_urn["event_id"] == as_link["event_id"]

    def test_a_single_event_gets_the_same_id_as_in_a_document(self) -> None:
        single = run({"@context": EPCIS_CONTEXT, **object_event()}).records[0]
        assert single["event_id"] == run(document(object_event())).records[0]["event_id"]

    def test_where_the_reference_hash_fails_a_content_hash_stands_in(self) -> None:
        # epcis-event-hash-generator 1.9.3 fails on a business transaction without type.
        event = object_event(bizTransactionList=[{"bizTransaction": "urn:x:po:1"}])
        result = run(document(event, object_event(epcList=[OTHER])))
        first = result.records[0]["event_id"]
        assert first.startswith(CONTENT_HASH_PREFIX)
        assert result.records[1]["event_id"].startswith("ni:///sha-256;")
        assert result.summary.content_hash_ids == 1
        assert run(document(event)).records[0]["event_id"] == first


@pytest.mark.parametrize(
    ("event_time", "offset", "utc", "minutes"),
    [
        (
            "2005-04-03T20:33:31.116-06:00",
            "-06:00",
            datetime(2005, 4, 4, 2, 33, 31, 116000, UTC),
            -360,
        ),
        ("2024-05-01T04:30:00Z", "+05:30", datetime(2024, 5, 1, 4, 30, tzinfo=UTC), 330),
        (
            "2024-12-31T23:59:59.9999+14:00",
            "+14:00",
            datetime(2024, 12, 31, 9, 59, 59, 999000, UTC),
            840,
        ),
    ],
)
def test_event_time_in_utc_and_offset_as_reported(
    event_time: str, offset: str, utc: datetime, minutes: int
) -> None:
    event = object_event(eventTime=event_time, eventTimeZoneOffset=offset)
    [record] = run(document(event)).records
    assert (record["event_time"], record["event_utc_offset_minutes"]) == (utc, minutes)


def test_an_offset_valid_in_epcis_but_no_real_zone_is_rejected_by_the_record_contract() -> None:
    with pytest.raises(InvalidDocumentError) as caught:
        run(document(object_event(eventTimeZoneOffset="-13:00")))
    [problem] = caught.value.problems
    assert (problem.event_index, problem.field, problem.rule) == (
        0,
        "eventTimeZoneOffset",
        "record-utc-offset-range",
    )


def test_a_bad_carrier_name_is_refused_before_reading() -> None:
    with pytest.raises(ValueError, match="'Not A Slug' is not a lower-case slug"):
        run(document(object_event()), carrier="Not A Slug")


def test_a_bad_business_step_rejects_the_whole_document() -> None:
    value = document(object_event(), object_event(bizStep="transforming"))
    with pytest.raises(InvalidDocumentError) as caught:
        run(value)
    assert [(p.event_index, p.field, p.rule) for p in caught.value.problems] == [
        (1, "bizStep", "cbv-bizStep")
    ]
    assert "event 1, field bizStep: 'transforming' is not a CBV 2.0 business step" in str(
        caught.value
    )


class TestLocation:
    def test_the_read_point_else_the_business_location(self) -> None:
        both = object_event(bizLocation={"id": "urn:epc:id:sgln:0614141.00888.0"})
        assert run(document(both)).records[0]["location"]["facility_id"] == (
            "urn:epc:id:sgln:0614141.07346.1234"
        )
        only_site = object_event(
            readPoint=None, bizLocation={"id": "urn:epc:id:sgln:0614141.00888.0"}
        )
        assert run(document(only_site)).records[0]["location"]["facility_id"] == (
            "urn:epc:id:sgln:0614141.00888.0"
        )
        nowhere = run(document(object_event(readPoint=None))).records[0]["location"]
        assert set(nowhere.values()) == {None}

    def test_a_geo_uri_gives_coordinates(self) -> None:
        event = object_event(readPoint={"id": "geo:50.9475,6.9221;u=30"})
        location = run(document(event)).records[0]["location"]
        assert (location["latitude"], location["longitude"]) == (50.9475, 6.9221)

    def test_master_data_in_the_header_gives_city_country_and_coordinates(self) -> None:
        site = "urn:epc:id:sgln:0614141.07346.1234"
        header = {
            "epcisMasterData": {
                "vocabularyList": [
                    {
                        "type": "urn:epcglobal:epcis:vtype:ReadPoint",
                        "vocabularyElementList": [
                            {
                                "id": site,
                                "attributes": [
                                    {"id": "urn:epcglobal:cbv:mda#city", "attribute": "Shenzhen"},
                                    {"id": "cbvmda:countryCode", "attribute": "cn"},
                                    {"id": "cbvmda:latitude", "attribute": "22.5431"},
                                    {"id": "cbvmda:longitude", "attribute": 114.0579},
                                ],
                            }
                        ],
                    }
                ]
            }
        }
        location = run(document(object_event(), epcisHeader=header)).records[0]["location"]
        assert location == {
            "facility_id": site,
            "city": "Shenzhen",
            "country": "CN",
            "latitude": 22.5431,
            "longitude": 114.0579,
        }

    def test_master_data_that_is_not_a_country_is_left_out(self) -> None:
        site = "urn:epc:id:sgln:0614141.07346.1234"
        header = {
            "epcisMasterData": {
                "vocabularyList": [
                    {
                        "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
                        "vocabularyElementList": [
                            {
                                "id": site,
                                "attributes": [
                                    {"id": "cbvmda:countryCode", "attribute": "Germany"}
                                ],
                            }
                        ],
                    }
                ]
            }
        }
        location = run(document(object_event(), epcisHeader=header)).records[0]["location"]
        assert location["country"] is None


def test_problems_are_listed_document_first_then_by_event() -> None:
    value = document(
        object_event(bizStep="transforming"),
        object_event(action="CREATE"),
        schemaVersion="1.2",
    )
    with pytest.raises(InvalidDocumentError) as caught:
        run(value)
    assert [(p.event_index, p.field) for p in caught.value.problems] == [
        (None, "schemaVersion"),
        (0, "bizStep"),
        (1, "action"),
    ]
