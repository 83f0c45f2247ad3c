"""Read tracecode's status topic to its end and print each code's last status.

A downstream service of tracecode in Python: confluent-kafka and fastavro, nothing of
tracecode's but the .avsc files. One line per code, sorted by code:
``code <TAB> status <TAB> sub_status <TAB> version``.

    python last_status.py BOOTSTRAP_SERVERS TOPIC SCHEMAS_DIR

SCHEMAS_DIR holds the release folders of the .avsc files (``v1/``, ``v2/``, ...). Values are
Avro single-object encodings (``C3 01``, the writer schema's CRC-64-AVRO fingerprint, the
body): each is read with the released writer schema its fingerprint names, resolved into the
newest release.
"""

from __future__ import annotations

import io
import sys
import uuid
from pathlib import Path
from typing import Any

import fastavro
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from fastavro.schema import fingerprint, load_schema, to_parsing_canonical_form

RECORD = "io.tracecode.ShipmentStatusChanged"
MARKER = b"\xc3\x01"


def writer_schemas(root: Path) -> tuple[dict[bytes, Any], Any]:
    """Every released schema of the record by its fingerprint (as on the wire), and the newest."""
    releases = sorted(root.glob("v[0-9]*"), key=lambda folder: int(folder.name[1:]))
    if not releases:
        sys.exit(f"no release folders (v1, v2, ...) under {root}")
    by_fingerprint = {}
    for release in releases:
        schema = fastavro.parse_schema(load_schema(str(release / f"{RECORD}.avsc")))
        canonical = to_parsing_canonical_form(schema)
        by_fingerprint[bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))] = schema
    return by_fingerprint, schema


def main(bootstrap: str, topic: str, schemas: Path) -> None:
    writers, reader = writer_schemas(schemas)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"last-status-{uuid.uuid4()}",
            "enable.auto.commit": False,
            # tracecode writes its outputs in transactions: read only what they committed.
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
        }
    )
    partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    last: dict[str, dict[str, Any]] = {}
    at_end: set[int] = set()
    while len(at_end) < len(partitions):
        message = consumer.poll(1.0)
        if message is None:
            continue
        if message.error() is not None:
            if message.error().code() == KafkaError._PARTITION_EOF:
                at_end.add(message.partition())
                continue
            raise KafkaException(message.error())
        value = message.value()
        if value[:2] != MARKER or value[2:10] not in writers:
            sys.exit(f"offset {message.offset()}: not a released {RECORD}")
        change = fastavro.schemaless_reader(io.BytesIO(value[10:]), writers[value[2:10]], reader)
        code = message.key().decode()
        if code not in last or change["version"] > last[code]["version"]:
            last[code] = change
    consumer.close()
    for code, change in sorted(last.items()):
        print(code, change["status"], change["sub_status"], change["version"], sep="\t")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: last_status.py BOOTSTRAP_SERVERS TOPIC SCHEMAS_DIR")
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
