"""The structure of EPCIS 2.0 capture input, as a JSON Schema (draft 2020-12).

Written for tracecode from the EPCIS 2.0 standard (section 7 data model, section 10 JSON/JSON-LD
binding): the ``EPCISDocument`` envelope and, one schema per event type, which fields an event
has, which are required, and their JSON types. It is our own schema, not GS1's published one
(see docs/epcis.md): the published file carries no open licence. What a schema expresses badly
is checked in :mod:`producers.epcis.rules` instead: date-time values, CBV vocabulary, EPC URI
grammar and the rules that depend on ``action``.

Every event object admits its standard fields plus extension fields, whose names must be
namespaced (``prefix:name`` or a full URI) as the JSON-LD binding requires. A subschema may carry
a ``message`` (an annotation ignored by validators) that replaces the validator's wording: a
string for any failure of the subschema, or a dict naming the keywords it applies to.
"""

from __future__ import annotations

import re
from typing import Any

from producers.epcis.document import EVENT_TYPES

Schema = dict[str, Any]

_SCHEME = r"^[A-Za-z][A-Za-z0-9+.\-]*:"
URI: Schema = {
    "type": "string",
    "pattern": _SCHEME + r"\S+$",
    "message": "{instance!r} is not an absolute URI (scheme:...)",
}
EXTENSION_NAME: Schema = {"type": "string", "pattern": _SCHEME}
TERM: Schema = {"type": "string", "minLength": 1}
"""A vocabulary value (bare CBV word or URI); which words are allowed is checked in rules."""
TIME: Schema = {"type": "string"}


def _names(*standard: str, extensible: bool = True) -> Schema:
    """``propertyNames``: the standard names, plus namespaced extension names if allowed."""
    if not extensible:
        return {"enum": list(standard), "message": "{instance!r} is not a field of this element"}
    # One pattern rather than anyOf(enum, pattern): it is checked for every field of every event.
    names = "|".join(re.escape(name) for name in standard)
    return {
        "pattern": f"^(?:{names})$|{_SCHEME}",
        "message": "{instance!r} is not a field of this element and, unlike extension fields, "
        "has no namespace prefix",
    }


def _object(
    properties: dict[str, Schema], *, required: tuple[str, ...] = (), extensible: bool = True
) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "propertyNames": _names(*properties, extensible=extensible),
    }


def _list(items: Schema, *, min_items: int = 0, unique: bool = False) -> Schema:
    schema: Schema = {"type": "array", "items": items, "minItems": min_items}
    if unique:
        schema["uniqueItems"] = True
        schema["message"] = {"uniqueItems": "lists the same value more than once"}
    return schema


CONTEXT: Schema = {
    "anyOf": [
        URI,
        {"type": "object"},
        {"type": "array", "items": {"anyOf": [URI, {"type": "object"}]}},
    ],
    "message": "@context must be a context URI, a context object or a list of them",
}

_QUANTITY = _object(
    {
        "epcClass": URI,
        "quantity": {"type": "number"},
        "uom": {
            "type": "string",
            "pattern": "^[A-Z0-9]{2,3}$",
            "message": "{instance!r} is not a UN/CEFACT Rec. 20 unit code (2-3 capitals/digits)",
        },
    },
    required=("epcClass",),
    extensible=False,
)
_LOCATION = _object({"id": URI}, required=("id",))
_BIZ_TRANSACTION = _object(
    {"type": TERM, "bizTransaction": URI}, required=("bizTransaction",), extensible=False
)
_SOURCE = _object({"type": TERM, "source": URI}, required=("type", "source"), extensible=False)
_DESTINATION = _object(
    {"type": TERM, "destination": URI}, required=("type", "destination"), extensible=False
)
_PERSISTENT_DISPOSITION = {
    **_object(
        {"set": _list(TERM, min_items=1), "unset": _list(TERM, min_items=1)}, extensible=False
    ),
    "minProperties": 1,
}
_ERROR_DECLARATION = _object(
    {"declarationTime": TIME, "reason": TERM, "correctiveEventIDs": _list(URI)},
    required=("declarationTime",),
)
_NUMBER: Schema = {"type": "number"}
_SENSOR_METADATA = _object(
    {
        "time": TIME,
        "startTime": TIME,
        "endTime": TIME,
        "deviceID": URI,
        "deviceMetadata": URI,
        "rawData": URI,
        "dataProcessingMethod": URI,
        "bizRules": URI,
    }
)
_SENSOR_REPORT = _object(
    {
        "type": TERM,
        "exception": TERM,
        "deviceID": URI,
        "deviceMetadata": URI,
        "rawData": URI,
        "dataProcessingMethod": URI,
        "bizRules": URI,
        "time": TIME,
        "microorganism": URI,
        "chemicalSubstance": URI,
        "coordinateReferenceSystem": URI,
        "value": _NUMBER,
        "component": TERM,
        "stringValue": {"type": "string"},
        "booleanValue": {"type": "boolean"},
        "hexBinaryValue": {
            "type": "string",
            "pattern": "^[A-Fa-f0-9]+$",
            "message": "{instance!r} is not hexadecimal",
        },
        "uriValue": URI,
        "minValue": _NUMBER,
        "maxValue": _NUMBER,
        "meanValue": _NUMBER,
        "sDev": _NUMBER,
        "percRank": _NUMBER,
        "percValue": _NUMBER,
        "uom": {"type": "string"},
    }
)
_SENSOR_ELEMENT = _object(
    {"sensorMetadata": _SENSOR_METADATA, "sensorReport": _list(_SENSOR_REPORT, min_items=1)},
    required=("sensorReport",),
)
_ILMD: Schema = {
    "type": "object",
    "propertyNames": {
        **EXTENSION_NAME,
        "message": "ILMD field {instance!r} has no namespace prefix (ILMD holds only "
        "namespaced fields, e.g. cbvmda:lotNumber)",
    },
}

