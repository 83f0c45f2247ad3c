"""The sink against the real broker and chDB: exactly once, replays, faults, halts, shutdown."""

from __future__ import annotations

from collections import Counter

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

from schemas.codec import RecordType
from schemas.kafka import KafkaConnection
from schemas.topics import TopicNames
from sinks.batching import Batch
from sinks.config import ClickHouseTarget, FaultPoint, SinkConfig
from sinks.query import QueryClient, saved_queries
from sinks.service import Sink
from tests import sinkdata
from tests.helpers import unique, wait_for
from tests.integration.sinks.conftest import PARTITIONS, Sunk, sink_config
from tests.integration.sinks.helpers import (
    create_topics,
    metric,
    publish,
    running,
    scenario_items,
    wait_metric,
)
from tracecode.settings import Settings
from tracecode.topics import admin_client

STATE = "SELECT code, version, status, sub_status FROM shipment_state FINAL ORDER BY code"


def snapshot(client: QueryClient) -> dict[str, object]:
    """Every table's content as counts and merged figures."""
    one = {
        "events": "SELECT count(), uniqExact(event_id) FROM shipment_events",
        "state": "SELECT count() FROM shipment_state FINAL",
        "alerts": "SELECT count(), uniqExact(alert_id) FROM alerts",
        "dispatches": "SELECT count() FROM dispatches",
        "latency": "SELECT count(), sum(latency_hours) FROM dispatch_latency FINAL",
        "transit": "SELECT uniqExactMerge(shipments), avgMerge(avg_transit_hours) "
        "FROM transit_daily",
        "alerts_daily": "SELECT uniqExactMerge(alerts), uniqExactMerge(codes) FROM alerts_daily",
    }
    found: dict[str, object] = {name: client.query(sql).result_rows for name, sql in one.items()}
    found["state_rows"] = client.query(STATE).result_rows
    return found


def expected_state(scenario: sinkdata.Scenario) -> list[tuple[str, int, str, str]]:
    last = {r["code"]: r for r in scenario.status}
    return sorted((c, r["version"], r["status"], r["sub_status"]) for c, r in last.items())


def test_every_record_is_stored_exactly_once(sunk_simulation: Sunk) -> None:
    sunk = sunk_simulation
    scenario = sunk.scenario
    with QueryClient.open(sunk.target) as client:
        events = client.query(
            "SELECT count(), uniqExact(event_id), uniqExact(kafka_partition, kafka_offset) "
            "FROM shipment_events"
        ).result_rows[0]
        assert events == (len(scenario.history),) * 3
        stored_ids = {
            r[0] for r in client.query("SELECT event_id FROM shipment_events").result_rows
        }
        assert stored_ids == {r["event_id"] for r in scenario.history}
        assert client.query(STATE).result_rows == expected_state(scenario)
        alerts = client.query("SELECT alert_id, kind, rule FROM alerts").result_rows
        assert sorted(alerts) == sorted(
            (a["alert_id"], a["kind"], a["rule"]) for a in scenario.alerts
        )
        dispatches = sum(1 for r in scenario.history if r["kind"] == "DISPATCH")
        assert client.query("SELECT count() FROM dispatches").result_rows == [(dispatches,)]
        partitions = client.query(
            "SELECT uniqExact(kafka_partition) FROM shipment_events"
        ).result_rows
        assert partitions == [(PARTITIONS,)]


