"""The compiled Avro writers write what fastavro writes, and refuse what fastavro refuses.

The records are drawn from the parsed schemas themselves (every record type, every field), with
the values most likely to trip a hand-written encoder: varint boundaries, timestamps before 1970
and as plain ints, longs at the ends of their range, multi-byte and long strings.
"""

from __future__ import annotations

import copy
import struct
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from io import BytesIO
from typing import Any

import pytest
from fastavro import schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas._avro import PRIMITIVES, Schema, named_types
from schemas._writer import CompiledWriter, _varint, compile_writer
from schemas.codec import MARKER, codec_for
from schemas.errors import InvalidRecordError
from schemas.records import RecordType

from .samples import SAMPLES

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INT = (-(2**31), 2**31 - 1)
_LONG = (-(2**63), 2**63 - 1)
_REFUSED = (KeyError, TypeError, ValueError, AttributeError, OverflowError, struct.error)
"""What the compiled code raises for a value that does not fit (see schemas._writer)."""


def _fastavro(schema: Schema, record: Any, strict: bool = True) -> bytes:
    out = BytesIO()
    schemaless_writer(out, schema, record, strict_allow_default=strict)
    return out.getvalue()


@cache
def _writer(record_type: RecordType, strict: bool = True) -> CompiledWriter:
    return compile_writer(codec_for(record_type).schema, strict)


def _schema(record_type: RecordType) -> dict[str, Any]:
    return codec_for(record_type).schema


# --- strategies derived from the parsed schema ------------------------------------------------

_POWERS = sorted(
    {sign * (2**bits + delta) for bits in range(64) for delta in (-1, 0, 1) for sign in (1, -1)}
    | {0, 63, 64, -64, -65, 8191, 8192, -8192, -8193, 2**27, -(2**27), _LONG[0], _LONG[1]}
)
"""Every power of two, one either side, and their negatives: each varint width's first and last
value (zig-zag moves the boundaries to 2**(7k-1)), and the compiled code's own table limits."""


def _integers(low: int, high: int) -> st.SearchStrategy[int]:
    edges = [value for value in _POWERS if low <= value <= high]
    return st.one_of(st.sampled_from(edges), st.integers(low, high))


def _strings(max_size: int = 12) -> st.SearchStrategy[str]:
    """Short text of any script (st.text draws multi-byte characters), strings whose UTF-8 size
    sits at a length-varint boundary, and strings longer than 8192 bytes."""
    long = st.builds(
        lambda unit, times: unit * times,
        st.sampled_from(["a", "é", "€", "😀", "aé€😀"]),
        st.integers(2000, 8300),
    )
    edges = st.sampled_from([63, 64, 8191, 8192, 8193]).map(lambda size: "a" * size)
    return st.one_of(st.text(max_size=max_size), long, edges)


def _binary() -> st.SearchStrategy[bytes]:
    """Short bytes, and bytes whose size sits at a length-varint boundary or is past 8192
    (built by repetition: Hypothesis draws a few kilobytes at most)."""
    long = st.builds(
        lambda unit, times: unit * times, st.binary(min_size=1, max_size=4), st.integers(2048, 8300)
    )
    edges = st.sampled_from([63, 64, 8191, 8192, 8193]).map(lambda size: b"\xff" * size)
    return st.one_of(st.binary(max_size=20), long, edges)


_AWARE = st.one_of(
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.builds(
            timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
        ),
    ),
    # The epoch and the millisecond either side, where floor and truncation part.
    st.sampled_from([_EPOCH + timedelta(microseconds=us) for us in (-1001, -1000, -999, -1, 0, 1)]),
)
_TIMESTAMPS = st.one_of(_AWARE, _integers(*_LONG))
"""A timestamp-millis value as fastavro takes it: an aware datetime (UTC or not, before 1970 or
after, with microseconds) or the int of milliseconds."""

ANY, NULLS, VALUES = "any", "nulls", "values"
"""How a drawn record fills its optional parts: freely (and leaving out fields that have a
default), null in every nullable field and nothing in every array or map, or a value in every
nullable field and items in every array and map."""


