"""Replay a file of events: publish the good lines, report each bad one with its line number.

Without ``strict`` every bad line is reported and skipped and the rest is published. With
``strict`` the replay stops at the first bad line: nothing after it is read or published, while
the lines before it have already been sent (a replay is not a transaction). Running the fixed
file again is safe: events keep their ids (given or derived from content) and the join ignores
an id it has already applied.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from producers.events import InputRecord
from producers.files import FileItem, LineError, OtherKind, ParsedLine, describe_invalid
from schemas.errors import InvalidRecordError


@dataclass(slots=True)
class ReplayReport:
    """What a replay did."""

    published: int = 0
    """Lines sent to the producer."""
    rejected: list[LineError] = field(default_factory=list)
    other_kind: int = 0
    """Lines of the other kind, skipped."""
    stopped_at: int | None = None
    """In strict mode, the line the replay stopped at."""

    @property
    def ok(self) -> bool:
        """Whether every line of the expected kind was published."""
        return not self.rejected


def replay(
    items: Iterable[FileItem],
    send: Callable[[InputRecord], None],
    *,
    strict: bool = False,
    on_line: Callable[[ReplayReport], None] | None = None,
) -> ReplayReport:
    """Pass each parsed record to ``send`` (which raises ``InvalidRecordError`` for a record
    that breaks its schema or a rule) and collect the bad lines."""
    report = ReplayReport()
    for item in items:
        if isinstance(item, OtherKind):
            report.other_kind += 1
            continue
        error = item if isinstance(item, LineError) else _send(item, send)
        if error is None:
            report.published += 1
        else:
            report.rejected.append(error)
            if strict:
                report.stopped_at = error.line
                break
        if on_line is not None:
            on_line(report)
    return report


def _send(item: ParsedLine, send: Callable[[InputRecord], None]) -> LineError | None:
    try:
        send(item.record)
    except InvalidRecordError as invalid:
        return LineError(item.line, describe_invalid(invalid))
    return None
