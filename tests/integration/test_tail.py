"""`tracecode tail` against the broker: committed records only, decoded, in order, filtered."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner, Result
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from schemas.codec import codec_for
from schemas.codes import marketplace_code
from schemas.kafka import KafkaConnection
from schemas.records import RecordType, ShipmentStatusChanged
from schemas.topics import TopicNames
from tests.helpers import unique
from tests.unit.schemas.samples import status_changed
from tracecode.cli import main

STATUS = codec_for(RecordType.SHIPMENT_STATUS_CHANGED)
FIRST, SECOND = marketplace_code(7001), marketplace_code(7002)


def _change(code: str, version: int) -> bytes:
    record: ShipmentStatusChanged = {**status_changed(), "code": code, "version": version}
    return STATUS.encode(record)


def _publish(kafka: KafkaConnection, topic: str) -> None:
    """In one partition: two committed changes, an aborted one, a value that is not Avro, and
    one more committed change."""
    admin = AdminClient(kafka.librdkafka_config())
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    producer = Producer({**kafka.librdkafka_config(), "transactional.id": unique("tail")})
    producer.init_transactions(30)

    def transaction(records: list[tuple[str, bytes]], commit: bool) -> None:
        producer.begin_transaction()
        for key, value in records:
            producer.produce(topic, value, key.encode())
        # Delivered before the abort, so the aborted record is in the log, behind its marker.
        assert producer.flush(30) == 0
        if commit:
            producer.commit_transaction(30)
        else:
            producer.abort_transaction(30)

    transaction([(FIRST, _change(FIRST, 1)), (SECOND, _change(SECOND, 1))], commit=True)
    transaction([(FIRST, _change(FIRST, 99))], commit=False)
    transaction([(SECOND, b"not avro")], commit=True)
    transaction([(FIRST, _change(FIRST, 2))], commit=True)


def _tail(topic_names: TopicNames, *args: str) -> Result:
    prefix = topic_names.status.removesuffix(TopicNames().status)
    return CliRunner().invoke(
        main, ["tail", "status", "--from-beginning", *args], env={"TRACECODE_TOPICS_PREFIX": prefix}
    )


def test_tail_shows_what_a_read_committed_service_sees(
    kafka: KafkaConnection, topic_names: TopicNames
) -> None:
    _publish(kafka, topic_names.status)

    result = _tail(topic_names, "--max", "4", "--format", "json")
    assert result.exit_code == 0, result.output
    lines: list[dict[str, Any]] = [json.loads(line) for line in result.stdout.splitlines()]
    seen = [(line["key"], (line["value"] or {}).get("version")) for line in lines]
    assert seen == [(FIRST, 1), (SECOND, 1), (SECOND, None), (FIRST, 2)]
    assert "not an Avro single-object record" in lines[2]["error"]
    assert lines[0]["value"]["changed_at"] == status_changed()["changed_at"].isoformat()
    assert [line["offset"] for line in lines] == sorted(line["offset"] for line in lines)
    assert "4 record(s)" in result.stderr

    only_first = _tail(topic_names, "--code", FIRST.lower(), "--max", "2")
    assert only_first.exit_code == 0, only_first.output
    rows = only_first.stdout.splitlines()
    assert len(rows) == 2 and all(FIRST in row for row in rows)
    assert " v1 " in rows[0] and " v2 " in rows[1]


def test_tail_names_the_topics_it_knows() -> None:
    result = CliRunner().invoke(main, ["tail", "changelog"])
    assert result.exit_code == 1
    assert "no tracecode topic 'changelog'; one of: scans" in result.output


def test_tail_says_when_no_broker_answers() -> None:
    result = CliRunner().invoke(
        main, ["tail", "status"], env={"TRACECODE_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    )
    assert result.exit_code == 1
    assert "no Kafka broker answered at 127.0.0.1:1" in result.output
    assert "Traceback" not in result.output
