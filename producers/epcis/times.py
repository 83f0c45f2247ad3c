"""EPCIS timestamps and time zone offsets.

EPCIS 2.0 JSON writes times as RFC 3339 date-times (``format: date-time`` in the standard's JSON
schema): a date, ``T``, a time with optional fraction, and a mandatory UTC offset or ``Z``.
tracecode keeps event times as UTC with millisecond precision (Avro ``timestamp-millis``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})"
)
# The standard's pattern: -14:00 ... +14:00, as the JSON schema writes it.
_OFFSET = re.compile(r"([+-])((?:0\d|1[0-3]):[0-5]\d|14:00)")


def parse_timestamp(text: str) -> datetime:
    """``text`` (an RFC 3339 date-time) as an aware UTC datetime truncated to milliseconds.

    Raises :class:`ValueError` saying what is wrong.
    """
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not an RFC 3339 date-time with a UTC offset "
            "(e.g. 2024-05-01T13:45:00.000+02:00 or 2024-05-01T11:45:00Z)"
        )
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        local = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            micros,
            tzinfo=_zone(offset),
        )
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid date-time: {exc}") from None
    utc = local.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


def parse_offset(text: str) -> int:
    """An ``eventTimeZoneOffset`` (``+05:30``, ``-06:00``) in minutes east of UTC.

    Raises :class:`ValueError` when ``text`` does not match the standard's pattern.
    """
    match = _OFFSET.fullmatch(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not a time zone offset between -14:00 and +14:00 written as ±hh:mm"
        )
    sign, clock = match.groups()
    hours, minutes = clock.split(":")
    total = int(hours) * 60 + int(minutes)
    return -total if sign == "-" else total


def written_offset(text: str) -> int:
    """The UTC offset, in minutes, that an RFC 3339 date-time ``text`` is written in."""
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not an RFC 3339 date-time with a UTC offset")
    delta = _zone(match.group(8)).utcoffset(None)
    return int(delta.total_seconds() // 60)


def _zone(offset: str) -> timezone:
    if offset in ("Z", "z"):
        return UTC
    sign = -1 if offset[0] == "-" else 1
    hours, minutes = offset[1:].split(":")
    if int(minutes) > 59:
        raise ValueError(f"offset {offset} has more than 59 minutes")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))
