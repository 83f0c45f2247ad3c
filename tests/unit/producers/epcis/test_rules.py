"""Rules beyond structure: time values, CBV vocabulary, EPC grammar, what each action needs."""

from __future__ import annotations

from typing import Any

import pytest

from producers.epcis.document import read_input
from producers.epcis.errors import Problem
from producers.epcis.rules import rule_problems
from tests.unit.producers.epcis.builders import EPCIS_CONTEXT, document, dumps, object_event

SSCC = "urn:epc:id:sscc:0614141.1234567890"
SGTIN = "urn:epc:id:sgtin:0614141.107346.2017"


def problems_of(value: dict[str, Any]) -> list[Problem]:
    return rule_problems(read_input(dumps(value)))


def found(value: dict[str, Any]) -> set[tuple[int | None, str, str]]:
    return {(p.event_index, p.field, p.rule) for p in problems_of(value)}


def aggregation(**fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "AggregationEvent",
        "eventTime": "2024-05-01T10:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "parentID": SSCC,
        "childEPCs": [SGTIN],
        "action": "ADD",
        "bizStep": "packing",
    }
    event.update(fields)
    return {key: value for key, value in event.items() if value is not None}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"bizStep": "transforming"}, ("bizStep", "cbv-bizStep")),
        ({"bizStep": "https://ref.gs1.org/cbv/BizStep-transforming"}, ("bizStep", "cbv-bizStep")),
        ({"bizStep": "urn:epcglobal:cbv:bizstep:in_transit"}, ("bizStep", "cbv-bizStep")),
        ({"disposition": "in_transport"}, ("disposition", "cbv-disposition")),
        (
            {"persistentDisposition": {"set": ["completeness_verified", "sealed"]}},
            ("persistentDisposition.set[1]", "cbv-disposition"),
        ),
        (
            {"bizTransactionList": [{"type": "invoice", "bizTransaction": "urn:x:1"}]},
            ("bizTransactionList[0].type", "cbv-bizTransactionType"),
        ),
        (
            {"destinationList": [{"type": "place", "destination": "urn:x:1"}]},
            ("destinationList[0].type", "cbv-sourceDestType"),
        ),
        (
            {"errorDeclaration": {"declarationTime": "2024-06-01T00:00:00Z", "reason": "oops"}},
            ("errorDeclaration.reason", "cbv-errorReason"),
        ),
    ],
)
def test_vocabulary_outside_cbv_is_rejected(
    fields: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert found(document(object_event(), object_event(**fields))) == {(1, *expected)}


def test_a_bad_business_step_is_named_precisely() -> None:
    event = object_event(bizStep="transforming", eventID="urn:uuid:0b8e5c52-1111-4a57-9d0e-2f1a")
    [problem] = problems_of(document(object_event(), event))
    assert str(problem) == (
        "event 1 (eventID urn:uuid:0b8e5c52-1111-4a57-9d0e-2f1a), field bizStep: "
        "'transforming' is not a CBV 2.0 business step; a bare word must be a standard term, "
        "and a value of your own must be a URI [cbv-bizStep]"
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"bizStep": "urn:epcglobal:cbv:bizstep:shipping"},
        {"bizStep": "https://ref.gs1.org/cbv/BizStep-shipping"},
        {"bizStep": "https://carrier.example.com/steps/hub-scan"},
        {"bizStep": "ext1:summarising_discharge"},
        {"disposition": "urn:epcglobal:cbv:disp:in_transit"},
        {"bizTransactionList": [{"type": "urn:epcglobal:cbv:btt:bol", "bizTransaction": "urn:x"}]},
        {"sourceList": [{"type": "cbv:my_own_party", "source": "urn:x:1"}]},
    ],
)
def test_cbv_terms_in_any_form_and_own_uris_pass(fields: dict[str, Any]) -> None:
    assert problems_of(document(object_event(**fields))) == []


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"eventTime": "2024-05-01 10:00:00+02:00"}, "eventTime"),
        ({"recordTime": "2024-02-30T10:00:00Z"}, "recordTime"),
        (
            {"errorDeclaration": {"declarationTime": "yesterday"}},
            "errorDeclaration.declarationTime",
        ),
        (
            {"sensorElementList": [{"sensorReport": [{"type": "Temperature", "time": "noon"}]}]},
            "sensorElementList[0].sensorReport[0].time",
        ),
    ],
)
def test_times_must_be_rfc3339(fields: dict[str, Any], field: str) -> None:
    assert found(document(object_event(**fields))) == {(0, field, "date-time")}


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (object_event(epcList=["urn:epc:id:sgtin:061414.107346.2017"]), "epcList[0]"),
        (object_event(readPoint={"id": "urn:epc:id:sgln:0614141.0734.1"}), "readPoint.id"),
        (
            object_event(quantityList=[{"epcClass": "urn:epc:id:sgtin:0614141.107346.1"}]),
            "quantityList[0].epcClass",
        ),
        (aggregation(parentID="urn:epc:id:sscc:0614141.12345"), "parentID"),
        (
            object_event(sourceList=[{"type": "location", "source": "urn:epc:tag:sgln-96:x"}]),
            "sourceList[0].source",
        ),
        (
            object_event(bizTransactionList=[{"bizTransaction": "urn:epc:id:gdti:0614141.1"}]),
            "bizTransactionList[0].bizTransaction",
        ),
    ],
)
def test_epc_uris_must_follow_the_tag_data_standard(event: dict[str, Any], field: str) -> None:
    assert found(document(event)) == {(0, field, "epc-uri")}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (object_event(epcList=None), (0, "epcList", "what")),
        (object_event(action="OBSERVE", ilmd={"ex:lot": "1"}), (0, "ilmd", "ilmd-action")),
        (aggregation(parentID=None), (0, "parentID", "required")),
        (aggregation(action="DELETE", parentID=None), (0, "parentID", "required")),
        (aggregation(childEPCs=[]), (0, "childEPCs", "what")),
        (
            {
                "type": "TransformationEvent",
                "eventTime": "2024-05-01T10:00:00Z",
                "eventTimeZoneOffset": "+00:00",
                "inputEPCList": [SGTIN],
            },
            (0, "outputEPCList", "what"),
        ),
        (
            object_event(
                sensorElementList=[{"sensorReport": [{"value": 4.5, "uom": "CEL"}]}],
            ),
            (0, "sensorElementList[0].sensorReport[0]", "sensor-report"),
        ),
    ],
)
def test_what_each_event_type_needs(event: dict[str, Any], expected: tuple[int, str, str]) -> None:
    assert found(document(event)) == {expected}