def test_saved_queries_find_the_known_shipments(sunk: Sunk) -> None:
    scenario = sunk.scenario
    queries = saved_queries()

    def run(name: str, **params: str) -> list[dict[str, object]]:
        query = queries[name]
        result = client.query(query.sql, query.bind(params))
        return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]

    with QueryClient.open(sunk.target) as client:
        shipment = scenario.delivered[7]
        timeline = run("timeline", code=shipment.code)
        assert [row["event_id"] for row in timeline] == [
            f"{shipment.code}-D",
            *(f"{shipment.code}-S{n}" for n in range(5)),
        ]
        assert timeline[-1]["shipment_status"] == "DELIVERED"
        assert not any(row["retracted"] for row in timeline)

        distribution = run("status_distribution")
        assert sum(int(r["shipments"]) for r in distribution) == len(scenario.states)  # type: ignore[call-overload]
        delivered_rows = [r for r in distribution if r["status"] == "DELIVERED"]
        assert [int(r["shipments"]) for r in delivered_rows] == [len(scenario.delivered)]  # type: ignore[call-overload]

        lanes: dict[tuple[str, str, str], list[float]] = {}
        for d in scenario.delivered:
            lanes.setdefault((d.carrier, d.origin, d.destination), []).append(d.transit_hours)
        transit = {
            (r["carrier"], r["origin_country"], r["destination_country"]): (
                r["delivered"],
                r["p50_hours"],
                r["p90_hours"],
            )
            for r in run("transit_times")
        }
        assert transit == {
            lane: (
                len(hours),
                sinkdata.quantile_exact(hours, 0.5),
                sinkdata.quantile_exact(hours, 0.9),
            )
            for lane, hours in lanes.items()
        }

        latest = max(
            e["dispatch_time"] if "dispatch_time" in e else e["event_time"]  # type: ignore[typeddict-item]
            for e in scenario.events
        )
        stalled = {r["code"] for r in run("stalled", hours="72")}
        in_transit = {
            code
            for code, state in scenario.states.items()
            if state["status"] in ("IN_TRANSIT", "OUT_FOR_DELIVERY")
            and state["last_scan_at"] is not None
            and (latest - state["last_scan_at"]).total_seconds() >= 72 * 3600
        }
        assert stalled == in_transit
        assert {scenario.stalled, scenario.clone} <= stalled

        latencies: dict[str, list[float]] = {}
        for state in scenario.states.values():
            dispatch = state["dispatch"]
            if dispatch is not None and state["first_scan_at"] is not None:
                hours = (state["first_scan_at"] - dispatch["dispatch_time"]).total_seconds() / 3600
                latencies.setdefault(dispatch["seller_id"], []).append(hours)
        sellers = {
            r["seller_id"]: (r["shipments"], r["p50_hours"], r["p90_hours"], r["late"])
            for r in run("seller_dispatch_delays", sla_hours="4")
        }
        assert sellers == {
            seller: (
                len(hours),
                sinkdata.quantile_exact(hours, 0.5),
                sinkdata.quantile_exact(hours, 0.9),
                sum(1 for h in hours if h > 4),
            )
            for seller, hours in latencies.items()
        }

        clones = run("suspected_clones")
        assert [r["code"] for r in clones] == [scenario.clone]
        assert clones[0]["rules"] == ["impossible_speed"]

        per_hour = run("events_per_hour", hours="100000")
        assert sum(int(r["events"]) for r in per_hour) == len(scenario.history)  # type: ignore[call-overload]

        by_day = run("alerts_by_day")
        kinds = Counter(a["kind"] for a in scenario.alerts)
        found: Counter[str] = Counter()
        for row in by_day:
            found[str(row["kind"])] += int(row["alerts"])  # type: ignore[call-overload]
        assert found == kinds


def test_replay_from_the_beginning_changes_nothing(
    sunk_simulation: Sunk, kafka: KafkaConnection
) -> None:
    sunk = sunk_simulation
    with QueryClient.open(sunk.target) as client:
        before = snapshot(client)
    admin = admin_client(kafka)
    reset = [TopicPartition(topic, part, 0) for topic, part in sunk.ends]
    for future in admin.alter_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(sunk.group, reset)]
    ).values():
        future.result()
    sink = Sink(sink_config(kafka, sunk.topics, sunk.target, sunk.group))
    with running(sink) as thread:
        for topic in (sunk.topics.history, sunk.topics.status, sunk.topics.alerts):
            count = sum(end for (t, _), end in sunk.ends.items() if t == topic)
            wait_metric(sink, "tracecode_sink_records_skipped_total", count, topic=topic)
        thread.check()
    for table in ("shipment_events", "shipment_state", "alerts"):
        assert metric(sink, "tracecode_sink_rows_inserted_total", table=table) == 0
    with QueryClient.open(sunk.target) as client:
        assert snapshot(client) == before


def test_failing_inserts_lose_and_duplicate_nothing(
    kafka: KafkaConnection, settings: Settings, clickhouse_target: ClickHouseTarget
) -> None:
    scenario = sinkdata.simulated(shipments=150, seed=9)
    topics = TopicNames().with_prefix(unique("test-sink-fault") + ".")
    create_topics(kafka, settings, topics, PARTITIONS)
    ends = publish(kafka, scenario_items(scenario, topics))
    calls: Counter[FaultPoint] = Counter()
    injected: Counter[FaultPoint] = Counter()

    def flaky(point: FaultPoint, _batch: Batch) -> None:
        calls[point] += 1
        # The first writes fail before the rows are sent; later ones fail after ClickHouse
        # stored them (a lost acknowledgement), so their retry must be deduplicated.
        if point is FaultPoint.BEFORE_INSERT and calls[point] <= 6:
            raise ConnectionError("ClickHouse unreachable (injected)")
        if point is FaultPoint.AFTER_INSERT and calls[point] % 3 == 0 and calls[point] <= 15:
            raise TimeoutError("acknowledgement lost (injected)")
        if point is FaultPoint.BEFORE_LEDGER and calls[point] % 4 == 0 and calls[point] <= 20:
            injected[point] += 1
            raise ConnectionError("ledger unreachable (injected)")

    sink = Sink(
        sink_config(
            kafka, topics, clickhouse_target, unique("sink"), batch_max_rows=100, fault_hook=flaky
        )
    )
    with running(sink) as thread:
        thread.wait_stored(ends)
    retries = sum(
        metric(sink, "tracecode_sink_insert_retries_total", table=t)
        for t in ("shipment_events", "shipment_state", "alerts")
    )
    assert retries >= 6 + 5
    assert injected[FaultPoint.BEFORE_LEDGER] >= 2
    with QueryClient.open(clickhouse_target) as client:
        found = snapshot(client)
        assert found["events"] == [(len(scenario.history), len(scenario.history))]
        assert found["alerts"] == [(len(scenario.alerts), len(scenario.alerts))]
        assert found["state_rows"] == expected_state(scenario)
        delivered = {
            r["code"]
            for r in scenario.status
            if r["status"] == "DELIVERED"
            and r["previous_status"] != "DELIVERED"
            and r["dispatched_at"] is not None
        }
        assert found["transit"][0][0] == len(delivered)  # type: ignore[index]


