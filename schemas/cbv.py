"""GS1 Core Business Vocabulary (CBV 2.0) steps and dispositions, mapped to the status model.

Also the other CBV vocabularies EPCIS events use (business transaction types, source and
destination types, error reasons), which EPCIS capture validates with :func:`cbv_term`.

EPCIS capture maps each event's ``bizStep`` and ``disposition`` to a :class:`SubStatus` with
:func:`sub_status_for`; the EPCIS export goes the other way with :data:`CBV_FOR_SUB_STATUS`.
Terms may be written in any of the three forms EPCIS documents use: the bare word
(``shipping``, as the EPCIS 2.0 JSON-LD context defines it), the CBV 1.x URN
(``urn:epcglobal:cbv:bizstep:shipping``) or the CBV 2.0 web URI
(``https://ref.gs1.org/cbv/BizStep-shipping``). docs/status-model.md explains the mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from schemas.status import SubStatus

BIZ_STEPS: frozenset[str] = frozenset(
    {
        "accepting",
        "arriving",
        "assembling",
        "collecting",
        "commissioning",
        "consigning",
        "creating_class_instance",
        "cycle_counting",
        "decommissioning",
        "departing",
        "destroying",
        "disassembling",
        "dispensing",
        "encoding",
        "entering_exiting",
        "holding",
        "inspecting",
        "installing",
        "killing",
        "loading",
        "other",
        "packing",
        "picking",
        "receiving",
        "removing",
        "repackaging",
        "repairing",
        "replacing",
        "reserving",
        "retail_selling",
        "sampling",
        "sensor_reporting",
        "shipping",
        "staging_outbound",
        "stock_taking",
        "stocking",
        "storing",
        "transporting",
        "unloading",
        "unpacking",
        "void_shipping",
    }
)
"""The 41 standard business steps of CBV 2.0."""

DISPOSITIONS: frozenset[str] = frozenset(
    {
        "active",
        "available",
        "completeness_inferred",
        "completeness_verified",
        "conformant",
        "container_closed",
        "container_open",
        "damaged",
        "destroyed",
        "dispensed",
        "disposed",
        "encoded",
        "expired",
        "in_progress",
        "in_transit",
        "inactive",
        "mismatch_class",
        "mismatch_instance",
        "mismatch_quantity",
        "needs_replacement",
        "no_pedigree_match",
        "non_conformant",
        "non_sellable_other",
        "partially_dispensed",
        "recalled",
        "reserved",
        "retail_sold",
        "returned",
        "sellable_accessible",
        "sellable_not_accessible",
        "stolen",
        "unavailable",
        "unknown",
    }
)
"""The 33 standard dispositions of CBV 2.0."""

BIZ_TRANSACTION_TYPES: frozenset[str] = frozenset(
    {
        "bol",
        "cert",
        "desadv",
        "inv",
        "pedigree",
        "po",
        "poc",
        "prodorder",
        "recadv",
        "rma",
        "testprd",
        "testres",
        "upevt",
    }
)
"""The 13 standard business transaction types of CBV 2.0 (``bizTransactionList[].type``)."""

SOURCE_DESTINATION_TYPES: frozenset[str] = frozenset(
    {"owning_party", "possessing_party", "location"}
)
"""The standard source/destination types of CBV 2.0."""

ERROR_REASONS: frozenset[str] = frozenset({"did_not_occur", "incorrect_data"})
"""The standard reasons of an EPCIS ``errorDeclaration``."""

CbvKind = Literal["bizStep", "disposition", "bizTransactionType", "sourceDestType", "errorReason"]
"""The CBV vocabularies an EPCIS event's fields draw on."""

_VOCABULARIES: dict[CbvKind, tuple[frozenset[str], str, str]] = {
    "bizStep": (BIZ_STEPS, "urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-"),
    "disposition": (DISPOSITIONS, "urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-"),
    "bizTransactionType": (
        BIZ_TRANSACTION_TYPES,
        "urn:epcglobal:cbv:btt:",
        "https://ref.gs1.org/cbv/BTT-",
    ),
    "sourceDestType": (
        SOURCE_DESTINATION_TYPES,
        "urn:epcglobal:cbv:sdt:",
        "https://ref.gs1.org/cbv/SDT-",
    ),
    "errorReason": (ERROR_REASONS, "urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-"),
}
"""Each vocabulary's terms, CBV 1.x URN prefix and CBV 2.0 web URI prefix."""

BIZ_STEP_SUB_STATUS: dict[str, SubStatus] = {
    "accepting": SubStatus.PICKED_UP,
    "collecting": SubStatus.PICKED_UP,
    "consigning": SubStatus.PICKED_UP,
    "shipping": SubStatus.DEPARTED_FACILITY,
    "departing": SubStatus.DEPARTED_FACILITY,
    "loading": SubStatus.IN_TRANSIT,
    "transporting": SubStatus.IN_TRANSIT,
    "staging_outbound": SubStatus.IN_TRANSIT,
    "entering_exiting": SubStatus.IN_TRANSIT,
    "inspecting": SubStatus.IN_TRANSIT,
    "storing": SubStatus.IN_TRANSIT,
    "stocking": SubStatus.IN_TRANSIT,
    "arriving": SubStatus.ARRIVED_AT_FACILITY,
    "receiving": SubStatus.ARRIVED_AT_FACILITY,
    "unloading": SubStatus.ARRIVED_AT_FACILITY,
    "holding": SubStatus.DELAYED,
    "destroying": SubStatus.DESTROYED,
    "void_shipping": SubStatus.CANCELLED,
}
"""What a business step says about a parcel's journey. Steps that say nothing about it
(commissioning, packing, sensor_reporting, ...) are absent: such events carry no movement."""

