"""Bad records among good ones: the good are all applied, each bad one is a dead letter."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from confluent_kafka import Producer

from schemas.codec import codec_for
from schemas.codes import marketplace_code
from schemas.kafka import KafkaConnection
from schemas.records import RecordType
from schemas.status import SubStatus
from schemas.topics import TopicNames
from tests.integration.streams.conftest import WorkerFactory
from tests.integration.streams.support import decoded, read_topic, wait_until_idle
from tests.unit.streams.test_transition import dispatch, scan

SCANS = codec_for(RecordType.CARRIER_SCAN)
DISPATCHES = codec_for(RecordType.SELLER_DISPATCH)


def good_events(code: str, index: int) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("dispatch", {**dispatch(f"d{index}"), "code": code}),
        ("scan", {**scan(f"s{index}-1", 2, SubStatus.PICKED_UP), "code": code}),
        ("scan", {**scan(f"s{index}-2", 9, SubStatus.DEPARTED_FACILITY), "code": code}),
    ]


@pytest.mark.parametrize("guarantee", ["exactly_once", "at_least_once"])
def test_bad_records_go_to_the_dead_letters_with_their_origin_and_the_rest_is_applied(
    kafka: KafkaConnection, topics: TopicNames, group: str, worker: WorkerFactory, guarantee: str
) -> None:
    producer = Producer({**kafka.librdkafka_config(), "partitioner": "murmur2_random"})
    origins: dict[str, tuple[str, int, int]] = {}

    def send(topic: str, key: bytes | None, value: bytes, label: str | None = None) -> None:
        def delivered(error: Any, message: Any) -> None:
            assert error is None, error
            if label is not None:
                origins[label] = (message.topic(), message.partition(), message.offset())

        producer.produce(topic, value, key, on_delivery=delivered)

    codes = [marketplace_code(9000 + index) for index in range(30)]
    valid = marketplace_code(9999)
    mistyped = valid[:-1] + ("A" if valid[-1] != "A" else "B")  # a wrong check character
    valid_scan = {**scan("bad-ok", 1), "code": codes[0]}
    bad = {
        "garbage": (topics.scans, codes[1].encode(), b"\x00not avro at all"),
        "truncated": (topics.scans, codes[2].encode(), SCANS.encode(valid_scan)[:25]),
        "dispatch on the scans topic": (
            topics.scans,
            codes[0].encode(),
            DISPATCHES.encode({**dispatch("x"), "code": codes[0]}),
        ),
        "bad country": (
            topics.scans,
            codes[3].encode(),
            SCANS.encode(
                {
                    **valid_scan,
                    "code": codes[3],
                    "location": {**valid_scan["location"], "country": "ZZ"},
                }
            ),
        ),
        "key is not the code": (topics.scans, codes[4].encode(), SCANS.encode(valid_scan)),
        "mistyped code": (
            topics.dispatches,
            mistyped.encode(),
            DISPATCHES.encode({**dispatch("y"), "code": mistyped}),
        ),
        "empty value": (topics.dispatches, codes[5].encode(), b""),
    }
    stages = {
        "garbage": "decode",
        "truncated": "decode",
        "dispatch on the scans topic": "decode",
        "bad country": "validate",
        "key is not the code": "validate",
        "mistyped code": "validate",
        "empty value": "decode",
    }
    bad_items = list(bad.items())
    for index, code in enumerate(codes):
        for kind, record in good_events(code, index):
            topic, codec = (
                (topics.dispatches, DISPATCHES) if kind == "dispatch" else (topics.scans, SCANS)
            )
            send(topic, code.encode(), codec.encode(record))
        if index < len(bad_items):
            label, (topic, key, value) = bad_items[index]
            send(topic, key, value, label)
    assert producer.flush(30) == 0
    assert len(origins) == len(bad)

    joined = worker(TRACECODE_WORKER_PROCESSING_GUARANTEE=guarantee).start()
    joined.wait_ready()
    wait_until_idle(kafka, group, topics)

    letters = {
        (letter["topic"], letter["partition"], letter["offset"]): letter
        for letter in decoded(read_topic(kafka, topics.dead_letters), RecordType.DEAD_LETTER)
    }
    assert set(letters) == set(origins.values())
    for label, origin in origins.items():
        letter = letters[origin]
        topic, key, value = bad[label]
        assert (letter["key"], letter["value"]) == (key, value), label
        assert letter["stage"] == stages[label], (label, letter["error_message"])
        assert letter["error_message"]

    for index, code in enumerate(codes):
        status, state = joined.get(f"/shipments/{quote(code, safe='')}")
        assert status == 200, code
        assert sorted(s["event_id"] for s in state["scans"]) == [f"s{index}-1", f"s{index}-2"]
        assert state["dispatch"]["event_id"] == f"d{index}"
        assert state["sub_status"] == "DEPARTED_FACILITY"
    metrics = joined.metrics()
    assert 'tracecode_streams_dead_letters_total{stage="decode"' in metrics
    assert joined.get("/health")[1]["processing_guarantee"] == guarantee
