"""The join processor with Kafka and RocksDB faked: what is sent where, and dead letters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from faust.types import TP
from prometheus_client import CollectorRegistry

from schemas.codec import codec_for
from schemas.codes import marketplace_code
from schemas.dead_letters import Stage
from schemas.framing import Framing, SchemaRegistryConnection
from schemas.kafka import KafkaConnection
from schemas.records import RecordType, ShipmentState
from schemas.status import SubStatus
from schemas.topics import TopicNames
from schemas.validation import DEAD_LETTER_STAGES, validate
from streams.config import WorkerConfig
from streams.join.partition import PartitionJoin
from streams.join.stored import StoredStateCodec
from streams.join.transition import Rules
from streams.runtime.metrics import JoinMetrics
from streams.runtime.processor import JoinProcessor
from streams.runtime.states import ShipmentStates
from tests.unit.streams.test_transition import NOW, dispatch, scan

TOPICS = TopicNames().with_prefix("unit.")
CODE = marketplace_code(42)
SCANS = codec_for(RecordType.CARRIER_SCAN)
DISPATCHES = codec_for(RecordType.SELLER_DISPATCH)
DEAD_LETTERS = codec_for(RecordType.DEAD_LETTER)
CHANGELOG = "unit-app-shipments-changelog"


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int | None = 1_790_000_000_000
    headers: list[tuple[str, bytes]] = field(default_factory=lambda: [("trace", b"t1")])


class FakeStore:
    """The table of one worker: states by partition, as the real store keeps them."""

    changelog_topic = CHANGELOG

    def __init__(self) -> None:
        self.data: dict[int, dict[str, bytes]] = {}

    def get(self, partition: int, code: str) -> bytes | None:
        return self.data.get(partition, {}).get(code)

    def put(self, partition: int, code: str, data: bytes) -> None:
        self.data.setdefault(partition, {})[code] = data

    def delete(self, partition: int, code: str) -> None:
        self.data.get(partition, {}).pop(code, None)

    def partition_values(self, partition: int) -> list[bytes]:
        return list(self.data.get(partition, {}).values())

    def changelog_delivered(self, metadata: Any) -> None:
        raise AssertionError("the fake sender delivers nothing")

    def stored(self, partition: int, code: str) -> ShipmentState | None:
        data = self.get(partition, code)
        return None if data is None else StoredStateCodec(Rules()).decode(data, {})


class FakeSender:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def add(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        source: TP,
        partition: int | None = None,
        on_delivered: Any = None,
    ) -> None:
        self.sent.append(
            {"topic": topic, "key": key, "value": value, "source": source, "partition": partition}
        )

    def add_all(self, records: list[tuple[str, bytes, bytes]], source: TP) -> None:
        for topic, key, value in records:
            self.add(topic, key, value, source)

    def to(self, topic: str) -> list[dict[str, Any]]:
        return [record for record in self.sent if record["topic"] == topic]


class Harness:
    def __init__(self, rules: Rules | None = None, framing: Framing | None = None) -> None:
        config = WorkerConfig(
            kafka=KafkaConnection("127.0.0.1:1"),
            topics=TOPICS,
            state_dir=Path("/nonexistent"),
            partitions=4,
            app_id="unit-app",
            rules=rules or Rules(),
        )
        self.store = FakeStore()
        self.sender = FakeSender()
        self.registry = CollectorRegistry()
        self.offset = 0
        self.states = ShipmentStates(  # type: ignore[arg-type]
            self.store, self.sender, TOPICS.scans, config.rules
        )
        self.processor = JoinProcessor(
            config,
            self.states,
            self.sender,  # type: ignore[arg-type]
            JoinMetrics(self.registry),
            clock=lambda: NOW,
            framing=framing,
        )

    def feed(self, topic: str, key: bytes | None, value: bytes | None, partition: int = 0) -> None:
        self.offset += 1
        message = Message(topic, partition, self.offset, key, value)
        self.processor.process(partition, [message])

    def commit(self) -> None:
        self.processor.write_back()

    def metric(self, name: str, **labels: str) -> float:
        value = self.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


def a_scan(event_id: str, hours: float, sub: SubStatus = SubStatus.PICKED_UP) -> bytes:
    return SCANS.encode({**scan(event_id, hours, sub), "code": CODE})  # type: ignore[typeddict-item]


def a_dispatch(**extra: Any) -> bytes:
    return DISPATCHES.encode({**dispatch(), "code": CODE, **extra})  # type: ignore[typeddict-item]


def test_the_test_events_are_valid() -> None:
    validate(RecordType.CARRIER_SCAN, SCANS.decode(a_scan("e1", 1)))
    validate(RecordType.SELLER_DISPATCH, DISPATCHES.decode(a_dispatch()))


def test_outputs_go_at_once_and_the_state_once_per_commit() -> None:
    harness = Harness()
    harness.feed(TOPICS.dispatches, CODE.encode(), a_dispatch(), partition=3)
    harness.feed(TOPICS.scans, CODE.encode(), a_scan("e1", 2), partition=3)
    assert harness.sender.to(CHANGELOG) == []
    assert not harness.store.data
    harness.commit()

    changelog = harness.sender.to(CHANGELOG)
    assert [record["partition"] for record in changelog] == [3]
    assert all(record["key"] == CODE.encode() for record in harness.sender.sent)
    assert {record["source"] for record in harness.sender.sent} == {
        TP(TOPICS.dispatches, 3),
        TP(TOPICS.scans, 3),
    }
    harness.commit()
    assert len(harness.sender.to(CHANGELOG)) == 1  # nothing changed since
    state = StoredStateCodec(Rules()).decode(changelog[-1]["value"], {})
    assert harness.store.data[3][CODE] == changelog[-1]["value"]
    assert state["sub_status"] == SubStatus.PICKED_UP
    statuses = [
        codec_for(RecordType.SHIPMENT_STATUS_CHANGED).decode(r["value"])
        for r in harness.sender.to(TOPICS.status)
    ]
    assert [(s["status"], s["version"]) for s in statuses] == [("PENDING", 1), ("IN_TRANSIT", 2)]
    history = harness.sender.to(TOPICS.history)
    assert [
        codec_for(RecordType.SHIPMENT_HISTORY_RECORD).decode(r["value"])["kind"] for r in history
    ] == ["DISPATCH", "SCAN"]
    assert harness.metric("tracecode_streams_events_total", kind="SCAN", outcome="applied") == 1
    assert harness.metric("tracecode_streams_status_changes_total", status="IN_TRANSIT") == 1


def test_a_redelivered_event_sends_nothing() -> None:
    harness = Harness()
    harness.feed(TOPICS.scans, CODE.encode(), a_scan("e1", 2))
    harness.commit()
    sent = len(harness.sender.sent)
    harness.feed(TOPICS.scans, CODE.encode(), a_scan("e1", 2))
    harness.commit()
    assert len(harness.sender.sent) == sent
    assert harness.metric("tracecode_streams_events_total", kind="SCAN", outcome="duplicate") == 1


def dead_letters(harness: Harness) -> list[dict[str, Any]]:
    return [
        DEAD_LETTERS.decode(record["value"]) for record in harness.sender.to(TOPICS.dead_letters)
    ]


@pytest.mark.parametrize(
    ("topic", "key", "value", "stage", "error"),
    [
        (TOPICS.scans, CODE.encode(), b"not avro", Stage.DECODE, "BadMarkerError"),
        (TOPICS.scans, CODE.encode(), None, Stage.DECODE, "BadMarkerError"),
        (TOPICS.scans, CODE.encode(), a_dispatch(), Stage.DECODE, "WrongRecordTypeError"),
        (
            TOPICS.dispatches,
            CODE.encode(),
            a_dispatch(quantity=0),
            Stage.VALIDATE,
            "InvalidRecordError",
        ),
        (TOPICS.scans, b"TC000000000001L", a_scan("e1", 1), Stage.VALIDATE, "InvalidRecordError"),
        (TOPICS.scans, None, a_scan("e1", 1), Stage.VALIDATE, "InvalidRecordError"),
    ],
)
def test_a_bad_record_becomes_a_dead_letter_with_its_origin_and_nothing_else(
    topic: str, key: bytes | None, value: bytes | None, stage: Stage, error: str
) -> None:
    harness = Harness()
    harness.feed(topic, key, value, partition=2)
    harness.commit()
    (letter,) = dead_letters(harness)
    assert (letter["topic"], letter["partition"], letter["offset"]) == (topic, 2, 1)
    assert (letter["key"], letter["value"]) == (key, value)
    assert letter["headers"] == [{"key": "trace", "value": b"t1"}]
    assert (letter["stage"], letter["error_class"]) == (stage.value, error)
    assert letter["error_message"]
    validate(RecordType.DEAD_LETTER, letter)
    assert len(harness.sender.sent) == 1
    assert not harness.store.data
    assert (
        harness.metric("tracecode_streams_dead_letters_total", stage=stage.value, topic=topic) == 1
    )


def test_a_key_that_is_not_the_code_says_so() -> None:
    harness = Harness()
    harness.feed(TOPICS.scans, b"tc-0000 0000 0042", a_scan("e1", 1))
    (letter,) = dead_letters(harness)
    assert "key" in letter["error_message"] and CODE in letter["error_message"]


def test_a_scan_stamped_after_its_receipt_cannot_move_the_clock() -> None:
    harness = Harness()
    harness.feed(TOPICS.dispatches, CODE.encode(), a_dispatch())
    harness.feed(TOPICS.scans, CODE.encode(), a_scan("e1", 1))
    wrong_clock = {**scan("e2", 0), "code": CODE, "event_time": NOW + timedelta(days=5)}
    harness.feed(TOPICS.scans, CODE.encode(), SCANS.encode(wrong_clock))  # type: ignore[arg-type]
    harness.commit()
    (letter,) = dead_letters(harness)
    assert letter["stage"] == Stage.VALIDATE.value
    assert "not-after-receipt" in letter["error_message"]
    assert harness.sender.to(TOPICS.alerts) == []  # accepted: STALLED and EXPIRED


def test_a_forgotten_shipment_leaves_the_table_with_a_tombstone() -> None:
    harness = Harness(Rules(expire_after=timedelta(days=8), forget_after=timedelta(days=10)))
    harness.feed(TOPICS.dispatches, CODE.encode(), a_dispatch())
    harness.feed(TOPICS.scans, CODE.encode(), a_scan("e1", 9, SubStatus.DELIVERED_TO_RECIPIENT))
    other = marketplace_code(43)
    later = {**scan("o1", 24 * 11), "code": other}
    harness.feed(TOPICS.scans, other.encode(), SCANS.encode(later))  # type: ignore[arg-type]
    harness.commit()

    assert harness.store.get(0, CODE) is None and harness.store.get(0, other) is not None
    assert harness.states.get(0, CODE) is None
    assert [(r["key"], r["value"]) for r in harness.sender.to(CHANGELOG)] == [
        (CODE.encode(), None),
        (other.encode(), harness.store.data[0][other]),
    ]
    assert harness.metric("tracecode_streams_states_forgotten_total") == 1


def test_a_join_failure_is_dead_lettered_and_the_partition_keeps_going(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    harness = Harness()
    harness.feed(TOPICS.scans, CODE.encode(), a_scan("e1", 1))
    original = PartitionJoin.process

    def broken(self: PartitionJoin, event: Any, now: Any) -> Any:
        if event["event_id"] == "e2":
            raise RuntimeError("bug")
        return original(self, event, now)

    monkeypatch.setattr(PartitionJoin, "process", broken)
    harness.feed(TOPICS.scans, CODE.encode(), a_scan("e2", 2))
    harness.feed(TOPICS.scans, CODE.encode(), a_scan("e3", 3, SubStatus.ARRIVED_AT_FACILITY))
    harness.commit()
    (letter,) = dead_letters(harness)
    assert (letter["stage"], letter["error_class"], letter["offset"]) == (
        "process",
        "RuntimeError",
        2,
    )
    state = harness.store.stored(0, CODE)
    assert state is not None
    assert [s["event_id"] for s in state["scans"]] == ["e1", "e3"]


def test_after_a_rebalance_the_index_is_rebuilt_from_the_table() -> None:
    harness = Harness()
    harness.feed(TOPICS.scans, CODE.encode(), a_scan("e1", 1))
    harness.commit()
    # Another worker moved the partition on while it was away: its state is newer.
    state = harness.store.stored(0, CODE)
    assert state is not None
    newer: ShipmentState = {**state, "last_event_time": NOW}
    harness.store.put(0, CODE, codec_for(RecordType.SHIPMENT_STATE).encode(newer))
    harness.processor.reset()
    harness.feed(TOPICS.scans, CODE.encode(), a_scan("e2", 2))
    assert harness.processor._joins[0].stream_time == NOW


def test_the_dead_letter_stages_are_the_contract_stages() -> None:
    assert {stage.value for stage in Stage} == DEAD_LETTER_STAGES


def test_a_rebalance_before_the_changes_were_written_back_is_a_bug() -> None:
    harness = Harness()
    harness.feed(TOPICS.scans, CODE.encode(), a_scan("e1", 1))
    with pytest.raises(RuntimeError, match="never written back"):
        harness.processor.reset()


def test_a_state_that_cannot_be_encoded_is_not_written_and_its_record_is_dead_lettered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    harness = Harness()
    harness.feed(TOPICS.scans, CODE.encode(), a_scan("e1", 1))
    harness.commit()
    harness.feed(TOPICS.scans, CODE.encode(), a_scan("e2", 2))

    def broken(self: StoredStateCodec, state: Any, bodies: Any) -> bytes:
        raise ValueError("not encodable")

    monkeypatch.setattr(StoredStateCodec, "encode", broken)
    harness.commit()
    (letter,) = dead_letters(harness)
    assert (letter["stage"], letter["offset"]) == ("process", 2)
    state = harness.states.get(0, CODE)
    assert state is not None and [s["event_id"] for s in state["scans"]] == ["e1"]


def test_confluent_framed_inputs_join_like_single_object_ones() -> None:
    framing = Framing(SchemaRegistryConnection("mock://unit-processor"), TOPICS)
    confluent = framing.output([TOPICS.scans, TOPICS.dispatches])
    plain, framed = Harness(), Harness(framing=framing)
    for harness, frame in ((plain, False), (framed, True)):
        for topic, value in ((TOPICS.dispatches, a_dispatch()), (TOPICS.scans, a_scan("e1", 2))):
            harness.feed(topic, CODE.encode(), confluent.frame(topic, value) if frame else value)
        harness.commit()
    assert framed.sender.to(TOPICS.dead_letters) == []
    outputs = [(r["topic"], r["key"], r["value"]) for r in framed.sender.sent]
    assert outputs == [(r["topic"], r["key"], r["value"]) for r in plain.sender.sent]
    assert framed.store.data == plain.store.data  # the kept events are single-object bodies


def test_a_framed_input_with_an_unknown_schema_id_is_dead_lettered() -> None:
    harness = Harness(framing=Framing(SchemaRegistryConnection("mock://unit-processor"), TOPICS))
    value = b"\x00" + (4242).to_bytes(4, "big") + a_scan("e1", 2)[10:]
    harness.feed(TOPICS.scans, CODE.encode(), value)
    (letter,) = dead_letters(harness)
    assert (letter["stage"], letter["error_class"]) == ("decode", "UnknownSchemaIdError")
    assert letter["value"] == value  # the record as it came
    assert "schema id 4242" in letter["error_message"]
