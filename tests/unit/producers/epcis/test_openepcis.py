"""EPCIS capture over the OpenEPCIS test resources (``../shared/data/epcis/openepcis``).

``Capture/Documents`` and ``Capture/Events`` are meant to be valid, ``Capture/Invalid`` invalid.
Expectations are written out by hand below, from reading each file, not computed by the code
under test. Known quirks of the set (shared/README.md):

- the Invalid files that are structurally valid break CBV 2.0 vocabulary (bare ``transforming``,
  ``in_transport`` and ``place`` are no CBV terms; an ILMD field needs a namespace), so they
  are invalid per the standard and rejected like the others: no Invalid file is accepted;
- ``SensorData_with_combined_events.json`` has sensor reports without ``type`` (alarm
  reports with an ``exception`` only); capture accepts a report with either, see docs/epcis.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from producers.epcis.capture import capture
from producers.epcis.errors import InvalidDocumentError
from schemas.codes import parse_code

ROOT = Path(__file__).resolve().parents[4]
CAPTURE = ROOT.parent / "shared" / "data" / "epcis" / "openepcis" / "2.0" / "EPCIS" / "JSON"
CAPTURE = CAPTURE / "Capture"

pytestmark = pytest.mark.skipif(
    not CAPTURE.is_dir(), reason=f"the shared OpenEPCIS set is not at {CAPTURE}"
)

SCANS_AND_RETRACTIONS: dict[str, tuple[int, int]] = {
    # Parent SSCC is no traceability code; the two SGTIN children are scanned (receiving).
    "Documents/AggregationEvent.json": (2, 0),
    # The same aggregation with an errorDeclaration: one retraction per SGTIN child.
    "Documents/AggregationEvent_all_possible_fields.json": (0, 2),
    # Children as GS1 Digital Links; parent SSCC skipped.
    "Documents/AggregationEvent_with_digitalLink.json": (2, 0),
    # OBSERVE receiving: SGTIN parent + 10 children; DELETE unpacking: no movement.
    "Documents/AggregationEvent_with_persistentDisposition.json": (11, 0),
    # ADD packing: no movement (and only an SSCC parent with a quantity).
    "Documents/AggregationEvent_with_sensorData.json": (0, 0),
    "Documents/AggregationEvent_with_userExtensions.json": (2, 0),
    # Sensor reporting and unpacking carry no movement; the other events are other types.
    "Documents/Combination_of_different_event.json": (0, 0),
    # One Digital Link SGTIN, receiving.
    "Documents/CurieString_document.json": (1, 0),
    # Five ObjectEvents without bizStep or disposition: no status to report.
    "Documents/Namespaces_at_different_level.json": (0, 0),
    # Shipping of two SGTINs, receiving of one.
    "Documents/ObjectEvent.json": (3, 0),
    # An errorDeclaration of a receiving of one SGTIN (its quantity is class-level).
    "Documents/ObjectEvent_all_possible_fields.json": (0, 1),
    "Documents/ObjectEvent_with_comment.json": (3, 0),
    # A bizStep of the sender's own vocabulary: no known movement.
    "Documents/ObjectEvent_with_custom_bizStep_uri.json": (0, 0),
    # Only a class-level quantity.
    "Documents/ObjectEvent_with_digitalLink.json": (0, 0),
    # The shipping of two SGTINs declared erroneous, then a receiving of one.
    "Documents/ObjectEvent_with_error_declaration.json": (1, 2),
    # Receiving then inspecting of the same 10 SGTINs.
    "Documents/ObjectEvent_with_persistentDisposition.json": (20, 0),
    "Documents/ObjectEvent_with_sensorData.json": (1, 0),
    # Shipping of two SGTINs; commissioning (no movement) of a quantity.
    "Documents/ObjectEvent_with_userExtensions.json": (2, 0),
    "Documents/SensorData_and_extension.json": (1, 0),
    # Seven inspecting ObjectEvents, four of them with one SGTIN; the rest carries no movement.
    "Documents/SensorData_with_combined_events.json": (4, 0),
    # bizStep "other": no movement.
    "Documents/epcisDocWithAllGS1Keys.json": (0, 0),
    "Documents/epcisDocWithSensorComponent.json": (0, 0),
    # A single event: receiving of an SGTIN parent and three SGTIN children.
    "Events/AggregationEvent.json": (4, 0),
    "Events/ObjectEvent.json": (1, 0),
}

REJECTED_FOR: dict[str, set[tuple[int | None, str, str]]] = {
    "Combination_of_events_with_missing_mandatory_fields.json": {
        (0, "action", "required"),
        (1, "action", "required"),
        (1, "eventTimeZoneOffset", "required"),
    },
    "Combination_of_multiple_invalid_fields.json": {
        (0, "bizStep", "cbv-bizStep"),
        (1, "disposition", "cbv-disposition"),
        (2, "sourceList[0].type", "cbv-sourceDestType"),
        (3, "ilmd.materialType", "field-name"),
        (4, "eventTime", "date-time"),
        (4, "action", "enum"),
    },
    "Combination_of_non_standard_bizStep_and_disposition.json": {
        (0, "bizStep", "cbv-bizStep"),
        (1, "disposition", "cbv-disposition"),
    },
    "EPCISDocument_without_context.json": {(None, "@context", "required")},
    "ObjectEvent_with_ilmd_field_without_namespace.json": {(0, "ilmd.materialType", "field-name")},
    "ObjectEvent_with_invalid_action.json": {(0, "action", "enum")},
    # certificationInfo is a URI or a list of URIs, not objects.
    "ObjectEvent_with_invalid_certificationInfo.json": {(0, "certificationInfo", "anyOf")},
    "ObjectEvent_with_invalid_eventTime_format.json": {(0, "eventTime", "date-time")},
    "ObjectEvent_with_non_standard_bizStep.json": {(0, "bizStep", "cbv-bizStep")},
    "ObjectEvent_with_non_standard_bizStep_in_second_event.json": {(1, "bizStep", "cbv-bizStep")},
    "ObjectEvent_with_non_standard_disposition.json": {(0, "disposition", "cbv-disposition")},
    "ObjectEvent_with_quantity_as_text.json": {(0, "quantityList[0].quantity", "type")},
    "ObjectEvent_with_unknown_field_in_quantityList.json": {
        (0, "quantityList[0].weight", "field-name")
    },
    "ObjectEvent_without_action_and_eventTime.json": {
        (0, "eventTime", "required"),
        (0, "eventTimeZoneOffset", "required"),
        (0, "action", "required"),
    },
    "ObjectEvent_without_identifier_list.json": {(0, "epcList", "what")},
}

ACCEPTED_INVALID: dict[str, str] = {}
"""Files under Invalid that are valid per EPCIS 2.0 / CBV 2.0, with the reason: none."""


def _valid_files() -> list[str]:
    return sorted(
        str(path.relative_to(CAPTURE))
        for folder in ("Documents", "Events")
        for path in (CAPTURE / folder).glob("*.json")
    )


def _events(path: Path) -> list[dict[str, object]]:
    body = json.loads(path.read_text())
    return body["epcisBody"]["eventList"] if body["type"] == "EPCISDocument" else [body]


def test_the_table_lists_every_valid_file_with_object_or_aggregation_events() -> None:
    holding = {
        name
        for name in _valid_files()
        if any(
            event.get("type") in ("ObjectEvent", "AggregationEvent")
            for event in _events(CAPTURE / name)
        )
    }
    assert holding == set(SCANS_AND_RETRACTIONS)


@pytest.mark.parametrize("name", sorted(SCANS_AND_RETRACTIONS))
def test_valid_documents_give_the_expected_scans(name: str) -> None:
    result = capture((CAPTURE / name).read_bytes())
    scans, retractions = SCANS_AND_RETRACTIONS[name]
    assert (result.summary.scans, result.summary.retractions) == (scans, retractions)
    assert len(result.records) == scans + retractions
    ids = {event.get("eventID") for event in _events(CAPTURE / name)}
    for record in result.records:
        assert parse_code(record["code"]).canonical == record["code"]
        assert record["source"] == "EPCIS"
        given = record["retracts_event_id"] or record["event_id"]
        # Events without eventID are known by their standard event hash.
        assert given in ids or given.startswith("ni:///sha-256;")


@pytest.mark.parametrize(
    "name", [name for name in _valid_files() if name not in SCANS_AND_RETRACTIONS]
)
def test_valid_documents_without_object_or_aggregation_events_are_accepted(name: str) -> None:
    result = capture((CAPTURE / name).read_bytes())
    assert result.records == []
    assert sum(result.summary.skipped_events.values()) == result.summary.events_read > 0


def test_the_expectations_cover_every_invalid_file() -> None:
    names = {path.name for path in (CAPTURE / "Invalid").glob("*.json")}
    assert names == set(REJECTED_FOR) | set(ACCEPTED_INVALID)


@pytest.mark.parametrize("name", sorted(REJECTED_FOR))
def test_invalid_documents_are_rejected_naming_event_and_field(name: str) -> None:
    with pytest.raises(InvalidDocumentError) as caught:
        capture((CAPTURE / "Invalid" / name).read_bytes())
    found = {(p.event_index, p.field, p.rule) for p in caught.value.problems}
    assert REJECTED_FOR[name] <= found
    message = str(caught.value)
    for index, field, _ in REJECTED_FOR[name]:
        where = f"event {index}, field {field}" if index is not None else f"field {field}"
        assert where in message


QUERY_SCANS: dict[str, int] = {
    # The same events as the capture documents of the same names, as a query's answer.
    "CurieString_document.json": 1,
    "QueryDocumentWithMultipleEvents.json": 3,
    "SensorData_with_combined_events.json": 4,
}


@pytest.mark.parametrize("path", sorted((CAPTURE.parent / "Query").glob("*.json")), ids=str)
def test_query_documents_are_read_for_their_events(path: Path) -> None:
    body = json.loads(path.read_text())
    events = body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    result = capture(path.read_bytes())
    assert result.summary.events_read == len(events) > 0
    assert result.summary.scans == QUERY_SCANS.get(path.name, 0)
