"""Sink throughput (rows/s) next to raw clickhouse-connect inserts of the same rows.

Publishes N history records to fresh topics on the configured broker and runs the sink over
them into a chDB database, timed from the moment its partitions are assigned until every
record is stored. Then, in the same run and the same chDB folder:

- ceiling: the rows the sink stored, read back as Python values and inserted with
  clickhouse-connect into a fresh database (same batch size, same insert settings and views):
  the straightforward way to load these rows;
- Avro ceiling: the sink's own insert path alone -- the same records as Avro container
  batches inserted straight into the staging table (no Kafka, no ledger, no batching).

Prints the rates and the ratios (target: sink >= 0.7 of the ceiling).

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
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from clickhouse_connect.driver.client import Client
from confluent_kafka import KafkaError, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from schemas.codec import RecordType, codec_for
from schemas.records import ShipmentHistoryRecord
from schemas.registry import default_registry
from schemas.topics import TopicNames
from sinks.avro import container, envelope, envelope_schema
from sinks.clickhouse import INSERT_SETTINGS, connect, ensure_database
from sinks.config import ClickHouseTarget
from sinks.migrations import migrate
from sinks.service import Sink
from sinks.writer import AVRO_SETTINGS
from tracecode.settings import load_settings

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


def publish(bootstrap: str, topics: TopicNames, partitions: int, n: int) -> dict[int, list[bytes]]:
    """Create the topics, publish ``n`` records; each partition's values in offset order."""
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
    published: dict[int, list[tuple[int, bytes]]] = {}

    def delivered(error: KafkaError | None, message: Message) -> None:
        if error is not None:
            raise RuntimeError(f"delivery failed: {error}")
        partition, offset, value = message.partition(), message.offset(), message.value()
        assert partition is not None and offset is not None and value is not None
        published.setdefault(partition, []).append((offset, value))

    for i in range(n):
        record = history(i)
        while True:
            try:
                producer.produce(
                    topics.history,
                    codec.encode(record),
                    key=record["code"].encode(),
                    on_delivery=delivered,
                )
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    producer.flush()
    return {p: [value for _, value in sorted(held)] for p, held in published.items()}


def sink_rate(sink: Sink, total: int, timeout: float) -> float:
    """Rows/s of the sink, from its partitions being assigned until every record is stored."""
    thread = threading.Thread(target=sink.run, name="sink")
    thread.start()
    deadline = time.monotonic() + timeout
    try:
        while not sink.positions():
            _check(thread, deadline)
            time.sleep(0.01)
        started = time.perf_counter()
        while (
            sink.metrics.registry.get_sample_value(
                "tracecode_sink_rows_inserted_total", {"table": "shipment_events"}
            )
            or 0
        ) < total:
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


def _fresh(folder: str, database: str) -> Client:
    target = ClickHouseTarget(dsn=f"chdb://{folder}", database=database)
    ensure_database(target)
    client = connect(target)
    migrate(client, 0)
    return client


def stored_rows(folder: str) -> tuple[list[Any], tuple[str, ...]]:
    """The rows the first sink run stored, as Python values, and their column names."""
    source = connect(ClickHouseTarget(dsn=f"chdb://{folder}", database="bench_sink_0"))
    result = source.query("SELECT * FROM shipment_events ORDER BY kafka_partition, kafka_offset")
    source.close()
    return result.result_rows, tuple(result.column_names)


def row_ceiling(
    folder: str, rows: list[Any], columns: tuple[str, ...], batch: int, database: str
) -> float:
    """Rows/s of clickhouse-connect inserts of ``rows``."""
    client = _fresh(folder, database)
    started = time.perf_counter()
    for first in range(0, len(rows), batch):
        client.insert(
            "shipment_events",
            rows[first : first + batch],
            column_names=columns,
            settings={**INSERT_SETTINGS, "insert_deduplication_token": f"rows:{first}"},
        )
    elapsed = time.perf_counter() - started
    _expect(client, len(rows))
    return len(rows) / elapsed


def avro_ceiling(folder: str, values: dict[int, list[bytes]], batch: int, database: str) -> float:
    """Rows/s of the sink's insert path alone: Avro container batches into the staging table."""
    client = _fresh(folder, database)
    schema = envelope_schema(
        default_registry().current(RecordType.SHIPMENT_HISTORY_RECORD).canonical_form
    )
    total = sum(len(v) for v in values.values())
    started = time.perf_counter()
    for partition, held in values.items():
        for first in range(0, len(held), batch):
            chunk = held[first : first + batch]
            bodies = [envelope(partition, first + i, v[10:]) for i, v in enumerate(chunk)]
            client.raw_insert(
                "shipment_events_avro",
                insert_block=container(schema, bodies),
                fmt="Avro",
                settings={
                    **AVRO_SETTINGS,
                    "insert_deduplication_token": f"avro:{partition}:{first}",
                },
            )
    elapsed = time.perf_counter() - started
    _expect(client, total)
    return total / elapsed


def _expect(client: Client, total: int) -> None:
    stored = client.query("SELECT count() FROM shipment_events").result_rows[0][0]
    client.close()
    if stored != total:
        raise RuntimeError(f"stored {stored} rows of {total}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=400_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--batch-rows", type=int, help="default: TRACECODE_SINK_BATCH_MAX_ROWS")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each measurement; the best one counts"
    )
    args = parser.parse_args(argv)

    settings = load_settings()
    base = settings.sink_config()
    batch = args.batch_rows or base.batch_max_rows
    run = uuid.uuid4().hex[:8]
    topics = TopicNames().with_prefix(f"bench-{run}.")
    folder = tempfile.mkdtemp(prefix="tracecode-bench-sink-")
    bootstrap = base.kafka.bootstrap_servers
    rates: dict[str, list[float]] = {"sink": [], "rows": [], "avro": []}
    try:
        print(f"publishing {args.records:,} history records to {args.partitions} partitions ...")
        values = publish(bootstrap, topics, args.partitions, args.records)
        print(f"{args.repeat} runs of each, batches of {batch:,} rows (best run counts):")
        for i in range(args.repeat):
            config = replace(
                base,
                topics=topics,
                clickhouse=ClickHouseTarget(dsn=f"chdb://{folder}", database=f"bench_sink_{i}"),
                group_id=f"bench-sink-{run}-{i}",
                batch_max_rows=batch,
                query_port=None,
                metrics_port=None,
            )
            rates["sink"].append(sink_rate(Sink(config), args.records, timeout=600))
            if i == 0:
                rows, columns = stored_rows(folder)
            rates["rows"].append(row_ceiling(folder, rows, columns, batch, f"bench_rows_{i}"))
            rates["avro"].append(avro_ceiling(folder, values, batch, f"bench_avro_{i}"))
            print(
                f"  run {i + 1}: sink {rates['sink'][-1]:,.0f}, rows {rates['rows'][-1]:,.0f},"
                f" avro {rates['avro'][-1]:,.0f} rows/s"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        AdminClient({"bootstrap.servers": bootstrap}).delete_topics(
            [topics.history, topics.status, topics.alerts]
        )
    sink, rows, avro = (max(rates[k]) for k in ("sink", "rows", "avro"))
    print(f"sink (Kafka to tables):            {sink:10,.0f} rows/s")
    print(
        f"ceiling (clickhouse-connect rows): {rows:10,.0f} rows/s   ratio {sink / rows:5.2f}"
        "  (target >= 0.70)"
    )
    print(f"Avro ceiling (insert path alone):  {avro:10,.0f} rows/s   ratio {sink / avro:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
