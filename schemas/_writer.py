"""Avro binary writers compiled from a schema: the same bytes as fastavro, several times faster.

fastavro's writer interprets the schema for every record, and for every union it validates the
value against each branch to choose one; with our records (~30 fields, most of them nullable,
eight timestamps) that made output encoding the largest cost of the streams worker. A record
schema is fixed at start-up, so :func:`compile_writer` turns it into Python source once: one
function per named record, one straight line per field, unions of ``null`` and one other type
decided by ``is None``.

The compiled code checks less than fastavro does: where a value does not fit it raises *some*
exception (``KeyError``, ``AttributeError``, ``TypeError``, ``OverflowError``...), and the
writer hands that record to fastavro, which writes the same bytes or raises the error that
explains the problem. Unknown fields are refused as in fastavro's strict mode. A field of a kind
the compiler does not specialise (a union of several non-null types) is written by fastavro.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

from fastavro import parse_schema, schemaless_writer

from schemas._avro import PRIMITIVES, Schema, inlined
from schemas._source import SourceCompiler

__all__ = ["CompiledWriter", "Writer", "compile_writer"]

Writer = Callable[[Any], bytes]
"""A compiled writer: a record in, its schemaless Avro body out."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_MICROSECOND = timedelta(microseconds=1)
_BYTE = tuple(bytes((value,)) for value in range(256))
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


_LOW = 16384
_SHORT = tuple(_BYTE[i] if i < 128 else bytes(((i & 127) | 128, i >> 7)) for i in range(_LOW))
"""The whole encoding of a zig-zagged value below 2**14."""
_PART = tuple(bytes(((i & 127) | 128, (i >> 7) | 128)) for i in range(_LOW))
"""Fourteen bits of a longer encoding: two bytes, both with the continuation bit."""


def _varint(value: int) -> bytes:
    """The Avro (zig-zag, base-128) encoding of a long."""
    zigzag = (value << 1) ^ (value >> 63)
    if zigzag < _LOW:
        return _SHORT[zigzag]
    if zigzag < 1 << 28:
        return _PART[zigzag & 16383] + _SHORT[zigzag >> 14]
    if zigzag < 1 << 42:  # a timestamp in milliseconds
        return _PART[zigzag & 16383] + _PART[(zigzag >> 14) & 16383] + _SHORT[zigzag >> 28]
    if not _LONG_MIN <= value <= _LONG_MAX:
        raise OverflowError(f"{value} does not fit an Avro long")
    out = bytearray()
    while zigzag > 127:
        out.append((zigzag & 127) | 128)
        zigzag >>= 7
    out.append(zigzag)
    return bytes(out)


def _varint32(value: int) -> bytes:
    if not _INT_MIN <= value <= _INT_MAX:
        raise OverflowError(f"{value} does not fit an Avro int")
    return _varint(value)


def _micros(value: datetime | int) -> int:
    if isinstance(value, int):
        return value
    return (value - _EPOCH) // _MICROSECOND


def _string(value: str) -> bytes:
    data = value.encode()
    size = len(data)
    return (_SHORT[size << 1] if size < 8192 else _varint(size)) + data


def _bytes(value: bytes) -> bytes:
    if value.__class__ is not bytes:
        raise TypeError(f"expected bytes, found {type(value).__name__}")
    return _varint(len(value)) + value


def _boolean(value: object) -> bytes:
    if value.__class__ is not bool:
        raise TypeError(f"expected bool, found {type(value).__name__}")
    return b"\x01" if value else b"\x00"


_HELPERS: dict[str, Any] = {
    "_varint": _varint,
    "_varint32": _varint32,
    "_EPOCH": _EPOCH,
    "_MILLISECOND": _MILLISECOND,
    "_SHORT": _SHORT,
    "_micros": _micros,
    "_string": _string,
    "_bytes": _bytes,
    "_boolean": _boolean,
    "_float": struct.Struct("<f").pack,
    "_double": struct.Struct("<d").pack,
    "_join": b"".join,
    "_MISSING": object(),
}