def test_an_undecodable_record_halts_only_its_partition(
    kafka: KafkaConnection, settings: Settings, clickhouse_target: ClickHouseTarget
) -> None:
    scenario = sinkdata.build(delivered=6)
    topics = TopicNames().with_prefix(unique("test-sink-halt") + ".")
    create_topics(kafka, settings, topics, 2)
    history = [
        (topics.history, RecordType.SHIPMENT_HISTORY_RECORD, r["code"], r) for r in scenario.history
    ]
    half = len(history) // 2
    before = publish(kafka, history[:half], partition=0)
    publish(
        kafka,
        [(topics.history, RecordType.SHIPMENT_HISTORY_RECORD, "X", b"\xc3\x01garbage")],
        partition=0,
    )
    publish(kafka, history[half:], partition=0)
    other = publish(kafka, history, partition=1)
    bad_offset = before[(topics.history, 0)]
    sink = Sink(sink_config(kafka, topics, clickhouse_target, unique("sink")))
    with running(sink) as thread:
        thread.wait_stored({**other, (topics.history, 0): bad_offset})
        wait_metric(sink, "tracecode_sink_partition_halted", 1, topic=topics.history, partition="0")
        assert metric(sink, "tracecode_sink_undecodable_records_total", topic=topics.history) == 1
        assert sink.positions()[(topics.history, 0)] == bad_offset
    with QueryClient.open(clickhouse_target) as client:
        stored = client.query(
            "SELECT kafka_partition, count(), max(kafka_offset) FROM shipment_events "
            "GROUP BY kafka_partition ORDER BY kafka_partition"
        ).result_rows
    assert stored == [(0, half, bad_offset - 1), (1, len(history), len(history) - 1)]


def test_shutdown_writes_what_is_buffered(
    kafka: KafkaConnection, settings: Settings, clickhouse_target: ClickHouseTarget
) -> None:
    scenario = sinkdata.build(delivered=5)
    topics = TopicNames().with_prefix(unique("test-sink-stop") + ".")
    create_topics(kafka, settings, topics, PARTITIONS)
    publish(kafka, scenario_items(scenario, topics))
    sink = Sink(
        sink_config(
            kafka,
            topics,
            clickhouse_target,
            unique("sink"),
            batch_max_rows=100_000,
            batch_max_age=600,
        )
    )
    with running(sink):
        wait_metric(
            sink, "tracecode_sink_pending_rows", len(scenario.history), table="shipment_events"
        )
        assert metric(sink, "tracecode_sink_rows_inserted_total", table="shipment_events") == 0
    assert metric(sink, "tracecode_sink_rows_inserted_total", table="shipment_events") == len(
        scenario.history
    )
    with QueryClient.open(clickhouse_target) as client:
        assert client.query("SELECT count() FROM shipment_events").result_rows == [
            (len(scenario.history),)
        ]
        assert client.query("SELECT count() FROM alerts").result_rows == [(len(scenario.alerts),)]


def test_partitions_moving_between_sinks_lose_and_duplicate_nothing(
    kafka: KafkaConnection, settings: Settings, clickhouse_target: ClickHouseTarget
) -> None:
    scenario = sinkdata.simulated(shipments=120, seed=13)
    topics = TopicNames().with_prefix(unique("test-sink-rebalance") + ".")
    create_topics(kafka, settings, topics, PARTITIONS)
    items = scenario_items(scenario, topics)
    half = len(items) // 2
    first = publish(kafka, items[:half])
    group = unique("sink")

    def config() -> SinkConfig:
        return sink_config(kafka, topics, clickhouse_target, group, batch_max_rows=40)

    with running(Sink(config())) as one:
        one.wait_stored(first)
        # A second member joins: the partitions are revoked, shared out, and read on.
        with running(Sink(config())) as two:
            wait_for(lambda: True if two.sink.positions() else None, 60, "the rebalance")
            ends = publish(kafka, items[half:])

            def stored() -> bool | None:
                one.check()
                two.check()
                seen = {**one.sink.positions(), **two.sink.positions()}
                return all(seen.get(tp, -1) >= end for tp, end in ends.items()) or None

            wait_for(stored, 90, "both sinks to store everything")
    with QueryClient.open(clickhouse_target) as client:
        found = snapshot(client)
    assert found["events"] == [(len(scenario.history), len(scenario.history))]
    assert found["alerts"] == [(len(scenario.alerts), len(scenario.alerts))]
    assert found["state_rows"] == expected_state(scenario)
