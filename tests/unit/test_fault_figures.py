"""The fault suite's comparison must see every kind of difference it reports."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from producers.events import EventKind
from tests.faults.input import Item, Published, schedule
from tests.faults.rig import Outcome, compare


def outcome() -> Outcome:
    return Outcome(
        states={"A": {"status": "IN_TRANSIT"}, "B": {"status": "DELIVERED"}},
        last_status={"A": {"version": 2}, "B": {"version": 3}},
        versions=Counter({("A", 1): 1, ("A", 2): 1, ("B", 3): 1}),
        alerts=Counter({"A:STALLED": 1}),
        history=Counter({("A", "e1"): 1, ("B", "e2"): 1}),
        dead_letters={},
        dead_letter_records=0,
        stored_events=Counter({("A", "e1"): 1, ("B", "e2"): 1}),
        stored_states={"A": [2], "B": [3]},
        stored_alerts=Counter({"A:STALLED": 1}),
    )


def test_an_equal_outcome_has_no_failures() -> None:
    figures = compare("same", outcome(), outcome(), Published(good=2))
    assert figures.failures() == {}
    assert figures.distinct_stored == 2


def test_every_difference_is_counted() -> None:
    clean = outcome()
    broken = replace(
        clean,
        states={**clean.states, "B": {"status": "IN_TRANSIT"}},
        last_status={"A": {"version": 2}},
        versions=Counter({("A", 1): 1, ("A", 2): 2, ("B", 3): 1}),
        alerts=Counter({"A:STALLED": 1, "B:UNKNOWN_CODE": 1}),
        history=Counter({("A", "e1"): 2}),
        stored_events=Counter({("A", "e1"): 1}),
        stored_states={"A": [2]},
        dead_letters={("scans", 0, 7): "decode"},
        dead_letter_records=1,
    )
    figures = compare("broken", clean, broken, Published(good=2))
    assert figures.failures() == {
        "lost": 1,
        "duplicated": 1,
        "versions_twice": 1,
        "alerts_differing": 1,
        "states_differing": 1,
        "status_differing": 1,
        "stored_states_differing": 1,
        "dead_letters_unexplained": 1,
    }


def test_poison_not_dead_lettered_is_counted() -> None:
    published = Published(good=2, poison={("scans", 0, 9): "random-bytes"})
    figures = compare("poison", outcome(), outcome(), published)
    assert figures.failures() == {"dead_letters_unexplained": 1}


def test_the_schedule_never_stamps_two_records_of_one_code_alike() -> None:
    scan, again = b"\xc3\x01scan", b"\xc3\x01again"
    items = [
        Item(EventKind.SCAN, b"A", scan),
        Item(EventKind.SCAN, b"A", again),  # due in the same millisecond as the first
        Item(EventKind.SCAN, b"B", b"\xc3\x01other"),
        Item(EventKind.SCAN, b"A", scan),  # a repeat takes the stamp before it
        Item(EventKind.SCAN, b"B", b"bad", poison="random-bytes"),
    ]
    assert schedule(items, 1_000, rate=2_000.0) == [1_000, 1_001, 1_001, 1_001, 1_001]
