"""Avro binary readers compiled from a schema: the same records as fastavro, about twice as fast.

The counterpart of :mod:`schemas._writer`: one function per named record, one straight line per
field, the one-byte varints and lengths that most fields have read inline. A compiled reader
reads records written with the schema it was compiled from (no schema resolution: records of
another release go through fastavro). Where the bytes do not fit it raises *some* exception
(``IndexError``, ``KeyError``, ``UnicodeDecodeError``...): callers then read the record with
fastavro, which returns the same record or raises the error that explains the problem.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas._avro import PRIMITIVES, Schema
from schemas._source import SourceCompiler

__all__ = ["Reader", "compile_reader", "read_long", "read_string"]

Reader = Callable[[bytes, int], tuple[Any, int]]
"""A compiled reader: the bytes and where the record starts in; the record and where it ends
out."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """The long at ``pos`` (zig-zag, base-128) and the position after it."""
    shift = value = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (value >> 1) ^ -(value & 1), pos
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def read_long(data: bytes, pos: int) -> tuple[int, int]:
    """The long at ``pos`` and the position after it."""
    byte = data[pos]
    if byte < 128:
        return (byte >> 1) ^ -(byte & 1), pos + 1
    return _varint(data, pos)


def read_string(data: bytes, pos: int) -> tuple[str, int]:
    """The string at ``pos`` and the position after it."""
    size, pos = read_long(data, pos)
    if size < 0 or pos + size > len(data):
        raise IndexError(f"a string of {size} bytes at {pos} overruns {len(data)} bytes")
    end = pos + size
    return data[pos:end].decode(), end


_HELPERS: dict[str, Any] = {
    "_varint": _varint,
    "_EPOCH": _EPOCH,
    "_timedelta": timedelta,
    "_float": struct.Struct("<f").unpack_from,
    "_double": struct.Struct("<d").unpack_from,
}


class _Compiler(SourceCompiler):
    """Writes the source of one reader function per named record of a schema."""

    def __init__(self, schema: Schema) -> None:
        super().__init__(schema, _HELPERS)

    def record(self, schema: dict[str, Any]) -> str:
        """The name of the function ``(data, pos) -> (record, pos)`` of ``schema``."""
        function, new = self.function_of(schema["name"])
        if not new:
            return function
        lines = [f"def {function}(d, p):"]
        names = []
        for index, field in enumerate(schema["fields"]):
            var = f"f{index}"
            names.append((field["name"], var))
            lines.extend("    " + line for line in self.value(field["type"], var))
        items = ", ".join(f"{field!r}: {var}" for field, var in names)
        lines.append(f"    return {{{items}}}, p")
        self.sources.append("\n".join(lines))
        return function

    def value(self, schema: Schema, var: str) -> list[str]:
        """Lines that read a value of ``schema`` at ``p`` into ``var`` and advance ``p``."""
        if isinstance(schema, str) and schema not in PRIMITIVES:
            schema = self.names[schema]
        if isinstance(schema, list):
            return self._union(schema, var)
        if isinstance(schema, dict):
            kind = schema["type"]
            logical = schema.get("logicalType")
            if kind == "long" and logical in ("timestamp-millis", "timestamp-micros"):
                # positional: timedelta(days, seconds, microseconds, milliseconds) parses
                # keywords at a cost per call
                unit = f"0, 0, 0, {var}" if logical == "timestamp-millis" else f"0, 0, {var}"
                return [*self._long(var), f"{var} = _EPOCH + _timedelta({unit})"]
            if kind in PRIMITIVES and logical is None:
                return self.value(kind, var)
            if kind in {"record", "error"}:
                return [f"{var}, p = {self.record(schema)}(d, p)"]
            if kind == "enum":
                symbols = self.constant(tuple(schema["symbols"]))
                return [*self._long(var), f"{var} = {symbols}[{var}]"]
            if kind == "array":
                return self._blocks(schema["items"], var, keyed=False)
            if kind == "map":
                return self._blocks(schema["values"], var, keyed=True)
            if kind == "fixed":
                size = schema["size"]
                return [
                    f"if p + {size} > len(d):",
                    "    raise IndexError('fixed overruns the record')",
                    f"{var} = d[p:p + {size}]",
                    f"p += {size}",
                ]
            raise NotImplementedError(f"no compiled reader for {schema!r}")
        if schema == "null":
            return [f"{var} = None"]
        if schema == "boolean":
            return [f"{var} = (False, True)[d[p]]", "p += 1"]
        if schema in ("int", "long"):
            return self._long(var)
        if schema in ("float", "double"):
            size = 4 if schema == "float" else 8
            return [f"{var} = _{schema}(d, p)[0]", f"p += {size}"]
        if schema in ("bytes", "string"):
            decode = ".decode()" if schema == "string" else ""
            return [
                *self._long("n"),
                "e = p + n",
                "if n < 0 or e > len(d):",
                "    raise IndexError('length overruns the record')",
                f"{var} = d[p:e]{decode}",
                "p = e",
            ]
        raise NotImplementedError(f"no compiled reader for {schema!r}")

    def _long(self, var: str) -> list[str]:
        # One byte holds -64..63: most lengths, enum indexes, union branches and small ints.
        return [
            "b = d[p]",
            "if b < 128:",
            f"    {var} = (b >> 1) ^ -(b & 1)",
            "    p += 1",
            "else:",
            f"    {var}, p = _varint(d, p)",
        ]

    def _union(self, branches: list[Any], var: str) -> list[str]:
        lines = self._long("i")
        for index, branch in enumerate(branches):
            keyword = "if" if index == 0 else "elif"
            lines.append(f"{keyword} i == {index}:")
            lines.extend("    " + line for line in self.value(branch, var))
        lines.extend(["else:", "    raise IndexError(f'union branch {i} out of range')"])
        return lines

    def _blocks(self, items: Schema, var: str, keyed: bool) -> list[str]:
        item = f"{var}_item"
        body = [*self.value("string", f"{var}_key")] if keyed else []
        body.extend(self.value(items, item))
        body.append(f"{var}[{var}_key] = {item}" if keyed else f"{var}.append({item})")
        return [
            f"{var} = {{}}" if keyed else f"{var} = []",
            "while True:",
            *("    " + line for line in self._long("c")),
            "    if c == 0:",
            "        break",
            "    if c < 0:",  # a negative count is followed by the block's size in bytes
            "        c = -c",
            *("        " + line for line in self._long("_")),
            "    for _ in range(c):",
            *("        " + line for line in body),
        ]


def compile_reader(schema: Schema) -> Reader:
    """A reader of records written with ``schema`` (a parsed record schema): each call reads
    one record at a position and returns it with the position after it."""
    compiler = _Compiler(schema)
    top = compiler.record(schema)
    reader: Reader = compiler.run()[top]
    return reader
