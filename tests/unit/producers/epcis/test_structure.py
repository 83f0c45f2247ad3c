"""Reading capture input and checking its structure: what is rejected, and where it is placed."""

from __future__ import annotations

from typing import Any

import pytest

from producers.epcis.document import read_input
from producers.epcis.errors import InvalidDocumentError, Problem
from producers.epcis.structure import structural_problems
from tests.unit.producers.epcis.builders import EPCIS_CONTEXT, document, dumps, object_event


def problems_of(value: Any) -> list[Problem]:
    return structural_problems(read_input(dumps(value)))


def where(problems: list[Problem]) -> set[tuple[int | None, str, str]]:
    return {(problem.event_index, problem.field, problem.rule) for problem in problems}


def test_a_valid_document_and_a_single_event_have_no_problems() -> None:
    assert problems_of(document(object_event(), object_event(action="ADD"))) == []
    assert problems_of({"@context": EPCIS_CONTEXT, **object_event()}) == []


@pytest.mark.parametrize(
    ("text", "rule", "says"),
    [
        ('{"type": "EPCISDocument",', "json", "line 1, column"),
        ('{"type": "ObjectEvent", "type": "ObjectEvent"}', "json", "'type' appears twice"),
        ('{"type": "ObjectEvent", "value": NaN}', "json", "NaN is not a JSON number"),
        ("[1, 2]", "document-type", "must be a JSON object"),
        ('{"type": "Invoice"}', "document-type", "neither EPCISDocument"),
        ("{}", "document-type", "neither EPCISDocument"),
        ("[" * 100_000 + "]" * 100_000, "json", "nested too deeply"),
    ],
)
def test_unreadable_input_is_rejected_at_once(text: str, rule: str, says: str) -> None:
    with pytest.raises(InvalidDocumentError) as caught:
        read_input(text)
    [problem] = caught.value.problems
    assert problem.rule == rule
    assert says in problem.message


def test_bytes_that_are_not_utf8_are_rejected() -> None:
    with pytest.raises(InvalidDocumentError, match="not valid JSON"):
        read_input(b'{"type": "\xff"}')


def test_missing_fields_are_named_once_each() -> None:
    event = object_event(action=None, eventTimeZoneOffset=None)
    problems = problems_of(document(object_event(), event))
    assert [(p.event_index, p.field, p.rule) for p in problems] == [
        (1, "eventTimeZoneOffset", "required"),
        (1, "action", "required"),
    ]


def test_problems_carry_the_event_id() -> None:
    event = object_event(action="CREATE", eventID="urn:uuid:7a1e1b0e-52a4-4d7c-9d69-1d3f0ad6b4c2")
    [problem] = problems_of(document(event))
    assert problem.event_id == "urn:uuid:7a1e1b0e-52a4-4d7c-9d69-1d3f0ad6b4c2"
    assert str(problem) == (
        "event 0 (eventID urn:uuid:7a1e1b0e-52a4-4d7c-9d69-1d3f0ad6b4c2), field action: "
        "action 'CREATE' is not one of OBSERVE, ADD, DELETE [enum]"
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"eventTimeZoneOffset": "+15:00"}, ("eventTimeZoneOffset", "pattern")),
        ({"epcList": "urn:epc:id:sgtin:0614141.107346.2017"}, ("epcList", "type")),
        ({"epcList": ["not a uri"]}, ("epcList[0]", "pattern")),
        ({"epcList": ["urn:x:1", "urn:x:1"]}, ("epcList", "uniqueItems")),
        (
            {"quantityList": [{"epcClass": "urn:x:c", "quantity": "2"}]},
            ("quantityList[0].quantity", "type"),
        ),
        (
            {"quantityList": [{"epcClass": "urn:x:c", "uom": "kg"}]},
            ("quantityList[0].uom", "pattern"),
        ),
        (
            {"quantityList": [{"epcClass": "urn:x:c", "ex:w": 5}]},
            ("quantityList[0].ex:w", "field-name"),
        ),
        ({"readPoint": "urn:epc:id:sgln:0614141.07346.1234"}, ("readPoint", "type")),
        ({"readPoint": {}}, ("readPoint.id", "required")),
        ({"colour": "red"}, ("colour", "field-name")),
        ({"ilmd": {"lot": "A1"}, "action": "ADD"}, ("ilmd.lot", "field-name")),
        ({"certificationInfo": [{"agency": "x"}]}, ("certificationInfo", "anyOf")),
        (
            {"errorDeclaration": {"reason": "incorrect_data"}},
            ("errorDeclaration.declarationTime", "required"),
        ),
        ({"sourceList": [{"type": "location"}]}, ("sourceList[0].source", "required")),
        ({"parentID": "urn:epc:id:sscc:0614141.1234567890"}, ("parentID", "field-name")),
    ],
)
def test_structural_problems_are_placed_in_the_event(
    fields: dict[str, Any], expected: tuple[str, str]
) -> None:
    problems = problems_of(document(object_event(), object_event(**fields)))
    assert (1, *expected) in where(problems)
    assert all(problem.event_index == 1 for problem in problems)


