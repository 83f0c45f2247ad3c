"""A shipment's history as an EPCIS 2.0 JSON-LD ``EPCISQueryDocument``.

Each standing carrier scan of the timeline (retracted ones and retractions left out; the
seller's dispatch is no carrier observation) becomes one ``ObjectEvent`` ``OBSERVE`` of the
shipment's item:

- ``epcList``: the code as GS1 Digital Link for a serialized GS1 item; a marketplace code has no
  EPC, so it is written as ``urn:tracecode:code:<code>`` (a private URI, which EPCIS allows but
  no other system resolves);
- ``bizStep`` and ``disposition``: the sub-status mapped back through
  :data:`schemas.cbv.CBV_FOR_SUB_STATUS`, and the exact sub-status in the extension field
  ``tracecode:subStatus`` (CBV is coarser than the status model), which capture reads first;
- ``eventTime`` in the place's local time with ``eventTimeZoneOffset``;
- ``eventID``: ``urn:uuid:<event id>`` (other ids under ``urn:tracecode:event:``);
- ``readPoint``: the facility, ``urn:tracecode:facility:<id>`` (a scan without one but with a
  city or country: ``urn:tracecode:place:<country>:<city>``), its city and country in the
  header's master data (CBV location attributes).

``tracecode ingest epcis`` reads the document back into the same scans.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from urllib.parse import quote

from api.tracking import TimelineEntry, Tracking
from schemas.cbv import CBV_FOR_SUB_STATUS, EXTENSION_NAMESPACE, SUB_STATUS_EXTENSION
from schemas.codes import parse_code, to_digital_link
from schemas.status import SubStatus

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
MEDIA_TYPE = "application/ld+json"
_READ_POINTS = "urn:epcglobal:epcis:vtype:ReadPoint"
_ATTRIBUTE = "urn:epcglobal:cbv:mda#"


def epcis_document(tracking: Tracking, created: datetime) -> dict[str, Any]:
    """The standing scans of ``tracking`` as an ``EPCISQueryDocument`` created at ``created``."""
    item = item_uri(tracking.code)
    events: list[dict[str, Any]] = []
    places: dict[str, TimelineEntry] = {}
    for entry in tracking.timeline:
        if entry.kind != "SCAN" or entry.retracted or not entry.sub_status:
            continue
        place = _place_uri(entry)
        events.append(_event(entry, item, place))
        if place is not None:
            places.setdefault(place, entry)
    document: dict[str, Any] = {
        "@context": [EPCIS_CONTEXT, {"tracecode": EXTENSION_NAMESPACE}],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": created.isoformat(timespec="milliseconds"),
    }
    if places:
        document["epcisHeader"] = {
            "epcisMasterData": {
                "vocabularyList": [
                    {
                        "type": _READ_POINTS,
                        "vocabularyElementList": [
                            {"id": place, "attributes": _attributes(entry)}
                            for place, entry in places.items()
                        ],
                    }
                ]
            }
        }
    document["epcisBody"] = {
        "queryResults": {"queryName": "SimpleEventQuery", "resultsBody": {"eventList": events}}
    }
    return document


def item_uri(code: str) -> str:
    """The URI naming the item of ``code`` (canonical) in ``epcList``."""
    if code.startswith("(01)"):  # the canonical form of a serialized GS1 item
        return to_digital_link(parse_code(code))
    return f"urn:tracecode:code:{quote(code, safe='')}"


def _event(entry: TimelineEntry, item: str, place: str | None) -> dict[str, Any]:
    step, disposition = CBV_FOR_SUB_STATUS[SubStatus(str(entry.sub_status))]
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": entry.time.isoformat(timespec="milliseconds"),
        "eventTimeZoneOffset": entry.time.isoformat()[-6:],
        "eventID": _event_uri(entry.event_id),
        "epcList": [item],
        "action": "OBSERVE",
        "bizStep": step,
        SUB_STATUS_EXTENSION: entry.sub_status,
    }
    if disposition is not None:
        event["disposition"] = disposition
    if place is not None:
        event["readPoint"] = {"id": place}
    return event


def _attributes(entry: TimelineEntry) -> list[dict[str, str]]:
    return [
        {"id": _ATTRIBUTE + name, "attribute": value}
        for name, value in (("city", entry.city), ("countryCode", entry.country))
        if value
    ]


def _event_uri(event_id: str) -> str:
    try:
        return uuid.UUID(event_id).urn
    except ValueError:
        return f"urn:tracecode:event:{quote(event_id, safe='')}"


def _place_uri(entry: TimelineEntry) -> str | None:
    if entry.facility_id:
        return f"urn:tracecode:facility:{quote(entry.facility_id, safe='')}"
    if entry.city or entry.country:
        # No facility, but a known place: a read point of its own, so city and country travel.
        parts = (entry.country or "", entry.city or "")
        return "urn:tracecode:place:" + ":".join(quote(part, safe="") for part in parts)
    return None
