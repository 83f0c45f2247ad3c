"""Hypothesis strategies built from the Avro schemas themselves, so every field is covered."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from schemas._avro import Schema, kind_of, named_types, resolve

_MIN_TIME = datetime(1900, 1, 1, tzinfo=UTC)
_MAX_TIME = datetime(2200, 1, 1)


def _millis(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def for_schema(schema: Schema) -> st.SearchStrategy[Any]:
    """Records (or values) that fit ``schema``, logical timestamps as aware UTC datetimes."""
    return _strategy(schema, named_types(schema))


def _strategy(schema: Schema, names: dict[str, Any]) -> st.SearchStrategy[Any]:
    schema = resolve(schema, names)
    kind = kind_of(schema)
    if isinstance(schema, dict) and schema.get("logicalType") == "timestamp-millis":
        return st.datetimes(
            min_value=_MIN_TIME.replace(tzinfo=None), max_value=_MAX_TIME, timezones=st.just(UTC)
        ).map(_millis)
    simple: dict[str, st.SearchStrategy[Any]] = {
        "null": st.none(),
        "boolean": st.booleans(),
        "int": st.integers(-(2**31), 2**31 - 1),
        "long": st.integers(-(2**63), 2**63 - 1),
        "float": st.floats(width=32, allow_nan=False),
        "double": st.floats(allow_nan=False),
        "bytes": st.binary(max_size=40),
        "string": st.text(max_size=30),
    }
    if kind in simple:
        return simple[kind]
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "union":
        return st.one_of([_strategy(branch, names) for branch in schema])
    if kind == "array":
        return st.lists(_strategy(schema["items"], names), max_size=3)
    if kind == "map":
        return st.dictionaries(st.text(max_size=8), _strategy(schema["values"], names), max_size=3)
    if kind == "record":
        return st.fixed_dictionaries(
            {field["name"]: _strategy(field["type"], names) for field in schema["fields"]}
        )
    raise NotImplementedError(kind)
