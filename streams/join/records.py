"""The join's records on the wire: input records read into events, steps encoded as outputs."""

from __future__ import annotations

from fastavro import parse_schema

from schemas._avro import inlined, named_types
from schemas._writer import compile_writer
from schemas.codec import MARKER, codec_for
from schemas.codes import MarketplaceFormat
from schemas.dead_letters import Stage
from schemas.errors import CodecError, InvalidRecordError
from schemas.records import RecordType, ShipmentHistoryRecord
from schemas.topics import TopicNames
from schemas.validation import validate
from streams.join.partition import Step
from streams.join.transition import InputEvent

_STATUS = codec_for(RecordType.SHIPMENT_STATUS_CHANGED)
_ALERTS = codec_for(RecordType.SHIPMENT_ALERT)

_NOT_CACHED: tuple[object, bytes] = (object(), b"")

OutputRecord = tuple[str, bytes, bytes]
"""An output record: topic, key, value."""


class Rejected(Exception):
    """An input record the join cannot use, and at which stage it failed."""

    def __init__(self, stage: Stage, error: Exception) -> None:
        super().__init__(str(error))
        self.stage = stage
        self.error = error


def read_event(
    record_type: RecordType, key: bytes | None, value: bytes | None, marketplace: MarketplaceFormat
) -> InputEvent:
    """The scan or dispatch in a Kafka record; raises :class:`Rejected` for a bad record."""
    try:
        event: InputEvent = codec_for(record_type).decode(value or b"")
    except CodecError as error:
        raise Rejected(Stage.DECODE, error) from error
    try:
        validate(record_type, event, marketplace=marketplace)
        if key != event["code"].encode():
            raise InvalidRecordError(
                record_type.short_name,
                "code",
                "key-is-code",
                f"the record's Kafka key {key!r} is not its canonical code {event['code']!r}",
            )
    except InvalidRecordError as error:
        raise Rejected(Stage.VALIDATE, error) from error
    return event


_DISPATCH_FIELDS = (
    "order_id",
    "seller_id",
    "seller_verified",
    "sku",
    "gtin",
    "serial",
    "origin",
    "destination",
    "dispatched_at",
    "promised_ship_by",
    "promised_delivery",
)
"""The fields of a history record that come from the shipment's dispatch alone, in schema
order."""


class OutputEncoder:
    """Encodes the output records of steps; a history record's dispatch fields once per
    shipment and dispatch.

    An Avro record is the concatenation of its fields' encodings, so a history record is its
    event's fields, then the dispatch's (the same for every event of the shipment until another
    dispatch replaces it: half the encoding work), then ``first_scan_at``, each part encoded by
    fastavro with the fields of that part. The bytes are exactly those of
    :func:`schemas.codec.codec_for` (a unit test holds them equal).
    """

    def __init__(self, topics: TopicNames, capacity: int = 8192) -> None:
        self._topics = topics
        self._capacity = capacity
        history = codec_for(RecordType.SHIPMENT_HISTORY_RECORD)
        self._header = MARKER + history.fingerprint
        fields = history.schema["fields"]
        names = [field["name"] for field in fields]
        start = names.index(_DISPATCH_FIELDS[0])
        end = start + len(_DISPATCH_FIELDS)
        if tuple(names[start:end]) != _DISPATCH_FIELDS:
            raise RuntimeError(
                f"ShipmentHistoryRecord's dispatch fields are {names[start:end]}, not "
                f"{list(_DISPATCH_FIELDS)}: streams.join.records must follow the schema"
            )
        named = named_types(history.schema)
        self._parts = tuple(
            compile_writer(
                parse_schema(
                    inlined(
                        {"type": "record", "name": f"io.tracecode.HistoryPart{i}", "fields": part},
                        named,
                    )
                ),
                strict=False,
            )
            for i, part in enumerate((fields[:start], fields[start:end], fields[end:]))
        )
        self._dispatches: dict[str, tuple[object, bytes]] = {}
        """Per code: the dispatch its last history record was encoded with, and those bytes."""

    def encode(self, step: Step) -> list[OutputRecord]:
        """The output records of a step (history, status changes, alerts), in the order they
        ran."""
        topics = self._topics
        records: list[OutputRecord] = []
        for code, transition in step.changes:
            key = code.encode()
            if transition.history is not None:
                value = self._history(code, transition.history, transition.state["dispatch"])
                records.append((topics.history, key, value))
            if transition.status_change is not None:
                records.append((topics.status, key, _STATUS.encode(transition.status_change)))
            records.extend(
                (topics.alerts, key, _ALERTS.encode(alert)) for alert in transition.alerts
            )
        return records

    def _history(self, code: str, history: ShipmentHistoryRecord, dispatch: object) -> bytes:
        head, of_dispatch, tail = self._parts
        # The history record's dispatch fields are a function of the state's dispatch, which
        # transitions never change in place: the same object, the same bytes.
        cached = self._dispatches.pop(code, _NOT_CACHED)
        block = cached[1] if cached[0] is dispatch else of_dispatch(history)
        self._dispatches[code] = (dispatch, block)
        if len(self._dispatches) > self._capacity:
            del self._dispatches[next(iter(self._dispatches))]
        return self._header + head(history) + block + tail(history)


def event_kind(record_type: RecordType, event: InputEvent) -> str:
    """``SCAN``, ``DISPATCH`` or ``RETRACTION``: how the metrics count an event."""
    if record_type is RecordType.SELLER_DISPATCH:
        return "DISPATCH"
    return "RETRACTION" if event.get("retracts_event_id") else "SCAN"