class _Strategies:
    """Hypothesis strategies for the values of one parsed schema, named types resolved."""

    def __init__(self, schema: Schema, mode: str) -> None:
        self.names = named_types(schema)
        self.mode = mode
        self.records: dict[str, st.SearchStrategy[Any]] = {}

    def of(self, schema: Schema) -> st.SearchStrategy[Any]:
        if isinstance(schema, str):
            return self._primitive(schema) if schema in PRIMITIVES else self.of(self.names[schema])
        if isinstance(schema, list):
            return self._union(schema)
        kind = schema["type"]
        logical = schema.get("logicalType")
        if kind == "long" and logical == "timestamp-millis":
            return _TIMESTAMPS
        if logical is not None:
            raise NotImplementedError(f"no strategy for logical type {logical}")
        if kind in PRIMITIVES:
            return self._primitive(kind)
        if kind in ("record", "error"):
            return self._record(schema)
        if kind == "enum":
            return st.sampled_from(schema["symbols"])
        if kind == "fixed":
            return st.binary(min_size=schema["size"], max_size=schema["size"])
        sizes = {ANY: (0, 3), NULLS: (0, 0), VALUES: (1, 3)}[self.mode]
        if kind == "array":
            return st.lists(self.of(schema["items"]), min_size=sizes[0], max_size=sizes[1])
        if kind == "map":
            return st.dictionaries(
                _strings(6), self.of(schema["values"]), min_size=sizes[0], max_size=sizes[1]
            )
        raise NotImplementedError(f"no strategy for {kind}")

    def _primitive(self, kind: str) -> st.SearchStrategy[Any]:
        return {
            "null": st.none(),
            "boolean": st.booleans(),
            "int": _integers(*_INT),
            "long": _integers(*_LONG),
            "float": st.floats(width=32),
            "double": st.floats(),
            "bytes": _binary(),
            "string": _strings(),
        }[kind]

    def _union(self, branches: list[Any]) -> st.SearchStrategy[Any]:
        values = [branch for branch in branches if branch != "null"]
        if self.mode == NULLS and len(values) < len(branches):
            return st.none()
        if self.mode == VALUES and values:
            return st.one_of([self.of(branch) for branch in values])
        return st.one_of([self.of(branch) for branch in branches])

    def _record(self, schema: dict[str, Any]) -> st.SearchStrategy[Any]:
        name = schema["name"]
        if name not in self.records:  # deferred: a record may refer to itself

            def fields() -> st.SearchStrategy[Any]:
                defaulted = self.mode == ANY
                return st.fixed_dictionaries(
                    {
                        field["name"]: self.of(field["type"])
                        for field in schema["fields"]
                        if not (defaulted and "default" in field)
                    },
                    optional={
                        field["name"]: self.of(field["type"])
                        for field in schema["fields"]
                        if defaulted and "default" in field
                    },
                )

            self.records[name] = st.deferred(fields)
        return self.records[name]


def records(schema: Schema) -> st.SearchStrategy[Any]:
    """Records of ``schema`` in each of the three modes."""
    return st.one_of([_Strategies(schema, mode).of(schema) for mode in (ANY, NULLS, VALUES)])


# --- 1. every valid record: the same bytes ----------------------------------------------------


@pytest.mark.parametrize("record_type", list(RecordType))
def test_the_compiled_code_writes_every_record_as_fastavro_does(record_type: RecordType) -> None:
    schema = _schema(record_type)
    writer = _writer(record_type)
    codec = codec_for(record_type)

    @settings(max_examples=200, deadline=None)
    @given(records(schema))
    def same_bytes(record: dict[str, Any]) -> None:
        expected = _fastavro(schema, record)
        assert writer.compiled(record) == expected
        assert writer(record) == expected
        assert codec.encode(record) == MARKER + codec.fingerprint + expected

    same_bytes()


