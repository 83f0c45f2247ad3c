"""ShipmentState in the wire encoding, cheap to write again (the ``shipments`` table's states).

A state keeps every scan of its shipment (up to ``Rules.max_scans``) and its dispatch, which
are most of its bytes, and it is written back at every commit that changed it: encoding it
whole with fastavro cost ~210 µs, more than joining the events that changed it. But an Avro
record is the concatenation of its fields' encodings, an array is a count followed by its items,
and the items of ``ShipmentState.scans`` and the branch of ``ShipmentState.dispatch`` are the
very ``CarrierScan`` and ``SellerDispatch`` records the worker read from its input topics. So
:class:`StateCodec` keeps the encoded *body* of each scan and dispatch by event id (the input
record's bytes after its 10-byte header, when it was written with the current schema; else
encoded once) and assembles a state from them, encoding only the fields that change with
fastavro. The bytes are exactly those of :func:`schemas.codec.codec_for` (a unit test holds the
two equal); the table stores them after a schedule (:mod:`streams.join.stored`).

Decoding reads the same pieces one at a time (fastavro reads a buffer only as far as it needs),
so the bodies of a state read from RocksDB are known too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from io import BytesIO
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer

from schemas._avro import inlined, named_types
from schemas._reader import compile_reader, read_long, read_string
from schemas._writer import compile_writer
from schemas.codec import MARKER, codec_for
from schemas.records import CarrierScan, RecordType, SellerDispatch, ShipmentState

Bodies = MutableMapping[str, bytes]
"""Encoded CarrierScan or SellerDispatch bodies (no header) by event id."""

_HEAD = ("code", "dispatch", "dispatch_event_ids", "scans")
"""The leading fields of ShipmentState that the codec assembles itself, in schema order."""


class StateCodec:
    """Encodes and decodes ShipmentState, reusing the encoded bodies of scans and dispatches."""

    def __init__(self) -> None:
        self._states = codec_for(RecordType.SHIPMENT_STATE)
        self._header = MARKER + self._states.fingerprint
        schema = self._states.schema
        names = [field["name"] for field in schema["fields"]]
        if tuple(names[: len(_HEAD)]) != _HEAD:
            raise RuntimeError(
                f"ShipmentState starts with {names[: len(_HEAD)]}, not {list(_HEAD)}: "
                "streams.join.state_codec assembles those fields and must follow the schema"
            )
        named = named_types(schema)
        # The scans and the dispatch of a state are of the input records' own named types.
        self._scan = codec_for(RecordType.CARRIER_SCAN).schema
        self._dispatch = codec_for(RecordType.SELLER_DISPATCH).schema
        tail = {
            "type": "record",
            "name": "io.tracecode.ShipmentStateTail",
            "fields": schema["fields"][len(_HEAD) :],
        }
        self._tail = parse_schema(inlined(tail, named))
        self._write_tail = compile_writer(self._tail, strict=False)
        self._read_tail = compile_reader(self._tail)
        self._read_scan = compile_reader(self._scan)
        self._read_dispatch = compile_reader(self._dispatch)

    def encode(self, state: ShipmentState, bodies: Bodies) -> bytes:
        """``state`` in the wire encoding; bodies of its scans and dispatch are taken from
        ``bodies`` and those missing are encoded and added to it."""
        out = BytesIO()
        out.write(self._header)
        _string(out, state["code"])
        dispatch = state["dispatch"]
        _long(out, 0 if dispatch is None else 1)
        if dispatch is not None:
            out.write(self._body(bodies, dispatch, self._dispatch))
        _strings(out, state["dispatch_event_ids"])
        scans = state["scans"]
        if scans:
            _long(out, len(scans))
            for scan in scans:
                out.write(self._body(bodies, scan, self._scan))
        _long(out, 0)
        out.write(self._write_tail(state))
        return out.getvalue()

    def code_of(self, data: bytes, start: int = 0) -> str | None:
        """The code of the state encoded at ``start`` of ``data``, read without decoding the
        rest (``None`` when it was written with another release's schema)."""
        end = start + len(self._header)
        if data[start:end] != self._header:
            return None
        code, _ = read_string(data, end)
        return code

    def decode(self, data: bytes, bodies: Bodies) -> ShipmentState:
        """The state in ``data``; the bodies of its scans and dispatch are added to
        ``bodies``."""
        if data[: len(self._header)] != self._header:
            # Another release's schema: resolved by the codec, bodies encoded when needed.
            return self._states.decode(data)
        try:
            return self._decode_compiled(data, bodies)
        except Exception:  # the bytes do not fit: fastavro reads them or says how
            return self._decode_checked(data, bodies)

    def _decode_compiled(self, data: bytes, bodies: Bodies) -> ShipmentState:
        code, pos = read_string(data, len(self._header))
        state: dict[str, Any] = {"code": code, "dispatch": None}
        found: dict[str, bytes] = {}
        branch, pos = read_long(data, pos)
        if branch == 1:
            start = pos
            dispatch, pos = self._read_dispatch(data, pos)
            found[dispatch["event_id"]] = data[start:pos]
            state["dispatch"] = dispatch
        elif branch != 0:
            raise ValueError(f"union branch {branch}")
        state["dispatch_event_ids"], pos = _read_blocks(data, pos, read_string)

        def read_scan(data: bytes, start: int) -> tuple[Any, int]:
            scan, end = self._read_scan(data, start)
            found[scan["event_id"]] = data[start:end]
            return scan, end

        state["scans"], pos = _read_blocks(data, pos, read_scan)
        tail, pos = self._read_tail(data, pos)
        if pos != len(data):
            raise ValueError(f"the state ends at byte {pos} of {len(data)}")
        state.update(tail)
        bodies.update(found)
        return state  # type: ignore[return-value]

    def _decode_checked(self, data: bytes, bodies: Bodies) -> ShipmentState:
        buffer = BytesIO(data)
        buffer.seek(len(self._header))
        view = memoryview(data)
        state: dict[str, Any] = {"code": _read_string(buffer)}
        if _read_long(buffer) == 1:
            state["dispatch"] = self._read_body(buffer, view, self._dispatch, bodies)
        else:
            state["dispatch"] = None
        state["dispatch_event_ids"] = schemaless_reader(buffer, _STRINGS, None)
        state["scans"] = _read_array(
            buffer, lambda: self._read_body(buffer, view, self._scan, bodies)
        )
        tail: Any = schemaless_reader(buffer, self._tail, None)
        state.update(tail)
        return state  # type: ignore[return-value]

    def _body(
        self, bodies: Bodies, event: CarrierScan | SellerDispatch, schema: dict[str, Any]
    ) -> bytes:
        body = bodies.get(event["event_id"])
        if body is None:
            buffer = BytesIO()
            schemaless_writer(buffer, schema, event, strict_allow_default=True)
            body = bodies[event["event_id"]] = buffer.getvalue()
        return body

    @staticmethod
    def _read_body(
        buffer: BytesIO, view: memoryview, schema: dict[str, Any], bodies: Bodies
    ) -> Any:
        start = buffer.tell()
        event: Any = schemaless_reader(buffer, schema, None)
        bodies[event["event_id"]] = bytes(view[start : buffer.tell()])
        return event


_INPUT_HEADERS = {
    record_type: MARKER + codec_for(record_type).fingerprint
    for record_type in (RecordType.CARRIER_SCAN, RecordType.SELLER_DISPATCH)
}


def body_of(value: bytes | None, record_type: RecordType) -> bytes | None:
    """The body of an input scan or dispatch written with the current schema of its type
    (else ``None``: it was resolved from another release and is encoded again when needed)."""
    header = _INPUT_HEADERS[record_type]
    if value is None or value[: len(header)] != header:
        return None
    return value[len(header) :]


def keep_only(bodies: Bodies, state: Mapping[str, Any]) -> None:
    """Drop the bodies of events ``state`` no longer holds (evicted, retracted, replaced)."""
    held = {scan["event_id"] for scan in state["scans"]}
    dispatch = state["dispatch"]
    if dispatch is not None:
        held.add(dispatch["event_id"])
    for event_id in [event_id for event_id in bodies if event_id not in held]:
        del bodies[event_id]


# Avro binary framing (specification, "Binary Encoding"): a union is the branch's index then the
# value, an array blocks of a count then items, ended by a count of 0 (a negative count is
# followed by the block's size in bytes).
_LONG = "long"
_STRING = "string"
_STRINGS = parse_schema({"type": "array", "items": "string"})


def _long(out: BytesIO, value: int) -> None:
    schemaless_writer(out, _LONG, value)


def _string(out: BytesIO, value: str) -> None:
    schemaless_writer(out, _STRING, value)


def _strings(out: BytesIO, values: list[str]) -> None:
    schemaless_writer(out, _STRINGS, values)


def _read_long(buffer: BytesIO) -> int:
    value: Any = schemaless_reader(buffer, _LONG, None)
    return int(value)


def _read_string(buffer: BytesIO) -> str:
    value: Any = schemaless_reader(buffer, _STRING, None)
    return str(value)


def _read_array(buffer: BytesIO, read_item: Callable[[], Any]) -> list[Any]:
    items: list[Any] = []
    while (count := _read_long(buffer)) != 0:
        if count < 0:
            _read_long(buffer)
            count = -count
        items.extend(read_item() for _ in range(count))
    return items


def _read_blocks(
    data: bytes, pos: int, read_item: Callable[[bytes, int], tuple[Any, int]]
) -> tuple[list[Any], int]:
    """The array at ``pos`` (blocks of a count, then items; a negative count is followed by the
    block's size in bytes) and the position after it."""
    items: list[Any] = []
    while True:
        size, pos = read_long(data, pos)
        if size == 0:
            return items, pos
        if size < 0:
            size = -size
            _, pos = read_long(data, pos)
        for _ in range(size):
            item, pos = read_item(data, pos)
            items.append(item)
