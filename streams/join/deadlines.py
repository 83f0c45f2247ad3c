"""Which shipments of one partition have a time-based rule due, without scanning the table.

The worker keeps one :class:`DeadlineIndex` per assigned partition: a min-heap of
``(due, code)`` plus the current due time of each code. Every state write reschedules its code;
an entry whose due time no longer matches the code's current one is stale and is dropped when
it reaches the top of the heap. The index lives in memory and is rebuilt from the table when a
partition is assigned (docs/architecture.md, "Time-based alerts").
"""

from __future__ import annotations

import heapq
from datetime import datetime

_COMPACT_FLOOR = 1024
"""Below this heap size, stale entries are left for :meth:`DeadlineIndex.pop_due` to drop."""


class DeadlineIndex:
    """Due times of the codes of one partition, earliest first."""

    __slots__ = ("_due", "_heap")

    def __init__(self) -> None:
        self._due: dict[str, datetime] = {}
        self._heap: list[tuple[datetime, str]] = []

    def __len__(self) -> int:
        """Number of codes with something due."""
        return len(self._due)

    def due_of(self, code: str) -> datetime | None:
        """The time at which ``code`` is due, if it is scheduled."""
        return self._due.get(code)

    def schedule(self, code: str, due: datetime | None) -> None:
        """Make ``due`` the time ``code`` is due (``None``: nothing is due for it)."""
        if due is None:
            self._due.pop(code, None)
            return
        if self._due.get(code) == due:
            return
        self._due[code] = due
        heapq.heappush(self._heap, (due, code))
        # Each reschedule leaves a stale entry behind; rebuilding once they outnumber the live
        # ones keeps the heap within twice the number of scheduled codes.
        if len(self._heap) > max(_COMPACT_FLOOR, 2 * len(self._due)):
            self._heap = [(when, key) for key, when in self._due.items()]
            heapq.heapify(self._heap)

    def pop_due(self, now: datetime) -> list[str]:
        """Unschedule and return, earliest first, every code due at or before ``now``.

        Ties are broken by code, so the order is a function of the schedule alone.
        """
        heap, due_codes = self._heap, []
        while heap and heap[0][0] <= now:
            due, code = heapq.heappop(heap)
            if self._due.get(code) == due:
                del self._due[code]
                due_codes.append(code)
        return due_codes
