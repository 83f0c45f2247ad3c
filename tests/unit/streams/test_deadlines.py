"""The deadline index: earliest first, rescheduling, stale entries, bounded heap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from streams.join.deadlines import DeadlineIndex

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


def test_pops_codes_due_by_now_earliest_first_and_ties_by_code() -> None:
    index = DeadlineIndex()
    index.schedule("B", at(5))
    index.schedule("A", at(5))
    index.schedule("C", at(1))
    index.schedule("D", at(9))
    assert index.pop_due(at(5)) == ["C", "A", "B"]
    assert index.pop_due(at(8)) == []
    assert len(index) == 1
    assert index.pop_due(at(9)) == ["D"]
    assert len(index) == 0


def test_rescheduling_moves_the_due_time_and_none_unschedules() -> None:
    index = DeadlineIndex()
    index.schedule("A", at(1))
    index.schedule("A", at(10))
    index.schedule("B", at(2))
    index.schedule("B", None)
    assert index.pop_due(at(5)) == []
    assert index.due_of("A") == at(10)
    index.schedule("A", at(3))
    assert index.pop_due(at(5)) == ["A"]
    assert index.due_of("A") is None


@given(
    st.lists(
        st.tuples(
            st.sampled_from("ABCDEFGH"),
            st.one_of(st.none(), st.integers(min_value=0, max_value=50)),
        ),
        max_size=300,
    ),
    st.integers(min_value=0, max_value=60),
)
def test_pop_due_returns_exactly_the_codes_whose_latest_schedule_is_due(
    schedule: list[tuple[str, int | None]], now: int
) -> None:
    index = DeadlineIndex()
    latest: dict[str, int | None] = {}
    for code, hours in schedule:
        index.schedule(code, None if hours is None else at(hours))
        latest[code] = hours
    due = sorted(
        (hours, code) for code, hours in latest.items() if hours is not None and hours <= now
    )
    assert index.pop_due(at(now)) == [code for _, code in due]
    remaining = {code for code, hours in latest.items() if hours is not None and hours > now}
    assert len(index) == len(remaining)


def test_the_heap_stays_within_twice_the_scheduled_codes() -> None:
    index = DeadlineIndex()
    for step in range(20_000):
        index.schedule(f"C{step % 10}", at(step))
    assert len(index) == 10
    assert len(index._heap) <= 1024 + 1
    assert index.pop_due(at(20_000)) == [f"C{n}" for n in range(10)]