def test_the_strategies_reach_the_cases_they_promise() -> None:
    """The modes do what the tests above rely on: a nullable field null and not, an array
    empty and not, a defaulted field left out."""
    schema = _schema(RecordType.SHIPMENT_STATE)
    nulls = _Strategies(schema, NULLS).of(schema)
    values = _Strategies(schema, VALUES).of(schema)
    free = _Strategies(schema, ANY).of(schema)

    @settings(max_examples=10, deadline=None)
    @given(nulls, values)
    def modes(empty: dict[str, Any], full: dict[str, Any]) -> None:
        assert empty["scans"] == [] and full["scans"] != []
        assert empty["dispatch"] is None and full["dispatch"] is not None
        assert full["dispatch"]["promised_delivery"] is not None

    modes()

    defaulted = {field["name"] for field in schema["fields"] if "default" in field}
    seen: list[tuple[bool, bool]] = []

    @settings(max_examples=30, deadline=None)
    @given(free)
    def defaults(record: dict[str, Any]) -> None:
        seen.append((bool(defaulted - record.keys()), bool(defaulted & record.keys())))

    defaults()
    assert any(left_out for left_out, _ in seen) and any(given for _, given in seen)


# --- 2. what fastavro refuses, the compiled code refuses ---------------------------------------


def _sample(record_type: RecordType) -> dict[str, Any]:
    return copy.deepcopy(dict(SAMPLES[record_type]()))


_DELETE = object()


