"""The store side against real chDB: migrations, ledger, deduplicated writes, rollups."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from clickhouse_connect.driver.client import Client

from schemas.topics import TopicNames
from sinks.batching import Batch, BatchStatus, PartitionState
from sinks.clickhouse import connect, ensure_database
from sinks.config import ClickHouseTarget, FaultPoint
from sinks.metrics import SinkMetrics
from sinks.migrations import TTL_COLUMNS, discover, migrate, verify
from sinks.state import BatchLedger
from sinks.tables import Table, tables
from sinks.writer import BatchWriter, UndecodableRecordError
from tests import sinkdata
from tests.sinkdata import Scenario

TOPICS = TopicNames()


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return sinkdata.build(delivered=12)


@pytest.fixture
def client(clickhouse_target: ClickHouseTarget) -> Iterator[Client]:
    ensure_database(clickhouse_target)
    client = connect(clickhouse_target)
    migrate(client, ttl_days=0)
    yield client
    client.command(f"DROP DATABASE `{clickhouse_target.database}`")
    client.close()


def count(client: Client, sql: str) -> int:
    return int(client.query(sql).result_rows[0][0])


def batch_of(table: Table, topic: str, records: list, partition: int, first: int) -> Batch:
    rows = sinkdata.batch_rows(table.record_type, records, first)
    return Batch(topic, partition, first, first + len(records) - 1, rows)


def test_migrations_are_ordered_and_idempotent(client: Client) -> None:
    versions = [m.version for m in discover()]
    assert versions == list(range(1, len(versions) + 1))
    again = migrate(client, ttl_days=0)
    assert again.applied == ()
    assert again.current_version == versions[-1]
    assert verify(client) == versions[-1]
    tables_now = {r[0] for r in client.query("SHOW TABLES").result_rows}
    assert {
        "shipment_events",
        "shipment_state",
        "alerts",
        "dispatches",
        "transit_daily",
        "dispatch_latency",
        "alerts_daily",
        "sink_batches",
    } <= tables_now


def test_ttl_follows_the_setting_and_is_applied_once(client: Client) -> None:
    def ttl_of(table: str) -> str:
        engine = client.query(
            "SELECT engine_full FROM system.tables WHERE database = currentDatabase() "
            "AND name = {t:String}",
            parameters={"t": table},
        ).result_rows[0][0]
        return engine

    assert migrate(client, ttl_days=30).ttl_changed
    for table, column in TTL_COLUMNS.items():
        assert f"TTL toDateTime({column}) + toIntervalDay(30)" in ttl_of(table)
    assert not migrate(client, ttl_days=30).ttl_changed
    assert migrate(client, ttl_days=0).ttl_changed
    assert all(" TTL " not in ttl_of(table) for table in TTL_COLUMNS)


def test_ledger_keeps_the_latest_intent_per_partition(client: Client) -> None:
    ledger = BatchLedger(client)
    a0 = Batch("t.a", 0, 0, 9, ())
    a1 = Batch("t.a", 0, 10, 19, ())
    b2 = Batch("t.b", 2, 5, 5, ())
    ledger.record([(a0, BatchStatus.PENDING), (b2, BatchStatus.PENDING)])
    # A done mark travels with the next batch's intent; identical marks may repeat.
    ledger.record([(a0, BatchStatus.DONE), (a1, BatchStatus.PENDING), (b2, BatchStatus.DONE)])
    ledger.record([(b2, BatchStatus.DONE)])
    states = ledger.load([("t.a", 0), ("t.b", 2), ("t.b", 3), ("t.c", 0)])
    assert states == {
        ("t.a", 0): PartitionState(10, 19, BatchStatus.PENDING),
        ("t.b", 2): PartitionState(5, 5, BatchStatus.DONE),
    }


def test_a_retried_batch_is_stored_once_in_tables_and_views(
    client: Client, scenario: Scenario
) -> None:
    table = tables(TOPICS)[TOPICS.history]
    writer = BatchWriter(client, SinkMetrics())
    batch = batch_of(table, TOPICS.history, scenario.history, 0, 100)
    for _ in range(3):
        writer.write(batch, table)
    dispatches = sum(1 for r in scenario.history if r["kind"] == "DISPATCH")
    assert count(client, "SELECT count() FROM shipment_events") == len(scenario.history)
    assert count(client, "SELECT count() FROM dispatches") == dispatches
    assert count(client, "SELECT count() FROM dispatch_latency FINAL") == count(
        client,
        "SELECT uniqExact(code) FROM shipment_events WHERE dispatched_at IS NOT NULL "
        "AND first_scan_at IS NOT NULL AND seller_id IS NOT NULL",
    )
    # Other boundaries are another batch: the token, not the content, decides.
    writer.write(batch_of(table, TOPICS.history, scenario.history[:1], 0, 999), table)
    assert count(client, "SELECT count() FROM shipment_events") == len(scenario.history) + 1


def test_status_retries_keep_transit_rollup_exact(client: Client, scenario: Scenario) -> None:
    table = tables(TOPICS)[TOPICS.status]
    writer = BatchWriter(client, SinkMetrics())
    batch = batch_of(table, TOPICS.status, scenario.status, 1, 0)
    writer.write(batch, table)
    writer.write(batch, table)
    delivered = len(scenario.delivered)
    latest = {record["code"]: record["version"] for record in scenario.status}
    stored = client.query("SELECT code, version FROM shipment_state FINAL").result_rows
    assert dict(stored) == latest
    assert count(client, "SELECT uniqExactMerge(shipments) FROM transit_daily") == delivered
    hours = client.query(
        "SELECT arraySort(groupArrayArray(v)) FROM (SELECT quantilesExactMerge(0.5, 0.9)"
        "(transit_hours) AS v FROM transit_daily GROUP BY carrier, origin_country, "
        "destination_country)"
    ).result_rows[0][0]
    assert len(hours) == 2 * len({(d.carrier, d.origin, d.destination) for d in scenario.delivered})


def test_fault_after_insert_then_retry_stores_once(client: Client, scenario: Scenario) -> None:
    table = tables(TOPICS)[TOPICS.alerts]
    calls: list[FaultPoint] = []

    def fail_once_after_insert(point: FaultPoint, _batch: Batch) -> None:
        calls.append(point)
        if point is FaultPoint.AFTER_INSERT and calls.count(point) == 1:
            raise ConnectionError("lost the acknowledgement")

    writer = BatchWriter(client, SinkMetrics(), fail_once_after_insert)
    batch = batch_of(table, TOPICS.alerts, scenario.alerts, 3, 40)
    with pytest.raises(ConnectionError):
        writer.write(batch, table)
    assert count(client, "SELECT count() FROM alerts") == len(scenario.alerts)
    writer.write(batch, table)
    assert calls == [FaultPoint.BEFORE_INSERT, FaultPoint.AFTER_INSERT] * 2
    assert count(client, "SELECT count() FROM alerts") == len(scenario.alerts)
    assert count(client, "SELECT uniqExactMerge(alerts) FROM alerts_daily") == len(
        {a["alert_id"] for a in scenario.alerts}
    )


def test_alert_evidence_is_kept_as_json(client: Client, scenario: Scenario) -> None:
    table = tables(TOPICS)[TOPICS.alerts]
    clone = next(a for a in scenario.alerts if a["kind"] == "SUSPECTED_CLONE")
    BatchWriter(client, SinkMetrics()).write(batch_of(table, TOPICS.alerts, [clone], 0, 0), table)
    ids, evidence, metrics, detected = client.query(
        "SELECT evidence_event_ids, evidence, metrics, detected_at FROM alerts"
    ).result_rows[0]
    assert ids == [e["event_id"] for e in clone["evidence"]]
    parsed = json.loads(evidence)
    assert [e["event_id"] for e in parsed] == ids
    assert parsed[0]["location"]["city"] == clone["evidence"][0]["location"]["city"]
    assert parsed[0]["event_time"].startswith(
        clone["evidence"][0]["event_time"].strftime("%Y-%m-%d %H:%M")
    )
    assert metrics == pytest.approx(clone["metrics"])
    assert detected == clone["detected_at"]


def test_a_record_clickhouse_cannot_decode_is_named(client: Client, scenario: Scenario) -> None:
    table = tables(TOPICS)[TOPICS.history]
    rows = list(sinkdata.batch_rows(table.record_type, scenario.history[:5], 10))
    offset, header, body = rows[3]
    rows[3] = (offset, header, body[:7])  # a known writer schema, a truncated body
    batch = Batch(TOPICS.history, 2, 10, 14, tuple(rows))
    with pytest.raises(UndecodableRecordError) as raised:
        BatchWriter(client, SinkMetrics()).write(batch, table)
    assert raised.value.offset == 13
    assert count(client, "SELECT count() FROM shipment_events") == 0
