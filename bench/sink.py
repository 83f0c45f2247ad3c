"""Sink throughput (rows/s) next to raw clickhouse-connect inserts of the same rows.

Publishes N history records to fresh topics on the configured broker, inserts the same rows
straight into one chDB database with clickhouse-connect (the ceiling: same batches, same
insert settings), then runs the sink over the topics into another database of the same chDB
folder and times it from the moment its partitions are assigned until every record is
stored. Prints both rates and their ratio (target: >= 0.7).

    .venv/bin/python -m bench.sink [--records 100000] [--partitions 6]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from confluent_kafka import KafkaError, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from tracecode.settings import load_settings

from schemas.codec import RecordType, codec_for
from schemas.records import ShipmentHistoryRecord
from schemas.topics import TopicNames
from sinks.batching import Row, dedup_token
from sinks.clickhouse import INSERT_SETTINGS, connect, ensure_database
from sinks.config import ClickHouseTarget
from sinks.migrations import migrate
from sinks.rows import EVENT_COLUMNS, event_row
from sinks.service import Sink

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def history(i: int) -> ShipmentHistoryRecord:
    """A realistic history record (scan with dispatch context) for event number ``i``."""
    code = f"TC{i // 6:010d}"
    at = T0 + timedelta(minutes=i)
    return {
        "event_id": f"ev-{i:09d}",
        "code": code,
        "kind": "SCAN",
        "event_time": at,
        "event_utc_offset_minutes": 480,
        "received_time": at + timedelta(seconds=20),
        "processed_time": at + timedelta(seconds=21),
        "late": False,
        "source": "SIMULATOR",
        "carrier": ("CAINIAO", "YUNEXPRESS", "4PX")[i % 3],
        "tracking_number": f"LP{i // 6:012d}",
        "raw_event_code": "ARR",
        "raw_description": "Arrived at sorting center",
        "event_status": "IN_TRANSIT",
        "event_sub_status": "ARRIVED_AT_FACILITY",
        "location": {
            "facility_id": "FAC-SZX-01",
            "city": "Shenzhen",
            "country": "CN",
            "latitude": 22.54,
            "longitude": 114.06,
        },
        "retracts_event_id": None,
        "shipment_status": "IN_TRANSIT",
        "shipment_sub_status": "ARRIVED_AT_FACILITY",
        "status_version": 3,
        "order_id": f"O-{i // 6}",
        "seller_id": f"S-{i % 97}",
        "seller_verified": True,
        "sku": "SKU-42",
        "gtin": None,
        "serial": None,
        "origin": {"country": "CN", "city": "Shenzhen", "postal_prefix": "518"},
        "destination": {"country": "BR", "city": "Sao Paulo", "postal_prefix": "01"},
        "dispatched_at": at - timedelta(hours=6),
        "promised_ship_by": None,
        "promised_delivery": at + timedelta(days=12),
        "first_scan_at": at - timedelta(hours=2),
    }


def publish(bootstrap: str, topics: TopicNames, partitions: int, n: int) -> dict[int, list[Row]]:
    """Create the topics, publish ``n`` records; the rows per partition, in offset order."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = [topics.history, topics.status, topics.alerts]
    for future in admin.create_topics([NewTopic(t, partitions, 1) for t in names]).values():
        future.result()
    codec = codec_for(RecordType.SHIPMENT_HISTORY_RECORD)
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "partitioner": "murmur2_random",
            "linger.ms": 20,
            "enable.idempotence": True,
        }
    )
    records = [history(i) for i in range(n)]
    rows: dict[int, list[tuple[int, Row]]] = {}

    def on_delivery(record: ShipmentHistoryRecord) -> Callable[[KafkaError | None, Message], None]:
        def delivered(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                raise RuntimeError(f"delivery failed: {error}")
            partition, offset = message.partition(), message.offset()
            assert partition is not None and offset is not None
            rows.setdefault(partition, []).append((offset, event_row(record, partition, offset)))

        return delivered

    for record in records:
        while True:
            try:
                producer.produce(
                    topics.history,
                    codec.encode(record),
                    key=record["code"].encode(),
                    on_delivery=on_delivery(record),
                )
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    producer.flush()
    return {p: [row for _, row in sorted(held)] for p, held in rows.items()}


def ceiling(target: ClickHouseTarget, rows: dict[int, list[Row]], batch: int, topic: str) -> float:
    """Rows/s of clickhouse-connect inserts of the rows, batched and tokened like the sink."""
    ensure_database(target)
    client = connect(target)
    migrate(client, 0)
    total = sum(len(r) for r in rows.values())
    started = time.perf_counter()
    for partition, held in rows.items():
        for first in range(0, len(held), batch):
            chunk = held[first : first + batch]
            client.insert(
                "shipment_events",
                chunk,
                column_names=EVENT_COLUMNS,
                settings={
                    **INSERT_SETTINGS,
                    "insert_deduplication_token": dedup_token(
                        topic, partition, first, first + len(chunk) - 1
                    ),
                },
            )
    elapsed = time.perf_counter() - started
    stored = client.query("SELECT count() FROM shipment_events").result_rows[0][0]
    client.close()
    if stored != total:
        raise RuntimeError(f"ceiling stored {stored} rows of {total}")
    return total / elapsed


def sink_rate(sink: Sink, total: int, topic: str, timeout: float) -> float:
    """Rows/s of the sink, from its partitions being assigned until every record is stored."""
    thread = threading.Thread(target=sink.run, name="sink")
    thread.start()
    deadline = time.monotonic() + timeout
    try:
        while not sink.positions():
            _check(thread, deadline)
            time.sleep(0.01)
        started = time.perf_counter()
        while sum(o for (t, _), o in sink.positions().items() if t == topic) < total:
            _check(thread, deadline)
            time.sleep(0.01)
        return total / (time.perf_counter() - started)
    finally:
        sink.stop()
        thread.join()


def _check(thread: threading.Thread, deadline: float) -> None:
    if not thread.is_alive():
        raise RuntimeError("the sink stopped early (see its log)")
    if time.monotonic() > deadline:
        raise TimeoutError("the sink did not store every record in time")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--batch-rows", type=int, default=5000)
    args = parser.parse_args(argv)

    settings = load_settings()
    base = settings.sink_config()
    run = uuid.uuid4().hex[:8]
    topics = TopicNames().with_prefix(f"bench-{run}.")
    folder = tempfile.mkdtemp(prefix="tracecode-bench-sink-")
    try:
        print(f"publishing {args.records:,} history records to {args.partitions} partitions ...")
        rows = publish(base.kafka.bootstrap_servers, topics, args.partitions, args.records)
        print(
            f"ceiling: clickhouse-connect inserts of the same rows (batches of {args.batch_rows:,})"
        )
        raw = ceiling(
            ClickHouseTarget(dsn=f"chdb://{folder}", database="bench_raw"),
            rows,
            args.batch_rows,
            topics.history,
        )
        config = replace(
            base,
            topics=topics,
            clickhouse=ClickHouseTarget(dsn=f"chdb://{folder}", database="bench_sink"),
            group_id=f"bench-sink-{run}",
            batch_max_rows=args.batch_rows,
            query_port=None,
            metrics_port=None,
        )
        print("sink: Kafka -> decode -> rows -> ledger + insert ...")
        rate = sink_rate(Sink(config), args.records, topics.history, timeout=600)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        admin = AdminClient({"bootstrap.servers": base.kafka.bootstrap_servers})
        admin.delete_topics([topics.history, topics.status, topics.alerts])
    print(f"ceiling (raw inserts): {raw:12,.0f} rows/s")
    print(f"sink (end to end):     {rate:12,.0f} rows/s")
    print(f"ratio sink/ceiling:    {rate / raw:12.2f}  (target >= 0.70)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
