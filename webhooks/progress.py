"""A subscriber's progress in one partition, kept in the consumer group's committed offset.

The committed offset is the first record not yet settled (delivered, filtered out or
dead-lettered); its metadata says how far the subscriber had read and, for each record still
pending, how many attempts it has had and when the next is due. So a restarted (or
rebalanced) service neither loses a retry nor resets its backoff, and does not resend what was
settled after the oldest pending record. Kafka keeps the state; the process keeps none of its
own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

METADATA_VERSION = 1
MAX_PENDING = 100
"""The most pending records one partition's metadata holds: ~30 bytes each keeps it under the
broker's ``offset.metadata.max.bytes`` (4096 by default)."""


@dataclass(frozen=True, slots=True)
class Retry:
    """Where one pending record stands."""

    attempts: int
    """Attempts made so far (0: not yet answered)."""
    next_at: float
    """Unix time the next attempt is due."""


@dataclass(frozen=True, slots=True)
class Progress:
    """The settled and pending records of one partition."""

    read_to: int
    """The offset after the last record read: records before it and not pending are settled."""
    pending: Mapping[int, Retry] = field(default_factory=dict)
    """By offset, the records read but not settled."""

    def __post_init__(self) -> None:
        if len(self.pending) > MAX_PENDING:
            raise ValueError(f"{len(self.pending)} pending records; at most {MAX_PENDING}")

    @property
    def commit_offset(self) -> int:
        """The offset to commit: the oldest pending record, or where reading goes on."""
        return min(self.pending, default=self.read_to)

    def metadata(self) -> str:
        """The commit metadata of this progress: compact JSON."""
        document = {
            "v": METADATA_VERSION,
            "read_to": self.read_to,
            "pending": {
                str(offset): [retry.attempts, round(retry.next_at, 1)]
                for offset, retry in sorted(self.pending.items())
            },
        }
        return json.dumps(document, separators=(",", ":"))

    @classmethod
    def restore(cls, committed: int, metadata: str | None) -> Progress:
        """The progress committed at offset ``committed`` with ``metadata``.

        Metadata this module did not write (none, another version, damaged) restores as
        "nothing settled after the committed offset, no attempts made": records are delivered
        again rather than skipped.
        """
        fresh = cls(read_to=committed)
        if not metadata:
            return fresh
        try:
            document = json.loads(metadata)
            if document.get("v") != METADATA_VERSION:
                raise ValueError(f"version {document.get('v')!r}")
            read_to = int(document["read_to"])
            pending = {
                int(offset): Retry(int(attempts), float(next_at))
                for offset, (attempts, next_at) in document["pending"].items()
                if int(offset) >= committed
            }
            return cls(read_to=max(read_to, committed), pending=pending)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            log.warning(
                "unreadable webhook progress metadata; delivering from the committed offset",
                extra={"committed": committed, "error": str(error)},
            )
            return fresh
