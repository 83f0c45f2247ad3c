"""EPCIS 2.0 rules beyond structure: time values, CBV vocabulary, EPC URI grammar, and the rules
each event type's ``action`` imposes (EPCIS 2.0 section 7.4).

Checks read only values of the right JSON type; a value of the wrong type is reported by
:mod:`producers.epcis.structure`, so both run and their problems add up.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from producers.epcis.document import CaptureInput, JsonObject, is_epcis_context
from producers.epcis.epc import Level, epc_uri_problem
from producers.epcis.errors import Problem
from producers.epcis.times import parse_timestamp
from producers.epcis.vocabulary import term_problem
from schemas.cbv import CbvKind

Finding = tuple[str, str, str]
"""``(field, rule, message)`` of one problem inside an event or document."""

_INSTANCE_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")


def rule_problems(capture: CaptureInput) -> list[Problem]:
    """Every rule ``capture`` breaks that its structure does not show."""
    problems = [Problem(field, rule, message) for field, rule, message in _document(capture)]
    for index, event in capture.indexed_events():
        event_id = event.get("eventID")
        problems.extend(
            Problem(field, rule, message, index, event_id if isinstance(event_id, str) else None)
            for field, rule, message in _event(event)
        )
    return problems


def _document(capture: CaptureInput) -> Iterator[Finding]:
    if "@context" in capture.body and not any(
        isinstance(entry, str) and is_epcis_context(entry) for entry in capture.context
    ):
        yield (
            "@context",
            "epcis-context",
            "@context does not reference the EPCIS 2.0 JSON-LD context "
            "(https://ref.gs1.org/standards/epcis/epcis-context.jsonld), which gives the "
            "fields and bare CBV words their meaning",
        )
    if capture.kind != "event":
        version = capture.body.get("schemaVersion")
        if isinstance(version, str) and version.split(".")[0] != "2":
            yield (
                "schemaVersion",
                "schema-version",
                f"schemaVersion {version!r}: only EPCIS 2.x JSON documents are read",
            )
        yield from _time(capture.body, "creationDate")


def _event(event: JsonObject) -> Iterator[Finding]:
    yield from _time(event, "eventTime")
    yield from _time(event, "recordTime")
    yield from _times_inside(event)
    yield from _vocabulary(event)
    yield from _identifiers(event)
    yield from _shape(event)


def _time(holder: JsonObject, key: str, field: str | None = None) -> Iterator[Finding]:
    value = holder.get(key)
    if isinstance(value, str):
        try:
            parse_timestamp(value)
        except ValueError as exc:
            yield field or key, "date-time", str(exc)


def _times_inside(event: JsonObject) -> Iterator[Finding]:
    declaration = event.get("errorDeclaration")
    if isinstance(declaration, dict):
        yield from _time(declaration, "declarationTime", "errorDeclaration.declarationTime")
    for i, element in _objects(event, "sensorElementList"):
        metadata = element.get("sensorMetadata")
        if isinstance(metadata, dict):
            for key in ("time", "startTime", "endTime"):
                yield from _time(metadata, key, f"sensorElementList[{i}].sensorMetadata.{key}")
        for j, report in _objects(element, "sensorReport"):
            yield from _time(report, "time", f"sensorElementList[{i}].sensorReport[{j}].time")


def _vocabulary(event: JsonObject) -> Iterator[Finding]:
    def check(value: Any, kind: CbvKind, field: str) -> Iterator[Finding]:
        if isinstance(value, str) and (problem := term_problem(value, kind)) is not None:
            yield field, f"cbv-{kind}", problem

    yield from check(event.get("bizStep"), "bizStep", "bizStep")
    yield from check(event.get("disposition"), "disposition", "disposition")
    persistent = event.get("persistentDisposition")
    if isinstance(persistent, dict):
        for key in ("set", "unset"):
            for i, value in _items(persistent, key):
                yield from check(value, "disposition", f"persistentDisposition.{key}[{i}]")
    for i, transaction in _objects(event, "bizTransactionList"):
        field = f"bizTransactionList[{i}].type"
        yield from check(transaction.get("type"), "bizTransactionType", field)
    for key in ("sourceList", "destinationList"):
        for i, entry in _objects(event, key):
            yield from check(entry.get("type"), "sourceDestType", f"{key}[{i}].type")
    declaration = event.get("errorDeclaration")
    if isinstance(declaration, dict):
        yield from check(declaration.get("reason"), "errorReason", "errorDeclaration.reason")


def _identifiers(event: JsonObject) -> Iterator[Finding]:
    def check(value: Any, level: Level, field: str) -> Iterator[Finding]:
        if isinstance(value, str) and (problem := epc_uri_problem(value, level)) is not None:
            yield field, "epc-uri", problem

    for key in _INSTANCE_LISTS:
        for i, value in _items(event, key):
            yield from check(value, Level.INSTANCE, f"{key}[{i}]")
    yield from check(event.get("parentID"), Level.INSTANCE, "parentID")
    for key in ("readPoint", "bizLocation"):
        place = event.get(key)
        if isinstance(place, dict):
            yield from check(place.get("id"), Level.INSTANCE, f"{key}.id")
    for key, name in (
        ("sourceList", "source"),
        ("destinationList", "destination"),
        ("bizTransactionList", "bizTransaction"),
    ):
        for i, entry in _objects(event, key):
            yield from check(entry.get(name), Level.INSTANCE, f"{key}[{i}].{name}")
    for key in _QUANTITY_LISTS:
        for i, quantity in _objects(event, key):
            yield from check(quantity.get("epcClass"), Level.CLASS, f"{key}[{i}].epcClass")


def _shape(event: JsonObject) -> Iterator[Finding]:
    kind = event.get("type")
    action = event.get("action")
    if kind == "ObjectEvent":
        senses = _filled(event, "sensorElementList") and "readPoint" in event
        if not ("epcList" in event or _filled(event, "quantityList") or senses):
            yield (
                "epcList",
                "what",
                "an ObjectEvent must say what it is about: an epcList, a non-empty "
                "quantityList, or sensor data with a readPoint",
            )
        if "ilmd" in event and action != "ADD":
            yield (
                "ilmd",
                "ilmd-action",
                "ilmd describes objects as they are created, so it is allowed only with action ADD",
            )
    elif kind in ("AggregationEvent", "AssociationEvent"):
        if kind == "AggregationEvent" and action in ("ADD", "DELETE") and "parentID" not in event:
            yield "parentID", "required", f"parentID is required when action is {action}"
        if action != "DELETE" and not (
            _filled(event, "childEPCs") or _filled(event, "childQuantityList")
        ):
            yield (
                "childEPCs",
                "what",
                f"an {kind} with action {action} must list its children "
                "(childEPCs or childQuantityList)",
            )
    elif kind == "TransactionEvent":
        if action != "DELETE" and not ("epcList" in event or _filled(event, "quantityList")):
            yield (
                "epcList",
                "what",
                "a TransactionEvent must list the objects of the transaction "
                "(epcList or quantityList)",
            )
    elif kind == "TransformationEvent":
        inputs = _filled(event, "inputEPCList") or _filled(event, "inputQuantityList")
        outputs = _filled(event, "outputEPCList") or _filled(event, "outputQuantityList")
        if "transformationID" not in event and not (inputs and outputs):
            yield (
                "inputEPCList" if not inputs else "outputEPCList",
                "what",
                "a TransformationEvent without transformationID needs at least one input "
                "and one output",
            )
        elif not (inputs or outputs):
            yield "inputEPCList", "what", "a TransformationEvent needs an input or an output"
    for i, element in _objects(event, "sensorElementList"):
        for j, report in _objects(element, "sensorReport"):
            # The JSON schema requires `type`, but a report of an alarm or error condition
            # has no measurement; one of the two must say what the report is.
            if "type" not in report and "exception" not in report:
                yield (
                    f"sensorElementList[{i}].sensorReport[{j}]",
                    "sensor-report",
                    "a sensorReport needs a measurement type or an exception",
                )


def _items(holder: JsonObject, key: str) -> Iterator[tuple[int, Any]]:
    values = holder.get(key)
    if isinstance(values, list):
        yield from enumerate(values)


def _objects(holder: JsonObject, key: str) -> Iterator[tuple[int, JsonObject]]:
    for i, value in _items(holder, key):
        if isinstance(value, dict):
            yield i, value


def _filled(holder: JsonObject, key: str) -> bool:
    value = holder.get(key)
    return isinstance(value, list) and len(value) > 0
