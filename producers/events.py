"""The two kinds of input event and where each goes."""

from __future__ import annotations

from enum import StrEnum

from schemas.records import RecordType
from schemas.topics import TopicNames


class EventKind(StrEnum):
    """A kind of input event: a carrier scan or a seller dispatch."""

    SCAN = "scan"
    DISPATCH = "dispatch"

    @property
    def record_type(self) -> RecordType:
        """The Avro record type of this kind."""
        return RecordType.CARRIER_SCAN if self is EventKind.SCAN else RecordType.SELLER_DISPATCH

    def topic(self, topics: TopicNames) -> str:
        """The topic this kind is published to."""
        return topics.scans if self is EventKind.SCAN else topics.dispatches
