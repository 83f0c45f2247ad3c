"""``tracecode ingest epcis`` against the real broker: a document's scans land, readable and
keyed by their codes; a rejected document publishes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from aiokafka.partitioner import murmur2

from producers.epcis import capture
from schemas.codec import codec_for
from schemas.kafka import KafkaConnection
from schemas.records import RecordType
from schemas.topics import TopicNames
from tests.helpers import unique
from tests.integration.producers.test_publish import read_topic
from tracecode.settings import Settings

TRACECODE = str(Path(sys.executable).with_name("tracecode"))
CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
SHIPPED = "urn:uuid:4d1f6f0e-7b52-4c4e-9a0c-7d3c2b9e1a01"


def _event(**fields: object) -> dict[str, object]:
    return {
        "type": "ObjectEvent",
        "eventTime": "2024-05-01T10:00:00.000+02:00",
        "eventTimeZoneOffset": "+02:00",
        "action": "OBSERVE",
        "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
        **fields,
    }


DOCUMENT = {
    "@context": [CONTEXT],
    "type": "EPCISDocument",
    "schemaVersion": "2.0",
    "creationDate": "2024-05-02T12:00:00Z",
    "epcisBody": {
        "eventList": [
            _event(
                eventID=SHIPPED,
                bizStep="shipping",
                epcList=[f"urn:epc:id:sgtin:0614141.107346.{n}" for n in range(1, 6)],
            ),
            {
                "type": "AggregationEvent",
                "eventTime": "2024-05-02T08:00:00Z",
                "eventTimeZoneOffset": "+08:00",
                "parentID": "urn:epc:id:sscc:0614141.1234567890",
                "childEPCs": ["https://id.gs1.org/01/10614141073464/21/1"],
                "action": "OBSERVE",
                "bizStep": "arriving",
                "readPoint": {"id": "geo:22.5431,114.0579"},
            },
            _event(
                eventID=SHIPPED,
                bizStep="shipping",
                epcList=[f"urn:epc:id:sgtin:0614141.107346.{n}" for n in range(1, 6)],
                errorDeclaration={"declarationTime": "2024-05-03T00:00:00Z"},
            ),
            {
                "type": "TransformationEvent",
                "eventTime": "2024-05-01T09:00:00Z",
                "eventTimeZoneOffset": "+00:00",
                "inputEPCList": ["urn:epc:id:sgtin:0614141.107346.1"],
                "outputEPCList": ["urn:epc:id:sgtin:0614141.107346.9"],
            },
        ]
    },
}


def _ingest(path: Path, prefix: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRACECODE_TOPICS_PREFIX": prefix, "COLUMNS": "200"}
    subprocess.run([TRACECODE, "topics", "apply"], env=env, check=True, capture_output=True)
    return subprocess.run(
        [TRACECODE, "ingest", "epcis", str(path), "--carrier", "dhl-express"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_document_is_published_and_read_back(
    kafka: KafkaConnection, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "document.jsonld"
    path.write_text(json.dumps(DOCUMENT))
    expected = capture(path.read_bytes(), carrier="dhl-express").records
    assert len(expected) == 5 + 1 + 5  # scans, the aggregation's child, retractions
    prefix = unique("test") + "."

    done = _ingest(path, prefix)

    assert done.returncode == 0, done.stderr
    assert "6 scans and 5 retractions: 11 acknowledged." in done.stdout
    messages = read_topic(kafka, TopicNames().with_prefix(prefix).scans)
    codec = codec_for(RecordType.CARRIER_SCAN)
    received = []
    for message in messages:
        record = codec.decode(message.value())  # type: ignore[arg-type]
        key = message.key()
        assert isinstance(key, bytes) and key.decode() == record["code"]
        assert message.partition() == (murmur2(key) & 0x7FFFFFFF) % settings.topics.partitions
        received.append(
            (record["code"], record["event_id"], record["retracts_event_id"], record["sub_status"])
        )
    assert sorted(received) == sorted(
        (r["code"], r["event_id"], r["retracts_event_id"], r["sub_status"]) for r in expected
    )
    assert sum(1 for r in received if r[2] == SHIPPED) == 5


def test_a_rejected_document_publishes_nothing(kafka: KafkaConnection, tmp_path: Path) -> None:
    broken = json.loads(json.dumps(DOCUMENT))
    broken["epcisBody"]["eventList"][1]["bizStep"] = "transforming"
    path = tmp_path / "broken.jsonld"
    path.write_text(json.dumps(broken))
    prefix = unique("test") + "."

    done = _ingest(path, prefix)

    assert done.returncode == 1
    assert "event 1, field bizStep: 'transforming'" in done.stderr
    assert read_topic(kafka, TopicNames().with_prefix(prefix).scans) == []
