"""Typed errors of the contracts: decoding, encoding and validating records, parsing codes.

Every record error derives from :class:`CodecError`, so a consumer that dead-letters bad input
catches one class. Messages say what was found and what was expected; the attributes carry the
same facts for programs.
"""

from __future__ import annotations


class CodecError(Exception):
    """A record could not be encoded, decoded or validated."""


class BadMarkerError(CodecError):
    """The bytes do not start with the Avro single-object marker ``C3 01``."""

    def __init__(self, found: bytes) -> None:
        self.found = found
        shown = found.hex(" ") or "no bytes"
        if found[:1] == b"\x00":
            super().__init__(
                f"a Confluent Schema Registry framed record (found {shown}), and this reader has "
                "no schema registry to resolve its schema id: set TRACECODE_SCHEMA_REGISTRY_URL"
            )
            return
        super().__init__(f"not an Avro single-object record: expected marker c3 01, found {shown}")


class UnknownFingerprintError(CodecError):
    """The writer schema's fingerprint is not one of the released schemas."""

    def __init__(self, fingerprint: bytes, known: int) -> None:
        self.fingerprint = fingerprint
        self.known = known
        super().__init__(
            f"unknown writer schema fingerprint {fingerprint.hex()} (CRC-64-AVRO, little-endian): "
            f"none of the {known} released schemas has it; was the record written by a newer "
            "release of tracecode?"
        )


class WrongRecordTypeError(CodecError):
    """The record was written with the schema of another record type."""

    def __init__(self, expected: str, found: str, release: str) -> None:
        self.expected = expected
        self.found = found
        self.release = release
        super().__init__(
            f"expected a {expected} record, found {found} (schema release {release}): "
            "is the topic's serializer right?"
        )


class TruncatedRecordError(CodecError):
    """The bytes end before the record does."""

    def __init__(self, size: int, missing: int, where: str) -> None:
        self.size = size
        self.missing = missing
        self.where = where
        super().__init__(
            f"record truncated: its {_bytes(size)} end while reading {where}; "
            f"at least {_bytes(missing)} more needed"
        )


class CorruptRecordError(CodecError):
    """The body is not a valid encoding of the writer schema (garbage or trailing bytes)."""


class InvalidRecordError(CodecError, ValueError):
    """A record breaks its schema or a semantic rule; ``field`` and ``rule`` say which."""

    def __init__(self, record_type: str, field: str, rule: str, detail: str) -> None:
        self.record_type = record_type
        self.field = field
        self.rule = rule
        self.detail = detail
        super().__init__(f"invalid {record_type}: field {field!r} breaks rule {rule!r}: {detail}")


class InvalidCodeError(ValueError):
    """Text is not a valid traceability code; ``rule`` names the rule it broke."""

    def __init__(self, text: str, rule: str, detail: str) -> None:
        self.text = text
        self.rule = rule
        self.detail = detail
        super().__init__(f"invalid traceability code {text!r}: {rule}: {detail}")


class IncompatibleSchemaError(Exception):
    """A schema change breaks reading old data with the new schema or new data with the old."""

    def __init__(self, subject: str, problems: list[str]) -> None:
        self.subject = subject
        self.problems = problems
        listing = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{subject}: incompatible schema change:\n{listing}")


def _bytes(count: int) -> str:
    return f"{count} byte" if count == 1 else f"{count} bytes"
