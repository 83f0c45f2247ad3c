"""Why an EPCIS document is rejected."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MAX_LISTED = 50
"""Problems listed in an :class:`InvalidDocumentError` message; the rest are only counted."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One rule of EPCIS 2.0 / CBV 2.0 that a document breaks."""

    field: str
    """Where: a path inside the event (``quantityList[0].quantity``) or, outside any event,
    inside the document (``epcisBody``); empty for the document as a whole."""
    rule: str
    """Short name of the broken rule, e.g. ``required``, ``cbv-bizStep``, ``date-time``."""
    message: str
    """What is wrong, for people."""
    event_index: int | None = None
    """Position of the event in ``eventList`` (0-based); ``None`` outside events."""
    event_id: str | None = None
    """The event's ``eventID`` when it has one."""

    def __str__(self) -> str:
        where = []
        if self.event_index is not None:
            event = f"event {self.event_index}"
            if self.event_id:
                event += f" (eventID {self.event_id})"
            where.append(event)
        if self.field:
            where.append(f"field {self.field}")
        prefix = ", ".join(where) or "document"
        return f"{prefix}: {self.message} [{self.rule}]"


class InvalidDocumentError(ValueError):
    """The input is not a valid EPCIS 2.0 capture document; nothing of it may be published."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        listed = [f"  - {problem}" for problem in self.problems[:MAX_LISTED]]
        if len(self.problems) > MAX_LISTED:
            listed.append(f"  ... and {len(self.problems) - MAX_LISTED} more")
        count = len(self.problems)
        super().__init__(
            f"not a valid EPCIS 2.0 document ({count} problem{'s' if count != 1 else ''}):\n"
            + "\n".join(listed)
        )