def _changed(record_type: RecordType, path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A sample record with the field at ``path`` set to ``value`` (deleted when it is
    ``_DELETE``)."""
    record = _sample(record_type)
    parent = record
    for key in path[:-1]:
        parent = parent[key]
    if value is _DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return record


_SCAN = RecordType.CARRIER_SCAN
_STATUS = RecordType.SHIPMENT_STATUS_CHANGED
_STATE = RecordType.SHIPMENT_STATE


@pytest.mark.parametrize(
    ("record_type", "path", "value", "field", "rule"),
    [
        (_SCAN, ("unknown_field",), 1, "unknown_field", "avro-unknown-field"),
        (_SCAN, ("location", "floor"), 3, "location.floor", "avro-unknown-field"),
        (_SCAN, ("raw_event_code",), _DELETE, "raw_event_code", "avro-required"),
        (_SCAN, ("status",), "TELEPORTED", "status", "avro-enum-symbol"),
        (_STATUS, ("version",), 2**63, "version", "avro-range"),
        (_STATUS, ("version",), -(2**63) - 1, "version", "avro-range"),
        (_SCAN, ("event_time",), 2**63, "event_time", "avro-range"),
        # In a union fastavro checks the range; the codec names the union's field.
        (_STATE, ("dispatch", "quantity"), 2**31, "dispatch", "avro-type"),
        (_STATE, ("dispatch", "quantity"), -(2**31) - 1, "dispatch", "avro-type"),
        (_SCAN, ("event_id",), None, "event_id", "avro-type"),
        (_SCAN, ("location", "city"), 3, "location.city", "avro-type"),
        (_SCAN, ("location",), "Shenzhen", "location", "avro-type"),
        # Refused by fastavro, written by the compiled code (see the test below):
        (RecordType.DEAD_LETTER, ("headers",), None, "headers", "avro-type"),
        (_SCAN, ("location", "latitude"), True, "location.latitude", "avro-type"),
        (_STATE, ("dispatch", "quantity"), True, "dispatch", "avro-type"),
    ],
)
def test_what_fastavro_refuses_the_compiled_code_refuses_and_the_codec_explains(
    record_type: RecordType, path: tuple[str, ...], value: Any, field: str, rule: str
) -> None:
    record = _changed(record_type, path, value)
    schema = _schema(record_type)
    with pytest.raises(_REFUSED):
        _fastavro(schema, record)
    with pytest.raises(_REFUSED):
        _writer(record_type).compiled(record)
    with pytest.raises(InvalidRecordError) as info:
        codec_for(record_type).encode(record)
    assert (info.value.field, info.value.rule) == (field, rule)


@pytest.mark.parametrize("value", [2**31, -(2**31) - 1, 2**40])
def test_an_int_out_of_range_is_refused_by_the_compiled_code(value: int) -> None:
    """fastavro writes an ``int`` field out of the 32-bit range when it is not in a union (as a
    long varint); the compiled code refuses it, so the writer's bytes are still fastavro's."""
    record = _changed(_SCAN, ("event_utc_offset_minutes",), value)
    writer = _writer(_SCAN)
    with pytest.raises(OverflowError):
        writer.compiled(record)
    assert writer(record) == _fastavro(_schema(_SCAN), record)


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if path:
        yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))


def _replaced(record: Any, path: tuple[Any, ...], value: Any) -> Any:
    record = copy.deepcopy(record)
    parent = record
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return record


_WRONG = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    "",
    "UNKNOWN",
    b"",
    b"x",
    [],
    [None],
    {},
    {"x": 1},
    2**31,
    2**63,
    datetime(2024, 1, 1, tzinfo=UTC),
]


def _full(schema: Schema, names: dict[str, Any]) -> Any:
    """A value of ``schema`` with a value in every nullable field and one item in every array
    and map: every field of every nested record is there to be spoiled."""
    if isinstance(schema, str):
        if schema not in PRIMITIVES:
            return _full(names[schema], names)
        return {
            "null": None,
            "boolean": True,
            "int": 1,
            "long": 1,
            "float": 0.5,
            "double": 0.5,
            "bytes": b"b",
            "string": "s",
        }[schema]
    if isinstance(schema, list):
        return _full(next(branch for branch in schema if branch != "null"), names)
    kind = schema["type"]
    if schema.get("logicalType") == "timestamp-millis":
        return datetime(2024, 1, 1, tzinfo=UTC)
    if kind in PRIMITIVES:
        return _full(kind, names)
    if kind in ("record", "error"):
        return {field["name"]: _full(field["type"], names) for field in schema["fields"]}
    if kind == "enum":
        return schema["symbols"][0]
    if kind == "fixed":
        return bytes(schema["size"])
    if kind == "array":
        return [_full(schema["items"], names)]
    return {"k": _full(schema["values"], names)}


@pytest.mark.parametrize("record_type", list(RecordType))
def test_whatever_the_compiled_code_writes_fastavro_writes_the_same(
    record_type: RecordType,
) -> None:
    """Every field of a record (a value in every nullable field, an item in every array and
    map) set in turn to each of a set of wrong values: where the compiled code writes bytes,
    fastavro writes the same bytes; where fastavro refuses, the compiled code refuses too (so
    the writer, and Codec.encode, refuse as they did before the compiled code)."""
    schema = _schema(record_type)
    writer = _writer(record_type)
    base = _full(schema, named_types(schema))
    assert writer.compiled(base) == _fastavro(schema, base)
    mismatches = []
    for path in _leaves(base):
        for value in _WRONG:
            record = _replaced(base, path, value)
            try:
                written = writer.compiled(record)
            except _REFUSED:
                continue
            try:
                expected = _fastavro(schema, record)
            except Exception as exc:  # any refusal, where the compiled code wrote
                found = f"fastavro raises {type(exc).__name__}"
            else:
                if written == expected:
                    continue
                found = "fastavro writes other bytes"
            where = ".".join(str(key) for key in path)
            mismatches.append(f"{where} = {value!r}: the compiled code writes, {found}")
    assert not mismatches, "\n".join(mismatches)


# --- 3. what only fastavro accepts is written by fastavro --------------------------------------


@pytest.mark.parametrize(
    ("record_type", "path", "value"),
    [
        (_SCAN, ("event_time",), datetime(2024, 11, 11, 8, 30)),  # naive
        (_SCAN, ("event_time",), datetime(1965, 3, 1, 12)),  # naive, before 1970
        (RecordType.DEAD_LETTER, ("key",), bytearray(b"TC00000000039U")),
        (RecordType.DEAD_LETTER, ("value",), bytearray()),
        (_STATUS, ("version",), 7.0),  # fastavro takes a float for a long
    ],
)
def test_what_only_fastavro_accepts_is_written_by_fastavro(
    record_type: RecordType, path: tuple[str, ...], value: Any
) -> None:
    record = _changed(record_type, path, value)
    expected = _fastavro(_schema(record_type), record)
    writer = _writer(record_type)
    with pytest.raises(_REFUSED):
        writer.compiled(record)
    assert writer(record) == expected
    codec = codec_for(record_type)
    assert codec.encode(record) == MARKER + codec.fingerprint + expected


# --- 4. a writer that is not strict ignores fields the schema does not have -------------------


@pytest.mark.parametrize("record_type", list(RecordType))
def test_a_writer_that_is_not_strict_ignores_extra_fields_as_fastavro_does(
    record_type: RecordType,
) -> None:
    schema = _schema(record_type)
    names = {field["name"] for field in schema["fields"]}
    loose = _writer(record_type, strict=False)
    strict = _writer(record_type)
    extras = st.dictionaries(
        st.text(min_size=1, max_size=8).filter(lambda key: key not in names),
        st.one_of(st.none(), st.integers(), st.text(max_size=5)),
        min_size=1,
        max_size=3,
    )

    @settings(max_examples=30, deadline=None)
    @given(records(schema), extras)
    def ignored(record: dict[str, Any], extra: dict[str, Any]) -> None:
        wider = {**record, **extra}
        expected = _fastavro(schema, wider, strict=False)
        assert expected == _fastavro(schema, record)
        assert loose.compiled(wider) == expected
        assert loose(wider) == expected
        assert loose.compiled(record) == expected
        with pytest.raises(_REFUSED):
            strict.compiled(wider)
        with pytest.raises(ValueError, match="more fields than the schema"):
            strict(wider)

    ignored()


@pytest.mark.parametrize(
    ("record_type", "path", "value"),
    [
        (_SCAN, ("location", "floor"), 3),  # an extra field in a nested record
        (_SCAN, ("tracking_number",), _DELETE),  # a defaulted field left out
        (_SCAN, ("location", "city"), _DELETE),
        (RecordType.DEAD_LETTER, ("headers",), _DELETE),  # defaults to []
    ],
)
def test_a_writer_that_is_not_strict_writes_as_fastavro_does_without_strictness(
    record_type: RecordType, path: tuple[str, ...], value: Any
) -> None:
    record = _changed(record_type, path, value)
    assert _writer(record_type, strict=False)(record) == _fastavro(
        _schema(record_type), record, strict=False
    )


def test_a_writer_that_is_not_strict_writes_a_missing_nullable_field_as_null() -> None:
    """fastavro without strictness writes null for a missing nullable field that has no
    default; the compiled code refuses it and the writer hands it to fastavro."""
    schema = {
        "type": "record",
        "name": "io.tracecode.test.Part",
        "fields": [{"name": "a", "type": "string"}, {"name": "b", "type": ["null", "long"]}],
    }
    loose = compile_writer(schema, strict=False)
    assert loose({"a": "x"}) == _fastavro(schema, {"a": "x"}, strict=False) == b"\x02x\x00"
    with pytest.raises(ValueError, match="missing"):
        compile_writer(schema)({"a": "x"})


# --- 5. varints ---------------------------------------------------------------------------------


def _fastavro_long(value: int) -> bytes:
    return _fastavro("long", value)


_BOUNDARIES = sorted(
    {sign * (2 ** (7 * k) + delta) for k in range(10) for delta in (-1, 0, 1) for sign in (1, -1)}
    | set(_POWERS)
)


def test_a_varint_at_every_width_boundary_is_what_fastavro_writes_for_a_long() -> None:
    values = [value for value in _BOUNDARIES if _LONG[0] <= value <= _LONG[1]]
    assert {2**63 - 1, -(2**63), 2**56 + 1, -(2**56) - 1, 2**7 - 1} <= set(values)
    wrong = [value for value in values if _varint(value) != _fastavro_long(value)]
    assert not wrong, [
        (value, _varint(value).hex(), _fastavro_long(value).hex()) for value in wrong
    ]


@settings(max_examples=300, deadline=None)
@given(st.one_of(_integers(*_LONG), st.integers(-(2**20), 2**20)))
def test_any_long_is_written_as_fastavro_writes_it(value: int) -> None:
    assert _varint(value) == _fastavro_long(value)


@pytest.mark.parametrize("value", [2**63, 2**63 + 1, -(2**63) - 1, -(2**63) - 2, 2**64, -(2**64)])
def test_a_value_just_outside_the_long_range_is_refused(value: int) -> None:
    with pytest.raises(OverflowError):
        _varint(value)


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(st.integers(min_value=2**63), st.integers(max_value=-(2**63) - 1)),
)
def test_a_value_outside_the_long_range_is_refused(value: int) -> None:
    with pytest.raises(OverflowError):
        _varint(value)
