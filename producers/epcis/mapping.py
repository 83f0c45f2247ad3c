"""From one valid EPCIS event to carrier scan records (docs/epcis.md, "Mapping").

- ObjectEvents and AggregationEvents observe objects at a place and time, whatever their
  ``action`` (an AggregationEvent ADD is packing, DELETE unpacking, OBSERVE a check of the
  load): each traceable identifier gets one scan, the parent and every child of an aggregation
  alike. Other event types record no movement of a parcel and give nothing.
- ``bizStep`` and ``disposition`` give the sub-status through :func:`schemas.cbv.sub_status_for`;
  an event it maps to no sub-status (commissioning, packing, a step of the sender's own
  vocabulary, ...) carries no shipment movement and gives nothing.
- An identifier is traceable when :func:`schemas.codes.parse_code` accepts it (serialized GS1
  items, as SGTIN URN or Digital Link); quantities name classes of objects, never an item.
- An event with an ``errorDeclaration`` is the standard's way to declare the earlier event with
  the same id erroneous: it gives one retraction per code instead of scans. Its corrective
  events, if any, are ordinary events of their own.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from producers.epcis.document import JsonObject
from producers.epcis.locations import MasterData, location_of
from producers.epcis.times import parse_offset, parse_timestamp, written_offset
from schemas.cbv import CbvKind, cbv_term, extension_sub_status, sub_status_for
from schemas.codes import parse_code
from schemas.errors import InvalidCodeError
from schemas.records import CarrierScan, Location
from schemas.status import STATUS_OF, Status, SubStatus

MOVEMENT_EVENT_TYPES = frozenset({"ObjectEvent", "AggregationEvent"})
"""Event types that observe objects at a place: the ones that become scans."""

_EPC_SCHEME = re.compile(r"urn:epc:id:([A-Za-z0-9]+):")
_RETRACTION_IDS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:tracecode:epcis:retraction")
"""uuid5 namespace of retraction event ids."""


@dataclass(frozen=True, slots=True)
class RecordDefaults:
    """What every record of one capture shares."""

    carrier: str
    received_time: datetime


@dataclass(slots=True)
class EventRecords:
    """What one event gave."""

    records: list[CarrierScan] = field(default_factory=list)
    skipped: str | None = None
    """Why the event gave no record, when it gave none."""
    skipped_identifiers: Counter[str] = field(default_factory=Counter)
    """Identifiers of the event that are no traceability code, by reason."""


def skip_reason(event: JsonObject) -> str | None:
    """Why ``event`` gives no record whatever its identifiers, or ``None`` when it may give
    some."""
    kind = event["type"]
    if kind not in MOVEMENT_EVENT_TYPES:
        return f"{kind}: no shipment movement"
    if _sub_status(event) is None:
        return _no_movement(event)
    return None


def event_records(
    event: JsonObject, event_id: str, master: MasterData, defaults: RecordDefaults
) -> EventRecords:
    """The scans (or retractions) that ``event``, whose id is ``event_id``, stands for; the
    event must be one :func:`skip_reason` lets through."""
    sub_status = _sub_status(event)
    if sub_status is None:
        raise ValueError("an event without shipment movement gives no record")
    result = EventRecords()
    location = location_of(event, master)
    for code, role in _codes(event, result.skipped_identifiers):
        if "errorDeclaration" in event:
            record = _retraction(event, event_id, code, location, defaults)
        else:
            record = _scan(
                event,
                event_id=event_id,
                code=code,
                role=role,
                sub_status=sub_status,
                location=location,
                defaults=defaults,
            )
        result.records.append(record)
    if not result.records:
        result.skipped = "no traceability code among its identifiers"
    return result


def retraction_id(event_id: str, declaration_time: datetime) -> str:
    """The id of the retraction of ``event_id`` declared at ``declaration_time``: stable, so a
    redelivered errorDeclaration is a duplicate, and distinct from every scan id."""
    name = f"{event_id} {declaration_time.isoformat()}"
    return f"urn:uuid:{uuid.uuid5(_RETRACTION_IDS, name)}"


def _sub_status(event: JsonObject) -> SubStatus | None:
    # A tracecode export's exact sub-status first: its CBV terms alone are coarser.
    return extension_sub_status(event) or sub_status_for(
        event.get("bizStep"), event.get("disposition")
    )


def _no_movement(event: JsonObject) -> str:
    step = event.get("bizStep")
    if step is None:
        return "no bizStep, and no disposition that decides a status"
    term = cbv_term(step, "bizStep")
    if term is None:
        return "bizStep of the sender's own vocabulary: no known shipment movement"
    return f"bizStep {term}: no shipment movement"


def _codes(event: JsonObject, skipped: Counter[str]) -> list[tuple[str, str]]:
    """``(canonical code, role)`` of each traceable identifier, each code once."""
    identifiers: list[tuple[str, str]] = []
    if event["type"] == "AggregationEvent":
        parent = event.get("parentID")
        if parent is not None:
            identifiers.append((parent, "parent"))
        role = f"child of {parent}" if parent else "child"
        identifiers += [(child, role) for child in event.get("childEPCs", [])]
        quantities = event.get("childQuantityList", [])
    else:
        identifiers += [(epc, "") for epc in event.get("epcList", [])]
        quantities = event.get("quantityList", [])
    if quantities:
        skipped["class-level quantity (no serial number)"] += len(quantities)
    codes: dict[str, str] = {}
    for uri, role in identifiers:
        try:
            code = parse_code(uri).canonical
        except InvalidCodeError as exc:
            scheme = _EPC_SCHEME.match(uri)
            skipped[f"not a traceability code ({scheme.group(1) if scheme else exc.rule})"] += 1
            continue
        codes.setdefault(code, role)
    return list(codes.items())


def _scan(
    event: JsonObject,
    *,
    event_id: str,
    code: str,
    role: str,
    sub_status: SubStatus,
    location: Location,
    defaults: RecordDefaults,
) -> CarrierScan:
    step, disposition = _short(event, "bizStep"), _short(event, "disposition")
    what = f"{event['type']} {event['action']}" + (f", {role}" if role else "")
    why = ", ".join(
        f"{name} {value}"
        for name, value in (("bizStep", step), ("disposition", disposition))
        if value
    )
    return {
        "event_id": event_id,
        "code": code,
        "carrier": defaults.carrier,
        "tracking_number": None,
        "raw_event_code": step or disposition or event["type"],
        "raw_description": f"{what}: {why}",
        "status": STATUS_OF[sub_status].value,
        "sub_status": sub_status.value,
        "location": location,
        "event_time": parse_timestamp(event["eventTime"]),
        "event_utc_offset_minutes": parse_offset(event["eventTimeZoneOffset"]),
        "received_time": defaults.received_time,
        "source": "EPCIS",
        "retracts_event_id": None,
    }


def _retraction(
    event: JsonObject, event_id: str, code: str, location: Location, defaults: RecordDefaults
) -> CarrierScan:
    declaration = event["errorDeclaration"]
    declared = declaration["declarationTime"]
    reason = _short_term(declaration.get("reason"), "errorReason")
    corrective = declaration.get("correctiveEventIDs", [])
    description = f"errorDeclaration{f' ({reason})' if reason else ''}: {event_id} is erroneous"
    if corrective:
        description += f"; corrective events: {', '.join(corrective)}"
    return {
        "event_id": retraction_id(event_id, parse_timestamp(declared)),
        "code": code,
        "carrier": defaults.carrier,
        "tracking_number": None,
        "raw_event_code": "errorDeclaration",
        "raw_description": description,
        "status": Status.UNKNOWN.value,
        "sub_status": SubStatus.UNKNOWN.value,
        "location": location,
        "event_time": parse_timestamp(declared),
        "event_utc_offset_minutes": written_offset(declared),
        "received_time": defaults.received_time,
        "source": "EPCIS",
        "retracts_event_id": event_id,
    }


def _short(event: JsonObject, key: Literal["bizStep", "disposition"]) -> str | None:
    return _short_term(event.get(key), key)


def _short_term(value: str | None, kind: CbvKind) -> str | None:
    """A CBV term as its bare word; a value of the sender's own unchanged."""
    if value is None:
        return None
    return cbv_term(value, kind) or value