@pytest.mark.parametrize(
    "event",
    [
        object_event(epcList=[]),  # an empty epcList is allowed, as in the standard's schema
        object_event(epcList=None, quantityList=[{"epcClass": "urn:x:c", "quantity": 2}]),
        object_event(action="ADD", ilmd={"cbvmda:lotNumber": "A1"}),
        aggregation(action="OBSERVE", parentID=None),
        aggregation(action="DELETE", childEPCs=None),
        object_event(sensorElementList=[{"sensorReport": [{"exception": "ALARM_CONDITION"}]}]),
    ],
)
def test_what_the_standard_allows(event: dict[str, Any]) -> None:
    assert problems_of(document(event)) == []


def test_the_document_needs_the_epcis_context_and_version_2() -> None:
    value = document(
        object_event(),
        **{
            "@context": ["https://example.com/my-context.jsonld"],
            "schemaVersion": "1.2",
            "creationDate": "2024-05-01",
        },
    )
    assert found(value) == {
        (None, "@context", "epcis-context"),
        (None, "schemaVersion", "schema-version"),
        (None, "creationDate", "date-time"),
    }


@pytest.mark.parametrize(
    "context",
    [
        EPCIS_CONTEXT,
        "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        [EPCIS_CONTEXT, {"ex": "https://example.com/"}],
    ],
)
def test_the_epcis_context_in_its_forms(context: Any) -> None:
    assert problems_of({"@context": context, **object_event()}) == []
