"""The wire codec: Avro single-object encoding of tracecode records.

Every Kafka value tracecode writes is ``C3 01`` (the single-object marker), the 8-byte
little-endian CRC-64-AVRO fingerprint of the writer schema, then the schemaless Avro body::

    from schemas.codec import RecordType, codec_for
    scans = codec_for(RecordType.CARRIER_SCAN)   # cached
    data = scans.encode(record)                   # current release's schema
    record = scans.decode(data)                   # any released writer -> current reader

Decoding finds the writer schema by fingerprint among every release kept in ``schemas/avro``
and resolves it into the current schema (fastavro's schema resolution); a record written with
the current schema is read without resolution. Failures raise the typed errors of
:mod:`schemas.errors`; their messages say what the bytes held.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from io import BytesIO
from typing import Any, Generic, Literal, TypeVar, overload

from fastavro import schemaless_reader

from schemas._avro import PRIMITIVES, Schema, describe, kind_of, named_types, resolve
from schemas._reader import compile_reader
from schemas._writer import compile_writer
from schemas.errors import (
    BadMarkerError,
    CorruptRecordError,
    InvalidRecordError,
    TruncatedRecordError,
    UnknownFingerprintError,
    WrongRecordTypeError,
)
from schemas.records import (
    CarrierScan,
    DeadLetter,
    RecordType,
    SellerDispatch,
    ShipmentAlert,
    ShipmentHistoryRecord,
    ShipmentState,
    ShipmentStatusChanged,
)
from schemas.registry import SchemaRegistry, default_registry

__all__ = ["MARKER", "Codec", "RecordType", "codec_for"]

MARKER = b"\xc3\x01"
"""The two bytes that start every Avro single-object encoded record."""
_HEADER_SIZE = len(MARKER) + 8

R = TypeVar("R")


class Codec(Generic[R]):
    """Encodes and decodes one record type; build it once (:func:`codec_for`) and reuse it."""

    __slots__ = (
        "_header",
        "_read",
        "_readers",
        "_registry",
        "_schema",
        "_write",
        "fingerprint",
        "record_type",
    )

    def __init__(self, record_type: RecordType, registry: SchemaRegistry) -> None:
        current = registry.current(record_type)
        self.record_type = record_type
        self.fingerprint = current.fingerprint
        """Fingerprint of the schema :meth:`encode` writes (8 bytes, wire order)."""
        self._registry = registry
        self._schema = current.schema
        self._header = MARKER + current.fingerprint
        self._write = compile_writer(current.schema)
        self._read = compile_reader(current.schema)
        # Keyed by the whole 10-byte header, so one dict lookup checks marker and fingerprint.
        # The reader schema is None for the current writer: fastavro then skips resolution.
        self._readers: dict[bytes, tuple[dict[str, Any], dict[str, Any] | None]] = {
            MARKER + version.fingerprint: (
                version.schema,
                None if version is current else current.schema,
            )
            for version in registry.versions(record_type)
        }

    @property
    def schema(self) -> dict[str, Any]:
        """The current (writer and reader) schema, parsed."""
        return self._schema

    def encode(self, record: R) -> bytes:
        """``record`` as Avro single-object bytes; :class:`InvalidRecordError` if it does not fit
        the schema (wrong type, missing field without default, unknown field)."""
        try:
            return self._header + self._write(record)
        except Exception as exc:  # fastavro raises ValueError/TypeError/KeyError/...: explain it
            raise self._invalid(record, exc) from exc

    def decode(self, data: bytes) -> R:
        """The record in ``data``, resolved into the current schema.

        Raises :class:`BadMarkerError`, :class:`UnknownFingerprintError`,
        :class:`WrongRecordTypeError`, :class:`TruncatedRecordError` or
        :class:`CorruptRecordError` (all :class:`~schemas.errors.CodecError`).
        """
        schemas = self._readers.get(data[:_HEADER_SIZE])
        if schemas is None:
            raise self._header_error(data)
        writer, reader = schemas
        if reader is None:
            try:
                record, end = self._read(data, _HEADER_SIZE)
            except Exception:  # the bytes do not fit: fastavro says how
                pass
            else:
                if end == len(data):
                    return record  # type: ignore[no-any-return]
        buffer = BytesIO(data)
        buffer.seek(_HEADER_SIZE)
        try:
            record = schemaless_reader(buffer, writer, reader)
        except Exception as exc:  # any failure means the body does not match the writer schema
            raise _body_error(data, writer, exc) from exc
        end = buffer.tell()
        if end != len(data):
            raise CorruptRecordError(
                f"{self.record_type.short_name} record ends at byte {end} of {len(data)}: "
                "trailing bytes follow, so this is not one single-object record"
            )
        return record  # type: ignore[return-value]

    def _header_error(self, data: bytes) -> Exception:
        if len(data) < len(MARKER) and (not data or not MARKER.startswith(data)):
            return BadMarkerError(data)
        if len(data) >= len(MARKER) and data[:2] != MARKER:
            return BadMarkerError(data[:2])
        if len(data) < _HEADER_SIZE:
            return TruncatedRecordError(len(data), _HEADER_SIZE - len(data), "the 10-byte header")
        fp = data[2:_HEADER_SIZE]
        known = self._registry.by_fingerprint(fp)
        if known is None:
            return UnknownFingerprintError(fp, len(self._registry))
        return WrongRecordTypeError(self.record_type.value, known.record_type.value, known.release)

    def _invalid(self, record: object, exc: Exception) -> InvalidRecordError:
        found = _explain(record, self._schema, named_types(self._schema), "")
        if found is None:
            return InvalidRecordError(self.record_type.short_name, "?", "avro-type", str(exc))
        field, rule, detail = found
        return InvalidRecordError(self.record_type.short_name, field, rule, detail)


@overload
def codec_for(record_type: Literal[RecordType.CARRIER_SCAN]) -> Codec[CarrierScan]: ...
@overload
def codec_for(record_type: Literal[RecordType.SELLER_DISPATCH]) -> Codec[SellerDispatch]: ...
@overload
def codec_for(
    record_type: Literal[RecordType.SHIPMENT_STATUS_CHANGED],
) -> Codec[ShipmentStatusChanged]: ...
@overload
def codec_for(
    record_type: Literal[RecordType.SHIPMENT_HISTORY_RECORD],
) -> Codec[ShipmentHistoryRecord]: ...
@overload
def codec_for(record_type: Literal[RecordType.SHIPMENT_ALERT]) -> Codec[ShipmentAlert]: ...
@overload
def codec_for(record_type: Literal[RecordType.DEAD_LETTER]) -> Codec[DeadLetter]: ...
@overload
def codec_for(record_type: Literal[RecordType.SHIPMENT_STATE]) -> Codec[ShipmentState]: ...
@overload
def codec_for(record_type: RecordType) -> Codec[Any]: ...
def codec_for(record_type: RecordType) -> Codec[Any]:
    """The codec of ``record_type`` over the packaged releases (one instance per type)."""
    return _codec(record_type)


@cache
def _codec(record_type: RecordType) -> Codec[Any]:
    return Codec(record_type, default_registry())


# --- diagnosis (failure paths only) -------------------------------------------------------


class _Short(Exception):
    def __init__(self, missing: int, where: str) -> None:
        self.missing = missing
        self.where = where


class _Bad(Exception):
    pass


def _body_error(data: bytes, writer: Schema, exc: Exception) -> Exception:
    """Why fastavro could not read the body: walk it again, byte by byte, to say where."""
    walker = _Walker(data, _HEADER_SIZE, named_types(writer))
    try:
        walker.value(writer, "")
    except _Short as short:
        return TruncatedRecordError(len(data), short.missing, short.where)
    except _Bad as bad:
        return CorruptRecordError(f"record body is not valid for its writer schema: {bad}")
    return CorruptRecordError(f"record body could not be read: {type(exc).__name__}: {exc}")


class _Walker:
    """Skips over an Avro binary body following a schema, reporting where it breaks."""

    def __init__(self, data: bytes, pos: int, names: dict[str, Any]) -> None:
        self.data = data
        self.pos = pos
        self.names = names

    def take(self, count: int, where: str) -> bytes:
        end = self.pos + count
        if end > len(self.data):
            raise _Short(end - len(self.data), where)
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def varint(self, where: str) -> int:
        shift = result = 0
        for _ in range(10):
            byte = self.take(1, where)[0]
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return (result >> 1) ^ -(result & 1)
            shift += 7
        raise _Bad(f"{where}: varint longer than 10 bytes at byte {self.pos}")

    def length(self, where: str) -> int:
        size = self.varint(where)
        if size < 0:
            raise _Bad(f"{where}: negative length {size} at byte {self.pos}")
        return size

    def value(self, schema: Schema, path: str) -> None:
        schema = resolve(schema, self.names)
        kind = kind_of(schema)
        where = f"{path or 'the record'} ({describe(schema)})"
        if kind == "null":
            return
        if kind == "boolean":
            if self.take(1, where)[0] > 1:
                raise _Bad(f"{where}: boolean byte is not 0 or 1 at byte {self.pos - 1}")
        elif kind in ("int", "long"):
            self.varint(where)
        elif kind in ("float", "double"):
            self.take(4 if kind == "float" else 8, where)
        elif kind in ("bytes", "string"):
            chunk = self.take(self.length(where), where)
            if kind == "string":
                try:
                    chunk.decode()
                except UnicodeDecodeError as exc:
                    raise _Bad(f"{where}: not UTF-8 ({exc.reason})") from None
        elif kind == "fixed":
            self.take(schema["size"], where)
        elif kind == "enum":
            index = self.varint(where)
            if not 0 <= index < len(schema["symbols"]):
                raise _Bad(f"{where}: symbol index {index} out of range")
        elif kind == "union":
            index = self.varint(where)
            if not 0 <= index < len(schema):
                raise _Bad(f"{where}: branch index {index} out of range")
            self.value(schema[index], path)
        elif kind in ("array", "map"):
            self._blocks(schema, kind, path, where)
        else:
            for field in schema["fields"]:
                self.value(field["type"], f"{path}.{field['name']}" if path else field["name"])

    def _blocks(self, schema: dict[str, Any], kind: str, path: str, where: str) -> None:
        while count := self.varint(where):
            if count < 0:
                count = -count
                self.varint(where)  # block size in bytes, only useful for skipping
            for index in range(count):
                if kind == "map":
                    self.value("string", f"{path}[key {index}]")
                    self.value(schema["values"], f"{path}[{index}]")
                else:
                    self.value(schema["items"], f"{path}[{index}]")


_INT_RANGE = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


def _explain(
    datum: object, schema: Schema, names: dict[str, Any], path: str
) -> tuple[str, str, str] | None:
    """The first place where ``datum`` does not fit ``schema``: (field path, rule, detail)."""
    schema = resolve(schema, names)
    kind = kind_of(schema)
    field = path or "<record>"
    found = f"found {type(datum).__name__} {datum!r:.60}"
    if kind == "union":
        if any(_explain(datum, branch, names, path) is None for branch in schema):
            return None
        return field, "avro-type", f"expected {describe(schema)}, {found}"
    if kind == "record":
        if not isinstance(datum, dict):
            return field, "avro-type", f"expected {describe(schema)} (a dict), {found}"
        fields = {f["name"]: f for f in schema["fields"]}
        for key in datum:
            if key not in fields:
                return (
                    f"{path}.{key}" if path else str(key),
                    "avro-unknown-field",
                    (f"{describe(schema)} has no field {key!r}"),
                )
        for name, spec in fields.items():
            sub = f"{path}.{name}" if path else name
            if name not in datum:
                if "default" in spec:
                    continue
                return sub, "avro-required", "missing, and the field has no default"
            problem = _explain(datum[name], spec["type"], names, sub)
            if problem is not None:
                return problem
        return None
    if kind == "enum":
        if datum in schema["symbols"]:
            return None
        return (
            field,
            "avro-enum-symbol",
            f"{datum!r:.60} is not one of {describe(schema)}'s symbols",
        )
    if kind in ("array", "map"):
        items = schema["items" if kind == "array" else "values"]
        if kind == "array" and isinstance(datum, (list, tuple)):
            pairs: list[tuple[str, object]] = [(f"{field}[{i}]", v) for i, v in enumerate(datum)]
        elif kind == "map" and isinstance(datum, dict) and all(isinstance(k, str) for k in datum):
            pairs = [(f"{field}[{k!r}]", v) for k, v in datum.items()]
        else:
            return field, "avro-type", f"expected {describe(schema)}, {found}"
        for sub, value in pairs:
            problem = _explain(value, items, names, sub)
            if problem is not None:
                return problem
        return None
    if kind == "fixed":
        if isinstance(datum, bytes) and len(datum) == schema["size"]:
            return None
        return field, "avro-type", f"expected {describe(schema)} of {schema['size']} bytes, {found}"
    if isinstance(datum, datetime) and isinstance(schema, dict) and "logicalType" in schema:
        return None
    return _explain_primitive(datum, kind, field, found)


def _explain_primitive(
    datum: object, kind: str, field: str, found: str
) -> tuple[str, str, str] | None:
    if kind not in PRIMITIVES:
        return field, "avro-type", f"unsupported schema type {kind}"
    ok = {
        "null": datum is None,
        "boolean": isinstance(datum, bool),
        "int": isinstance(datum, int) and not isinstance(datum, bool),
        "long": isinstance(datum, int) and not isinstance(datum, bool),
        "float": isinstance(datum, (int, float)) and not isinstance(datum, bool),
        "double": isinstance(datum, (int, float)) and not isinstance(datum, bool),
        "bytes": isinstance(datum, (bytes, bytearray)),
        "string": isinstance(datum, str),
    }[kind]
    if not ok:
        return field, "avro-type", f"expected {kind}, {found}"
    if kind in _INT_RANGE:
        low, high = _INT_RANGE[kind]
        if not low <= datum <= high:  # type: ignore[operator]
            return field, "avro-range", f"{datum} does not fit an Avro {kind}"
    return None