def test_namespaced_extension_fields_are_allowed_anywhere() -> None:
    event = object_event(
        **{"ex:note": {"ex:nested": [1, 2]}, "readPoint": {"id": "urn:x:door", "ex:gate": "4"}}
    )
    assert problems_of(document(event, **{"ex:batch": "7"})) == []


def test_the_document_envelope_is_checked() -> None:
    problems = problems_of(document(object_event(), schemaVersion=2, epcisBody={}))
    assert where(problems) == {
        (None, "schemaVersion", "type"),
        (None, "epcisBody.eventList", "required"),
    }


def test_a_single_event_needs_its_context() -> None:
    assert where(problems_of(object_event())) == {(0, "@context", "required")}


def test_extension_event_types_are_uris() -> None:
    extension = {
        "type": "ex:CustomsEvent",
        "eventTime": "2024-05-01T10:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "ex:office": "DEHAM",
    }
    assert problems_of(document(extension)) == []
    problems = problems_of(document({**extension, "type": "CustomsEvent"}))
    assert where(problems) == {(0, "type", "pattern")}
    assert "neither an EPCIS event type nor an extension" in problems[0].message


def test_events_without_type_or_not_objects_are_placed_in_the_list() -> None:
    typeless = object_event(type=None, eventID="urn:uuid:2b8e5c52-1111-4a57-9d0e-2f1a")
    problems = problems_of(document(object_event(), typeless, "ObjectEvent"))
    assert (1, "type", "required") in where(problems)
    assert (2, "", "type") in where(problems)
    assert {p.event_id for p in problems if p.event_index == 1} == {
        "urn:uuid:2b8e5c52-1111-4a57-9d0e-2f1a"
    }


def test_messages_fit_the_failure() -> None:
    listed_twice = problems_of(document(object_event(epcList=["urn:x:1", "urn:x:1"])))
    not_a_list = problems_of(document(object_event(epcList="urn:x:1")))
    assert [p.message for p in listed_twice] == ["lists the same value more than once"]
    assert [p.message for p in not_a_list] == ["'urn:x:1' is not of type 'array'"]


def query_document(*events: dict[str, Any]) -> dict[str, Any]:
    return {
        **document(),
        "type": "EPCISQueryDocument",
        "epcisBody": {
            "queryResults": {
                "queryName": "SimpleEventQuery",
                "resultsBody": {"eventList": list(events)},
            }
        },
    }


def test_a_query_document_is_read_for_its_events() -> None:
    capture = read_input(dumps(query_document(object_event(), object_event())))
    assert capture.kind == "query"
    assert len(capture.events) == 2
    assert structural_problems(capture) == []


def test_a_query_document_places_its_problems_in_its_events() -> None:
    bad = {key: value for key, value in object_event().items() if key != "eventTime"}
    problems = problems_of(query_document(object_event(), bad, "not an event"))
    assert {(p.event_index, p.field, p.rule) for p in problems} >= {
        (1, "eventTime", "required"),
        (2, "", "type"),
    }
    empty = problems_of({**query_document(), "epcisBody": {"queryResults": {}}})
    assert {p.field for p in empty} == {
        "epcisBody.queryResults.queryName",
        "epcisBody.queryResults.resultsBody",
    }
