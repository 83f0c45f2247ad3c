"""The two kinds of input event, where each goes, and how one becomes Kafka bytes."""

from __future__ import annotations

from enum import StrEnum

from schemas.codec import codec_for
from schemas.records import CarrierScan, RecordType, SellerDispatch
from schemas.topics import TopicNames
from schemas.validation import validate

InputRecord = CarrierScan | SellerDispatch


class EventKind(StrEnum):
    """A kind of input event: a carrier scan or a seller dispatch."""

    SCAN = "scan"
    DISPATCH = "dispatch"

    @property
    def record_type(self) -> RecordType:
        """The Avro record type of this kind."""
        return RecordType.CARRIER_SCAN if self is EventKind.SCAN else RecordType.SELLER_DISPATCH

    @property
    def plural(self) -> str:
        """``scans`` or ``dispatches``, for people."""
        return "scans" if self is EventKind.SCAN else "dispatches"

    def topic(self, topics: TopicNames) -> str:
        """The topic this kind is published to."""
        return topics.scans if self is EventKind.SCAN else topics.dispatches


def encode_event(kind: EventKind, record: InputRecord, *, check: bool = True) -> bytes:
    """``record`` as the bytes published for ``kind``.

    Raises :class:`~schemas.errors.InvalidRecordError` when the record does not fit its schema
    or (with ``check``) breaks a rule of ``schemas.validation``.
    """
    value = codec_for(kind.record_type).encode(record)
    if check:
        # After encoding: the semantic rules assume a record that fits its schema.
        validate(kind.record_type, record)
    return value
