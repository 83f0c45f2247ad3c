"""Builders of small EPCIS 2.0 documents for the capture tests."""

from __future__ import annotations

import json
from typing import Any

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"


def object_event(**fields: Any) -> dict[str, Any]:
    """A valid ObjectEvent: shipping of one SGTIN at an SGLN; ``fields`` override or add."""
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": "2024-05-01T10:00:00.000+02:00",
        "eventTimeZoneOffset": "+02:00",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
    }
    event.update(fields)
    return {key: value for key, value in event.items() if value is not None}


def document(*events: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """An EPCISDocument holding ``events``; ``fields`` override or add top-level fields."""
    body: dict[str, Any] = {
        "@context": [EPCIS_CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-05-01T12:00:00Z",
        "epcisBody": {"eventList": list(events)},
    }
    body.update(fields)
    return {key: value for key, value in body.items() if value is not None}


def dumps(value: Any) -> str:
    return json.dumps(value)