_COMMON: dict[str, Schema] = {
    "@context": CONTEXT,
    "type": {"type": "string"},
    "eventTime": TIME,
    "recordTime": TIME,
    "eventTimeZoneOffset": {
        "type": "string",
        "pattern": r"^[+-]((0\d|1[0-3]):[0-5]\d|14:00)$",
        "message": "{instance!r} is not a time zone offset ±hh:mm between -14:00 and +14:00",
    },
    "eventID": URI,
    "certificationInfo": {
        "anyOf": [URI, _list(URI)],
        "message": "certificationInfo must be a URI or a list of URIs",
    },
    "errorDeclaration": _ERROR_DECLARATION,
}
_WHY_WHERE: dict[str, Schema] = {
    "bizStep": TERM,
    "disposition": TERM,
    "persistentDisposition": _PERSISTENT_DISPOSITION,
    "readPoint": _LOCATION,
    "bizLocation": _LOCATION,
    "bizTransactionList": _list(_BIZ_TRANSACTION),
    "sourceList": _list(_SOURCE),
    "destinationList": _list(_DESTINATION),
    "sensorElementList": _list(_SENSOR_ELEMENT),
}
_ACTION: Schema = {
    "enum": ["OBSERVE", "ADD", "DELETE"],
    "message": "action {instance!r} is not one of OBSERVE, ADD, DELETE",
}
_EPCS = _list(URI, unique=True)
_QUANTITIES = _list(_QUANTITY)
_TIMES = ("eventTime", "eventTimeZoneOffset")


def _event(what: dict[str, Schema], *, required: tuple[str, ...] = ()) -> Schema:
    return _object({**_COMMON, **what, **_WHY_WHERE}, required=(*_TIMES, *required))


EVENTS: dict[str, Schema] = {
    "ObjectEvent": _event(
        {"epcList": _EPCS, "quantityList": _QUANTITIES, "action": _ACTION, "ilmd": _ILMD},
        required=("action",),
    ),
    "AggregationEvent": _event(
        {"parentID": URI, "childEPCs": _EPCS, "childQuantityList": _QUANTITIES, "action": _ACTION},
        required=("action",),
    ),
    "TransactionEvent": _event(
        {"parentID": URI, "epcList": _EPCS, "quantityList": _QUANTITIES, "action": _ACTION},
        required=("action", "bizTransactionList"),
    ),
    "TransformationEvent": _event(
        {
            "inputEPCList": _EPCS,
            "inputQuantityList": _QUANTITIES,
            "outputEPCList": _EPCS,
            "outputQuantityList": _QUANTITIES,
            "transformationID": URI,
            "ilmd": _ILMD,
        }
    ),
    "AssociationEvent": _event(
        {"parentID": URI, "childEPCs": _EPCS, "childQuantityList": _QUANTITIES, "action": _ACTION},
        required=("action", "parentID"),
    ),
}
"""The schema of each EPCIS 2.0 event type."""
assert set(EVENTS) == EVENT_TYPES

EXTENSION_EVENT: Schema = {
    "type": "object",
    "properties": {
        **_COMMON,
        "type": {
            **EXTENSION_NAME,
            "message": "{instance!r} is neither an EPCIS event type nor an extension event "
            "type URI",
        },
    },
    "required": list(_TIMES),
}


"""An event whose type is none of the standard ones: an extension event type, named by a URI."""


_MASTER_DATA = _object(
    {
        "vocabularyList": _list(
            _object(
                {
                    "type": URI,
                    "vocabularyElementList": _list(
                        _object(
                            {
                                "id": URI,
                                "attributes": _list(
                                    _object({"id": URI, "attribute": {}}, required=("id",))
                                ),
                                "children": _list(URI),
                            },
                            required=("id",),
                        )
                    ),
                },
                required=("type",),
            )
        )
    }
)

DOCUMENT: Schema = _object(
    {
        "@context": CONTEXT,
        "id": URI,
        "type": {"const": "EPCISDocument"},
        "schemaVersion": {
            "type": "string",
            "pattern": r"^\d+(\.\d+)*$",
            "message": "schemaVersion {instance!r} is not a version number such as '2.0'",
        },
        "creationDate": TIME,
        "instanceIdentifier": {"type": "string"},
        "sender": {"type": "string"},
        "receiver": {"type": "string"},
        "epcisHeader": _object({"epcisMasterData": _MASTER_DATA}),
        # Each event is checked against the schema of its type (structure.py).
        "epcisBody": _object(
            {"eventList": _list({"type": "object", "required": ["type"]})},
            required=("eventList",),
        ),
    },
    required=("@context", "type", "schemaVersion", "creationDate", "epcisBody"),
)
"""The ``EPCISDocument`` envelope."""

QUERY_DOCUMENT: Schema = _object(
    {
        **{
            name: DOCUMENT["properties"][name]
            for name in ("@context", "id", "schemaVersion", "creationDate", "epcisHeader")
        },
        "type": {"const": "EPCISQueryDocument"},
        "epcisBody": _object(
            {
                "queryResults": _object(
                    {
                        "queryName": {"type": "string"},
                        "subscriptionID": {"type": "string"},
                        "resultsBody": _object(
                            {"eventList": _list({"type": "object", "required": ["type"]})},
                            required=("eventList",),
                        ),
                    },
                    required=("queryName", "resultsBody"),
                )
            },
            required=("queryResults",),
        ),
    },
    required=("@context", "type", "schemaVersion", "creationDate", "epcisBody"),
)
"""The ``EPCISQueryDocument`` envelope (a query's answer), read for the events it holds."""