class _Compiler(SourceCompiler):
    """Writes the source of one writer function per named record of a schema."""

    def __init__(self, schema: Schema) -> None:
        super().__init__(schema, _HELPERS)

    def record(self, schema: dict[str, Any], strict: bool = True) -> str:
        """The name of the function that appends ``schema``'s record to a parts list; a
        ``strict`` one refuses fields the schema does not have."""
        function, new = self.function_of(schema["name"])
        if not new:
            return function
        fields = schema["fields"]
        lines = [f"def {function}(r, a):"]
        with_defaults = [field for field in fields if "default" in field] if strict else []
        if with_defaults:
            lines.append("    missing = 0")
        for field in fields:
            # A literal, so interned like the keys of the records: the lookup compares pointers.
            value = repr(field["name"])
            if "default" in field and strict:
                default = self.constant(field["default"])
                lines.append(f"    v = r.get({value}, _MISSING)")
                lines.append("    if v is _MISSING:")
                lines.append("        missing += 1")
                lines.append(f"        v = {default}")
            elif "default" in field:
                lines.append(f"    v = r.get({value}, {self.constant(field['default'])})")
            else:
                lines.append(f"    v = r[{value}]")
            lines.extend("    " + line for line in self.value(field["type"], "v"))
        if strict:
            known = len(fields)
            present = f"{known} - missing" if with_defaults else str(known)
            names = self.constant(frozenset(field["name"] for field in fields))
            lines.append(f"    if len(r) != {present}:")
            lines.append(f"        raise KeyError('not in the schema: %r' % (r.keys() - {names}))")
        self.sources.append("\n".join(lines))
        return function

    def value(self, schema: Schema, var: str) -> list[str]:
        """Lines that append the encoding of ``var`` (of ``schema``) to the list ``a``.

        ``a.append(...)``, not a bound ``append``: CPython 3.11 specialises that call. With
        the field names as literals, a history record is written ~10% faster.
        """
        if isinstance(schema, str) and schema not in PRIMITIVES:
            schema = self.names[schema]
        if isinstance(schema, list):
            return self._union(schema, var)
        if isinstance(schema, dict):
            kind = schema["type"]
            logical = schema.get("logicalType")
            if kind == "long" and logical == "timestamp-millis":
                # inline: the records carry a handful of timestamps each
                return [
                    f"if {var}.__class__ is not int:",
                    f"    {var} = ({var} - _EPOCH) // _MILLISECOND",
                    f"a.append(_varint({var}))",
                ]
            if kind == "long" and logical == "timestamp-micros":
                return [f"a.append(_varint(_micros({var})))"]
            if kind in PRIMITIVES and logical is None:
                return self.value(kind, var)
            if kind in {"record", "error"}:
                return [f"{self.record(schema)}({var}, a)"]
            if kind == "enum":
                symbols = self.constant({s: _varint(i) for i, s in enumerate(schema["symbols"])})
                return [f"a.append({symbols}[{var}])"]
            if kind == "array":
                return self._blocks(var, schema["items"], f"for x in {var}:", "x")
            if kind == "map":
                return self._blocks(
                    var, schema["values"], f"for k, x in {var}.items():", "x", key="k"
                )
            if kind == "fixed":
                size = schema["size"]
                return [
                    f"if {var}.__class__ is not bytes or len({var}) != {size}:",
                    f"    raise TypeError('expected {size} bytes')",
                    f"a.append({var})",
                ]
            return self._fastavro(schema, var)
        return {
            "null": [f"if {var} is not None:", "    raise TypeError('expected None')"],
            "boolean": [f"a.append(_boolean({var}))"],
            "int": [*_not_bool(var), f"a.append(_varint32({var}))"],
            "long": [*_not_bool(var), f"a.append(_varint({var}))"],
            "float": [*_not_bool(var), f"a.append(_float({var}))"],
            "double": [*_not_bool(var), f"a.append(_double({var}))"],
            "bytes": [f"a.append(_bytes({var}))"],
            "string": [  # inline: most fields are strings
                f"b = {var}.encode()",
                "n = len(b)",
                "a.append(_SHORT[n << 1] if n < 8192 else _varint(n))",
                "a.append(b)",
            ],
        }[schema]

    def _union(self, branches: list[Any], var: str) -> list[str]:
        if len(branches) == 2 and "null" in branches:
            null = branches.index("null")
            other = branches[1 - null]
            lines = [
                f"if {var} is None:",
                f"    a.append({_BYTE[2 * null]!r})",
                "else:",
                f"    a.append({_BYTE[2 * (1 - null)]!r})",
            ]
            lines.extend("    " + line for line in self.value(other, var))
            return lines
        return self._fastavro(branches, var)

    def _blocks(
        self, var: str, items: Schema, loop: str, item: str, key: str | None = None
    ) -> list[str]:
        body = [f"a.append(_string({key}))"] if key is not None else []
        body.extend(self.value(items, item))
        kinds = "(dict,)" if key is not None else "(list, tuple)"
        return [
            f"if {var}.__class__ not in {kinds}:",
            "    raise TypeError('not an array or map')",
            f"if {var}:",
            f"    a.append(_varint(len({var})))",
            f"    {loop}",
            *("        " + line for line in body),
            "a.append(b'\\x00')",
        ]

    def _fastavro(self, schema: Schema, var: str) -> list[str]:
        parsed = parse_schema(inlined(schema, self.names))
        writer = self.constant(_fastavro_writer(parsed))
        return [f"a.append({writer}({var}))"]


def _not_bool(var: str) -> list[str]:
    # fastavro refuses a bool for a number inside a union and takes it elsewhere: refusing it
    # always lets fastavro decide.
    return [f"if {var}.__class__ is bool:", "    raise TypeError('a bool for a number')"]


def _fastavro_writer(schema: Schema, strict: bool = True) -> Writer:
    def write(value: Any) -> bytes:
        out = BytesIO()
        schemaless_writer(out, schema, value, strict_allow_default=strict)
        return out.getvalue()

    return write


class CompiledWriter:
    """Writes records of one schema: compiled code first, fastavro for what that refuses."""

    __slots__ = ("compiled", "reference")

    def __init__(self, compiled: Writer, reference: Writer) -> None:
        self.compiled = compiled
        """The compiled code alone: raises for anything unusual."""
        self.reference = reference
        """fastavro's writer of the same schema."""

    def __call__(self, record: Any) -> bytes:
        """``record``'s schemaless Avro body; fastavro's error if it does not fit."""
        try:
            return self.compiled(record)
        except Exception:  # unusual or wrong: fastavro writes it, or says what is wrong
            return self.reference(record)


def compile_writer(schema: Schema, strict: bool = True) -> CompiledWriter:
    """A writer of ``schema``'s records (a parsed record schema, as ``fastavro.parse_schema``
    returns it): the schemaless body, byte for byte what fastavro writes.

    A writer that is not ``strict`` ignores fields of the record the schema does not have (as
    fastavro does without ``strict_allow_default``), to write a part of a wider record.
    """
    compiler = _Compiler(schema)
    top = compiler.record(schema, strict)
    compiler.sources.append(
        f"def write(r):\n    parts = []\n    {top}(r, parts)\n    return _join(parts)"
    )
    return CompiledWriter(compiler.run()["write"], _fastavro_writer(schema, strict))