DISPOSITION_SUB_STATUS: dict[str, SubStatus] = {
    "damaged": SubStatus.DAMAGED,
    "destroyed": SubStatus.DESTROYED,
    "disposed": SubStatus.DESTROYED,
    "stolen": SubStatus.LOST,
    "returned": SubStatus.RETURNING,
}
"""Dispositions that decide the sub-status whatever the business step (the parcel's condition
outranks the activity that revealed it). Other dispositions (in_transit, in_progress, ...) add
nothing the business step does not say."""

_BACK_AT_SENDER = frozenset({"receiving", "accepting", "arriving", "storing", "stocking"})

CBV_FOR_SUB_STATUS: dict[SubStatus, tuple[str, str | None]] = {
    SubStatus.DISPATCHED: ("shipping", "in_transit"),
    SubStatus.LABEL_CREATED: ("staging_outbound", "in_progress"),
    SubStatus.PICKED_UP: ("accepting", "in_transit"),
    SubStatus.ARRIVED_AT_FACILITY: ("arriving", "in_transit"),
    SubStatus.DEPARTED_FACILITY: ("departing", "in_transit"),
    SubStatus.IN_TRANSIT: ("transporting", "in_transit"),
    SubStatus.CUSTOMS_PROCESSING: ("inspecting", "in_transit"),
    SubStatus.CUSTOMS_RELEASED: ("departing", "in_transit"),
    SubStatus.CUSTOMS_HOLD: ("holding", "unavailable"),
    SubStatus.HANDED_TO_LAST_MILE: ("accepting", "in_transit"),
    SubStatus.OUT_FOR_DELIVERY: ("transporting", "in_transit"),
    SubStatus.AT_PICKUP_POINT: ("storing", "in_transit"),
    SubStatus.RECIPIENT_ABSENT: ("holding", "in_transit"),
    SubStatus.ADDRESS_ISSUE: ("holding", "in_transit"),
    SubStatus.BUSINESS_CLOSED: ("holding", "in_transit"),
    SubStatus.NO_SAFE_PLACE: ("holding", "in_transit"),
    SubStatus.RESCHEDULED_BY_RECIPIENT: ("holding", "in_transit"),
    SubStatus.DELIVERY_FAILED_OTHER: ("holding", "in_transit"),
    SubStatus.DELIVERED_TO_RECIPIENT: ("receiving", "in_progress"),
    SubStatus.LEFT_IN_SAFE_PLACE: ("receiving", "in_progress"),
    SubStatus.COLLECTED_FROM_PICKUP_POINT: ("receiving", "in_progress"),
    SubStatus.DELAYED: ("holding", "in_transit"),
    SubStatus.LOST: ("other", "stolen"),
    SubStatus.DAMAGED: ("inspecting", "damaged"),
    SubStatus.RETURNING: ("shipping", "returned"),
    SubStatus.RETURNED_TO_SENDER: ("receiving", "returned"),
    SubStatus.REFUSED: ("holding", "returned"),
    SubStatus.DESTROYED: ("destroying", "destroyed"),
    SubStatus.CANCELLED: ("void_shipping", None),
    SubStatus.NO_UPDATES: ("other", "unknown"),
    SubStatus.UNKNOWN: ("other", "unknown"),
}
"""The CBV business step and disposition an EPCIS export writes for each sub-status."""


def cbv_term(value: str, kind: CbvKind) -> str | None:
    """The bare CBV word of ``value`` in vocabulary ``kind``, in any of its three forms, or
    ``None`` when it is not a standard CBV 2.0 term (e.g. a company's own URI, which EPCIS
    allows)."""
    vocabulary, *prefixes = _VOCABULARIES[kind]
    if value in vocabulary:
        return value
    for prefix in prefixes:
        if value.startswith(prefix) and value[len(prefix) :] in vocabulary:
            return value[len(prefix) :]
    return None


def sub_status_for(biz_step: str | None, disposition: str | None) -> SubStatus | None:
    """The sub-status an EPCIS event reports, or ``None`` when it carries no shipment movement.

    Either argument may be in any CBV form or ``None``; non-CBV terms count as absent. A deciding
    disposition (damaged, destroyed, disposed, stolen, returned) wins over the business step;
    ``returned`` with an arrival step (receiving, accepting, ...) means the parcel is back at the
    sender.
    """
    step = cbv_term(biz_step, "bizStep") if biz_step else None
    disp = cbv_term(disposition, "disposition") if disposition else None
    if disp == "returned" and step in _BACK_AT_SENDER:
        return SubStatus.RETURNED_TO_SENDER
    if disp in DISPOSITION_SUB_STATUS:
        return DISPOSITION_SUB_STATUS[disp]
    if step is not None:
        return BIZ_STEP_SUB_STATUS.get(step)
    if disp == "in_transit":
        return SubStatus.IN_TRANSIT
    return None


EXTENSION_NAMESPACE = "urn:tracecode:epcis:"
"""JSON-LD namespace of tracecode's EPCIS extension fields; its exports bind the prefix
``tracecode`` to it in their ``@context``."""
SUB_STATUS_EXTENSION = "tracecode:subStatus"
"""The extension field in which an EPCIS export carries the exact sub-status: CBV is coarser
than the status model, so bizStep and disposition alone lose some (a delivery reads as an
arrival)."""


def extension_sub_status(event: Mapping[str, Any]) -> SubStatus | None:
    """The sub-status a tracecode export carried in ``event`` (the prefixed field or its full
    IRI), or ``None`` when there is none or it is no sub-status."""
    value = event.get(SUB_STATUS_EXTENSION)
    if value is None:
        value = event.get(EXTENSION_NAMESPACE + SUB_STATUS_EXTENSION.partition(":")[2])
    if isinstance(value, str) and value in SubStatus.__members__:
        return SubStatus(value)
    return None
