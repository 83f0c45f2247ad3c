"""Schema evolution guard: may a new schema release replace the old one?

Kafka topics hold records of several releases at once, so a change must work both ways: consumers
already on the new release read old records (new reader / old writer), and consumers still on the
old release read new records (old reader / new writer). :func:`check_compatible` checks both per
the Avro specification's schema resolution rules; :func:`check_releases` applies it to every
release kept under ``schemas/avro`` and also checks that the current release reads every older
one, which is what :mod:`schemas.codec` does on each decode.

fastavro resolves schemas only while reading data (``SchemaResolutionError`` for one datum), and
has no static compatibility check, so the rules are implemented here:

- types match when equal or by promotion (int -> long, float, double; long -> float, double;
  float -> double; string <-> bytes);
- named types (record, enum, fixed) match by full name or a reader alias; fixed sizes must agree;
- a reader field missing from the writer needs a default; writer fields the reader lacks are
  skipped; field aliases count as names;
- writer enum symbols unknown to the reader need the reader enum's default;
- a writer union is readable when each branch is; a reader union must have a branch matching a
  non-union writer;
- stricter than the spec: a changed logical type (e.g. timestamp-millis -> timestamp-micros) is
  binary compatible but changes the meaning, so it is refused; and a union field's default must
  fit the union's first branch (the rule most Avro implementations enforce).
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from schemas._avro import Schema, describe, kind_of, named_types, resolve
from schemas.errors import IncompatibleSchemaError
from schemas.records import RecordType
from schemas.registry import SchemaRegistry, default_registry

_PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}


def reader_problems(reader: Schema, writer: Schema) -> list[str]:
    """Why data written with ``writer`` cannot be read with ``reader`` (empty: it can)."""
    checker = _Checker(reader, writer)
    checker.check(reader, writer, "")
    return checker.problems


def check_compatible(old: Schema, new: Schema, subject: str = "schema") -> None:
    """Raise :class:`IncompatibleSchemaError` unless ``new`` and ``old`` read each other's data."""
    problems = [f"new reader / old writer: {p}" for p in reader_problems(new, old)]
    problems += [f"old reader / new writer: {p}" for p in reader_problems(old, new)]
    if problems:
        raise IncompatibleSchemaError(subject, problems)


def check_releases(registry: SchemaRegistry | None = None) -> int:
    """Check every record type's releases: each against the previous one both ways (unchanged
    schemas included), and the current one as reader of each older one.

    Returns the number of pairs checked; raises :class:`IncompatibleSchemaError` on the first
    incompatible pair.
    """
    registry = registry or default_registry()
    checked = 0
    for record_type in RecordType:
        versions = registry.per_release(record_type)
        current = versions[-1]
        for old, new in pairwise(versions):
            check_compatible(
                old.schema, new.schema, _subject(record_type, old.release, new.release)
            )
            checked += 1
        for old in versions[:-2]:
            problems = reader_problems(current.schema, old.schema)
            if problems:
                subject = _subject(record_type, old.release, current.release)
                raise IncompatibleSchemaError(subject, [f"current reader: {p}" for p in problems])
            checked += 1
    return checked


def _subject(record_type: RecordType, old: str, new: str) -> str:
    return f"{record_type.short_name} {old} -> {new}"


class _Checker:
    def __init__(self, reader: Schema, writer: Schema) -> None:
        self.reader_names = named_types(reader)
        self.writer_names = named_types(writer)
        self.problems: list[str] = []
        self.seen: set[tuple[str, str]] = set()

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path or '<root>'}: {message}")

    def check(self, reader: Schema, writer: Schema, path: str) -> None:
        reader = resolve(reader, self.reader_names)
        writer = resolve(writer, self.writer_names)
        if kind_of(writer) == "union":
            for branch in writer:
                self.check(reader, branch, path)
            return
        if kind_of(reader) == "union":
            for branch in reader:
                if self.matches(resolve(branch, self.reader_names), writer):
                    self.check(branch, writer, path)
                    return
            self.problem(
                path, f"writer's {describe(writer)} matches no branch of {describe(reader)}"
            )
            return
        if not self.matches(reader, writer):
            self.problem(
                path, f"type changed: writer's {describe(writer)}, reader's {describe(reader)}"
            )
            return
        if _logical(reader) != _logical(writer):
            self.problem(
                path,
                f"logical type changed: writer's {_logical(writer)}, reader's {_logical(reader)}",
            )
        kind = kind_of(reader)
        if kind == "record":
            self.record(reader, writer, path)
        elif kind == "enum":
            unknown = [symbol for symbol in writer["symbols"] if symbol not in reader["symbols"]]
            if unknown and "default" not in reader:
                self.problem(
                    path,
                    f"enum {reader['name']} lacks writer symbols {unknown} and has no default",
                )
        elif kind == "array":
            self.check(reader["items"], writer["items"], f"{path}[]")
        elif kind == "map":
            self.check(reader["values"], writer["values"], f"{path}{{}}")

    def matches(self, reader: Schema, writer: Schema) -> bool:
        """The spec's "schemas match" (without recursing into fields or items)."""
        reader_kind, writer_kind = kind_of(reader), kind_of(writer)
        if reader_kind == "union" or writer_kind == "union":
            return False
        if reader_kind != writer_kind:
            return reader_kind in _PROMOTIONS.get(writer_kind, set())
        if reader_kind in ("record", "enum", "fixed"):
            if not _same_name(reader, writer):
                return False
            return reader_kind != "fixed" or reader["size"] == writer["size"]
        return True

    def record(self, reader: dict[str, Any], writer: dict[str, Any], path: str) -> None:
        key = (reader["name"], writer["name"])
        if key in self.seen:  # recursive types: each pair is checked once
            return
        self.seen.add(key)
        written = {field["name"]: field for field in writer["fields"]}
        for field in reader["fields"]:
            sub = f"{path}.{field['name']}" if path else field["name"]
            names = [field["name"], *field.get("aliases", [])]
            match = next((written[name] for name in names if name in written), None)
            if match is not None:
                self.check(field["type"], match["type"], sub)
            elif "default" not in field:
                self.problem(sub, "field is not in the writer's schema and has no default")
            if "default" in field:
                self._check_union_default(field, sub)

    def _check_union_default(self, field: dict[str, Any], path: str) -> None:
        field_type = field["type"]
        if not isinstance(field_type, list):
            return
        first_is_null = resolve(field_type[0], self.reader_names) == "null"
        if first_is_null != (field["default"] is None):
            self.problem(
                path,
                f"default {field['default']!r} does not fit the union's first branch "
                f"{describe(field_type[0])}",
            )


def _logical(schema: Schema) -> str | None:
    return schema.get("logicalType") if isinstance(schema, dict) else None


def _same_name(reader: dict[str, Any], writer: dict[str, Any]) -> bool:
    writer_name = writer["name"]
    short = writer_name.rsplit(".", 1)[-1]
    aliases = reader.get("aliases", [])
    return reader["name"] == writer_name or writer_name in aliases or short in aliases
