from datetime import UTC, datetime

import pytest

from producers.epcis.times import parse_offset, parse_timestamp, written_offset


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2005-04-03T20:33:31.116-06:00", datetime(2005, 4, 4, 2, 33, 31, 116000, UTC)),
        ("2005-07-11T11:30:47.0Z", datetime(2005, 7, 11, 11, 30, 47, tzinfo=UTC)),
        # Fractions beyond milliseconds are truncated (Avro timestamp-millis), never rounded up.
        ("2023-02-02T11:04:03.1419999Z", datetime(2023, 2, 2, 11, 4, 3, 141000, UTC)),
        ("2024-02-29t23:30:00+05:30", datetime(2024, 2, 29, 18, 0, tzinfo=UTC)),
        ("2024-01-01T00:00:00z", datetime(2024, 1, 1, tzinfo=UTC)),
    ],
)
def test_timestamps_become_utc_milliseconds(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("22-07-2026", "not an RFC 3339 date-time"),
        ("2026-07-22T06:45:00", "not an RFC 3339 date-time"),  # no offset: ambiguous
        ("2026-07-22 06:45:00Z", "not an RFC 3339 date-time"),
        ("2026-13-01T00:00:00Z", "month must be in 1..12"),
        ("2025-02-29T00:00:00Z", "day is out of range"),
        ("2026-01-01T24:00:00Z", "hour must be in 0..23"),
        ("2026-01-01T00:00:00+24:00", "not a valid date-time"),
    ],
)
def test_bad_timestamps_say_why(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_timestamp(text)


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("+00:00", 0), ("-06:00", -360), ("+05:30", 330), ("+05:45", 345), ("+14:00", 840)],
)
def test_offsets_in_minutes(text: str, minutes: int) -> None:
    assert parse_offset(text) == minutes


@pytest.mark.parametrize("text", ["+14:30", "-15:00", "06:00", "+5:00", "Z", "+05:60"])
def test_offsets_outside_the_standard_pattern_fail(text: str) -> None:
    with pytest.raises(ValueError, match="not a time zone offset"):
        parse_offset(text)


def test_written_offset_is_the_offset_of_the_text() -> None:
    assert written_offset("2021-02-01T22:46:31.117+05:30") == 330
    assert written_offset("2021-02-01T22:46:31Z") == 0
    assert written_offset("2021-02-01T22:46:31-03:00") == -180
