"""Small helpers over fastavro's parsed schemas, shared by the codec, registry and evolution guard.

A parsed schema is JSON-like: a primitive name (``"int"``), a union (a list), or a dict with a
``type``. Named types (record, enum, fixed) are defined once, at their first occurrence, and
referenced by full name afterwards; :func:`named_types` collects those definitions.
"""

from __future__ import annotations

from typing import Any

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED = frozenset({"record", "enum", "fixed", "error"})

Schema = Any
"""A parsed Avro schema (fastavro's representation: str, list or dict)."""


def named_types(schema: Schema, found: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Every named type defined in ``schema``, by full name."""
    found = {} if found is None else found
    if isinstance(schema, list):
        for branch in schema:
            named_types(branch, found)
    elif isinstance(schema, dict):
        kind = schema["type"]
        if kind in NAMED:
            if schema["name"] in found:
                return found
            found[schema["name"]] = schema
        if kind in ("record", "error"):
            for field in schema["fields"]:
                named_types(field["type"], found)
        elif kind == "array":
            named_types(schema["items"], found)
        elif kind == "map":
            named_types(schema["values"], found)
    return found


def resolve(schema: Schema, names: dict[str, Any]) -> Schema:
    """``schema`` with a reference to a named type replaced by its definition."""
    if isinstance(schema, str) and schema not in PRIMITIVES:
        return names[schema]
    if isinstance(schema, dict) and schema["type"] in PRIMITIVES and "logicalType" not in schema:
        return schema["type"]
    return schema


def kind_of(schema: Schema) -> str:
    """The Avro type of a resolved schema: a primitive name, ``union``, or the complex type."""
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return "union"
    kind = schema["type"]
    return "record" if kind == "error" else str(kind)


def describe(schema: Schema) -> str:
    """A short human name of a (possibly unresolved) schema, for messages."""
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return "union[" + ", ".join(describe(branch) for branch in schema) + "]"
    if schema["type"] in NAMED:
        return f"{schema['type']} {schema['name']}"
    if "logicalType" in schema:
        return f"{schema['type']} ({schema['logicalType']})"
    return str(schema["type"])


def inlined(schema: Any, named: dict[str, Any], seen: set[str] | None = None) -> Any:
    """``schema`` with every reference to a named type replaced by its definition (once)."""
    seen = set() if seen is None else seen
    if isinstance(schema, str):
        if schema in named and schema not in seen:
            seen.add(schema)
            return inlined(named[schema], named, seen)
        return schema
    if isinstance(schema, list):
        return [inlined(branch, named, seen) for branch in schema]
    if isinstance(schema, dict):
        if schema.get("type") in ("record", "enum", "fixed") and "name" in schema:
            seen.add(schema["name"])
        copy = dict(schema)
        if "fields" in copy:
            copy["fields"] = [
                {**field, "type": inlined(field["type"], named, seen)} for field in copy["fields"]
            ]
        if "items" in copy:
            copy["items"] = inlined(copy["items"], named, seen)
        if "values" in copy:
            copy["values"] = inlined(copy["values"], named, seen)
        return copy
    return schema
