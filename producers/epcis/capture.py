"""EPCIS 2.0 capture as one call: input in, validated carrier scan records and a summary out.

A document is taken or rejected as a whole: every problem is collected first (structure, rules,
the records it would give), and a single one rejects the document, so that a partner's file is
never half published.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from producers.epcis.document import read_input
from producers.epcis.errors import InvalidDocumentError, Problem
from producers.epcis.hashing import CONTENT_HASH_PREFIX, event_id
from producers.epcis.locations import master_data
from producers.epcis.mapping import RecordDefaults, event_records, skip_reason
from producers.epcis.rules import rule_problems
from producers.epcis.structure import structural_problems
from schemas.errors import InvalidRecordError
from schemas.records import CarrierScan, RecordType
from schemas.validation import is_carrier_slug, validate

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class CaptureSummary:
    """What a capture read and gave."""

    events: Counter[str] = field(default_factory=Counter)
    """Events read, by event type."""
    scans: int = 0
    """Scan records produced."""
    retractions: int = 0
    """Retraction records produced (one per code of an event with an errorDeclaration)."""
    skipped_events: Counter[str] = field(default_factory=Counter)
    """Events that gave no record, by reason."""
    skipped_identifiers: Counter[str] = field(default_factory=Counter)
    """Identifiers and quantities that are no traceability code, by reason."""
    content_hash_ids: int = 0
    """Events without eventID whose standard event hash could not be computed, identified by
    a content hash instead (docs/epcis.md)."""

    @property
    def events_read(self) -> int:
        """Events in the input."""
        return sum(self.events.values())


@dataclass(frozen=True, slots=True)
class Capture:
    """The records of one valid EPCIS input, in document order."""

    records: list[CarrierScan]
    summary: CaptureSummary


def capture(
    data: bytes | str, *, carrier: str = "epcis", received_time: datetime | None = None
) -> Capture:
    """Validate the EPCIS 2.0 input ``data`` and map it to carrier scan records.

    ``carrier`` (a lower-case slug, else :class:`ValueError`) names the sender in every record;
    ``received_time`` defaults to now. Raises
    :class:`~producers.epcis.errors.InvalidDocumentError` listing every problem when the input
    is not valid EPCIS 2.0, or when a record it gives would break the record contract.
    """
    if not is_carrier_slug(carrier):
        raise ValueError(f"carrier {carrier!r} is not a lower-case slug like 'cainiao'")
    capture_input = read_input(data)
    problems = structural_problems(capture_input) + rule_problems(capture_input)
    if problems:
        raise InvalidDocumentError(_by_event(problems))
    defaults = RecordDefaults(carrier, received_time or datetime.now(UTC))
    master = master_data(capture_input.body.get("epcisHeader"))
    summary = CaptureSummary()
    records: list[CarrierScan] = []
    for index, event in capture_input.indexed_events():
        summary.events[event["type"]] += 1
        reason = skip_reason(event)
        if reason is None:
            identity = event_id(event, capture_input.event_context(event))
            if identity.startswith(CONTENT_HASH_PREFIX):
                summary.content_hash_ids += 1
            given = event_records(event, identity, master, defaults)
            summary.skipped_identifiers.update(given.skipped_identifiers)
            problems += _invalid_records(given.records, index, event.get("eventID"))
            records += given.records
            reason = given.skipped
        if reason is not None:
            summary.skipped_events[reason] += 1
            logger.debug(
                "EPCIS event gives no record", extra={"event_index": index, "reason": reason}
            )
    if problems:
        raise InvalidDocumentError(_by_event(problems))
    if summary.content_hash_ids:
        logger.warning(
            "EPCIS events without eventID identified by a content hash: the reference "
            "implementation could not compute their standard event hash",
            extra={"events": summary.content_hash_ids},
        )
    summary.retractions = sum(1 for record in records if record["retracts_event_id"])
    summary.scans = len(records) - summary.retractions
    logger.info(
        "EPCIS input captured",
        extra={
            "events": summary.events_read,
            "scans": summary.scans,
            "retractions": summary.retractions,
            "skipped_events": sum(summary.skipped_events.values()),
        },
    )
    return Capture(records, summary)


def _invalid_records(records: list[CarrierScan], index: int, given_id: object) -> list[Problem]:
    problems: list[Problem] = []
    for record in records:
        try:
            validate(RecordType.CARRIER_SCAN, record)
        except InvalidRecordError as exc:
            problems.append(
                Problem(
                    _source_field(record, exc.field),
                    f"record-{exc.rule}",
                    f"the scan it gives breaks the record contract: {exc}",
                    index,
                    given_id if isinstance(given_id, str) else None,
                )
            )
    return problems


def _source_field(record: CarrierScan, field: str) -> str:
    """The input field behind a broken record field, as far as one is responsible."""
    if field == "event_utc_offset_minutes":
        # Real zones span UTC-12:00..+14:00; the EPCIS pattern allows down to -14:00.
        if record["retracts_event_id"]:
            return "errorDeclaration.declarationTime"
        return "eventTimeZoneOffset"
    return f"(scan of {record['code']}) {field}"


def _by_event(problems: list[Problem]) -> list[Problem]:
    """Document-level problems first, then each event's in document order (stable)."""
    return sorted(problems, key=lambda p: -1 if p.event_index is None else p.event_index)
