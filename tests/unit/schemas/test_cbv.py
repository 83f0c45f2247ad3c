from __future__ import annotations

import pytest

from schemas.cbv import CbvKind, cbv_term, sub_status_for
from schemas.status import SubStatus


@pytest.mark.parametrize(
    "value",
    ["shipping", "urn:epcglobal:cbv:bizstep:shipping", "https://ref.gs1.org/cbv/BizStep-shipping"],
)
def test_the_three_forms_of_a_term_are_one(value: str) -> None:
    assert cbv_term(value, "bizStep") == "shipping"


def test_non_cbv_terms_are_not_cbv() -> None:
    assert cbv_term("https://example.com/bizStep/inspecting", "bizStep") is None
    assert cbv_term("urn:epcglobal:cbv:disp:shipping", "disposition") is None
    assert cbv_term("in_transport", "disposition") is None


@pytest.mark.parametrize(
    ("value", "kind", "term"),
    [
        ("bol", "bizTransactionType", "bol"),
        ("urn:epcglobal:cbv:btt:desadv", "bizTransactionType", "desadv"),
        ("https://ref.gs1.org/cbv/SDT-possessing_party", "sourceDestType", "possessing_party"),
        ("urn:epcglobal:cbv:sdt:location", "sourceDestType", "location"),
        ("https://ref.gs1.org/cbv/ER-did_not_occur", "errorReason", "did_not_occur"),
        ("place", "sourceDestType", None),
        ("https://ref.gs1.org/cbv/BTT-po", "sourceDestType", None),
        ("urn:epcglobal:cbv:er:typo", "errorReason", None),
    ],
)
def test_the_other_epcis_vocabularies(value: str, kind: CbvKind, term: str | None) -> None:
    assert cbv_term(value, kind) == term


@pytest.mark.parametrize(
    ("biz_step", "disposition", "expected"),
    [
        ("shipping", "in_transit", SubStatus.DEPARTED_FACILITY),
        ("urn:epcglobal:cbv:bizstep:arriving", None, SubStatus.ARRIVED_AT_FACILITY),
        ("receiving", "https://ref.gs1.org/cbv/Disp-returned", SubStatus.RETURNED_TO_SENDER),
        ("shipping", "returned", SubStatus.RETURNING),
        ("inspecting", "damaged", SubStatus.DAMAGED),
        ("transporting", "stolen", SubStatus.LOST),
        ("void_shipping", None, SubStatus.CANCELLED),
        (None, "in_transit", SubStatus.IN_TRANSIT),
        ("commissioning", "active", None),
        ("sensor_reporting", None, None),
        ("https://example.com/bizStep/x", None, None),
        (None, None, None),
    ],
)
def test_events_map_to_sub_statuses(
    biz_step: str | None, disposition: str | None, expected: SubStatus | None
) -> None:
    assert sub_status_for(biz_step, disposition) is expected
