from __future__ import annotations

from functools import reduce

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.status import STATUS_OF, TERMINAL, Status, SubStatus, advance

S = SubStatus


def fold(*reported: SubStatus) -> SubStatus:
    return reduce(advance, reported, None)  # type: ignore[arg-type]


def test_a_normal_journey_ends_delivered() -> None:
    assert (
        fold(
            S.DISPATCHED,
            S.LABEL_CREATED,
            S.PICKED_UP,
            S.DEPARTED_FACILITY,
            S.CUSTOMS_PROCESSING,
            S.CUSTOMS_RELEASED,
            S.HANDED_TO_LAST_MILE,
            S.OUT_FOR_DELIVERY,
            S.DELIVERED_TO_RECIPIENT,
        )
        is S.DELIVERED_TO_RECIPIENT
    )


@given(st.sampled_from(sorted(TERMINAL)), st.lists(st.sampled_from(list(SubStatus))))
def test_terminal_sub_statuses_never_change(terminal: SubStatus, later: list[SubStatus]) -> None:
    assert fold(terminal, *later) is terminal


@given(st.sampled_from(list(SubStatus)), st.sampled_from(list(SubStatus)))
def test_advance_always_gives_a_sub_status_of_the_model(
    current: SubStatus, reported: SubStatus
) -> None:
    assert advance(current, reported) in STATUS_OF


@pytest.mark.parametrize("pre", [S.DISPATCHED, S.LABEL_CREATED])
@pytest.mark.parametrize("carrier", [S.PICKED_UP, S.CUSTOMS_HOLD, S.DELAYED, S.NO_UPDATES])
def test_pre_carrier_events_never_override_a_carrier_stage(
    pre: SubStatus, carrier: SubStatus
) -> None:
    assert advance(carrier, pre) is carrier


def test_label_follows_dispatch_but_not_the_reverse() -> None:
    assert advance(S.DISPATCHED, S.LABEL_CREATED) is S.LABEL_CREATED
    assert advance(S.LABEL_CREATED, S.DISPATCHED) is S.LABEL_CREATED


def test_unknown_scans_prove_possession_but_keep_known_stages() -> None:
    assert advance(None, S.UNKNOWN) is S.IN_TRANSIT
    assert advance(S.DISPATCHED, S.UNKNOWN) is S.IN_TRANSIT
    assert advance(S.NO_UPDATES, S.UNKNOWN) is S.IN_TRANSIT
    assert advance(S.CUSTOMS_HOLD, S.UNKNOWN) is S.CUSTOMS_HOLD


@pytest.mark.parametrize(
    "on_the_way_back", [S.DELAYED, S.DAMAGED, S.ARRIVED_AT_FACILITY, S.OUT_FOR_DELIVERY]
)
def test_returns_end_at_the_sender(on_the_way_back: SubStatus) -> None:
    assert fold(S.PICKED_UP, S.RETURNING, on_the_way_back) is S.RETURNING
    assert fold(S.PICKED_UP, S.RETURNING, on_the_way_back, S.DELIVERED_TO_RECIPIENT) is (
        S.RETURNED_TO_SENDER
    )
    assert fold(S.RECIPIENT_ABSENT, S.REFUSED, on_the_way_back, S.LEFT_IN_SAFE_PLACE) is (
        S.RETURNED_TO_SENDER
    )


def test_loss_on_the_way_back_is_shown() -> None:
    assert fold(S.RETURNING, S.LOST) is S.LOST


def test_parcels_may_go_back_and_expired_ones_revive() -> None:
    assert fold(S.OUT_FOR_DELIVERY, S.RECIPIENT_ABSENT, S.IN_TRANSIT) is S.IN_TRANSIT
    assert fold(S.IN_TRANSIT, S.NO_UPDATES, S.ARRIVED_AT_FACILITY) is S.ARRIVED_AT_FACILITY
    assert STATUS_OF[fold(S.PICKED_UP, S.LOST, S.DELIVERED_TO_RECIPIENT)] is Status.DELIVERED
