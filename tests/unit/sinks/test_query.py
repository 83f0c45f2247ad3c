"""Saved queries, parameter binding and read-only enforcement, directly and via the endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import clickhouse_connect
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from sinks.clickhouse import connect, ensure_database
from sinks.config import ClickHouseTarget
from sinks.endpoint import QueryEndpoint
from sinks.migrations import migrate
from sinks.query import QueryClient, QueryError, parse_saved, saved_queries
from sinks.sql import ReadOnlyViolation

INJECTION = "X' OR 1=1; DROP TABLE alerts; --"


@pytest.fixture
def store(clickhouse_target: ClickHouseTarget) -> Iterator[ClickHouseTarget]:
    ensure_database(clickhouse_target)
    client = connect(clickhouse_target)
    migrate(client, ttl_days=0)
    at = datetime(2026, 11, 2, 8, tzinfo=UTC)
    client.insert(
        "alerts",
        [
            [
                "a1",
                "TCA",
                "STALLED",
                "no_scan_for",
                "WARNING",
                at,
                at,
                "m1",
                ["e1"],
                "[]",
                {},
                0,
                1,
            ],
            [
                "a2",
                INJECTION,
                "STALLED",
                "no_scan_for",
                "WARNING",
                at,
                at,
                "m2",
                [],
                "[]",
                {},
                0,
                2,
            ],
        ],
        column_names=[
            "alert_id",
            "code",
            "kind",
            "rule",
            "severity",
            "detected_at",
            "emitted_at",
            "message",
            "evidence_event_ids",
            "evidence",
            "metrics",
            "kafka_partition",
            "kafka_offset",
        ],
    )
    client.close()
    yield clickhouse_target


@pytest.fixture
def endpoint(store: ClickHouseTarget) -> Iterator[QueryEndpoint]:
    served = QueryEndpoint(store, 0)
    served.start()
    yield served
    served.shutdown()
    served.server_close()


def test_every_saved_query_declares_its_parameters() -> None:
    queries = saved_queries()
    assert {
        "timeline",
        "status_distribution",
        "transit_times",
        "stalled",
        "seller_dispatch_delays",
        "suspected_clones",
        "events_per_hour",
        "alerts_by_day",
    } <= set(queries)
    for query in queries.values():
        assert query.description
        assert all(param.type for param in query.params)


def test_saved_query_header_must_match_placeholders() -> None:
    with pytest.raises(ValueError, match=r"declared parameters \[\] but the SQL uses \['code'\]"):
        parse_saved("bad", "-- Bad.\nSELECT {code:String}")


def test_bind_fills_defaults_and_names_what_is_missing() -> None:
    query = parse_saved(
        "q",
        "-- Q.\n-- @param code String  the code\n-- @param n UInt32 = 5  how many\n"
        "SELECT {code:String}, {n:UInt32}",
    )
    assert query.bind({"code": "C"}) == {"code": "C", "n": "5"}
    with pytest.raises(QueryError, match="needs --param code=<String>"):
        query.bind({})
    with pytest.raises(QueryError, match="has no parameter nope"):
        query.bind({"code": "C", "nope": "1"})


@pytest.mark.parametrize("via_endpoint", [False, True], ids=["chdb", "endpoint"])
def test_sql_in_a_parameter_is_data(
    store: ClickHouseTarget, endpoint: QueryEndpoint, via_endpoint: bool
) -> None:
    with QueryClient.open(store, endpoint.port if via_endpoint else None) as client:
        assert ("endpoint" in client.via) is via_endpoint
        found = client.query(
            "SELECT alert_id FROM alerts WHERE code = {code:String}", {"code": INJECTION}
        ).result_rows
        assert found == [("a2",)]
        none = client.query(
            "SELECT count() FROM alerts WHERE code = {code:String}", {"code": "TCA' OR '1'='1"}
        ).result_rows
        assert none == [(0,)]
        assert client.query("SELECT count() FROM alerts").result_rows == [(2,)]


@pytest.mark.parametrize("via_endpoint", [False, True], ids=["chdb", "endpoint"])
def test_writes_are_refused_by_the_client_and_by_clickhouse(
    store: ClickHouseTarget, endpoint: QueryEndpoint, via_endpoint: bool
) -> None:
    with QueryClient.open(store, endpoint.port if via_endpoint else None) as client:
        with pytest.raises(ReadOnlyViolation, match="INSERT statements are not allowed"):
            client.query("INSERT INTO alerts SELECT * FROM alerts")
        # Past the client's check, the connection itself is read-only.
        with pytest.raises(DatabaseError, match="READONLY"):
            client._client.command("TRUNCATE TABLE alerts")
        with pytest.raises(DatabaseError, match="READONLY"):
            client.query("SELECT * FROM file('/etc/hostname', 'LineAsString')")
        assert client.query("SELECT count() FROM alerts").result_rows == [(2,)]


def test_endpoint_speaks_clickhouse_http(endpoint: QueryEndpoint, store: ClickHouseTarget) -> None:
    client = clickhouse_connect.get_client(
        dsn=f"http://127.0.0.1:{endpoint.port}", database=store.database, tz_mode="aware"
    )
    result = client.query("SELECT code, detected_at FROM alerts ORDER BY alert_id LIMIT 1")
    assert result.result_rows == [("TCA", datetime(2026, 11, 2, 8, tzinfo=UTC))]
    long_value = "y" * 50_000  # sent as a multipart form
    assert client.query("SELECT length({v:String})", parameters={"v": long_value}).result_rows == [
        (50_000,)
    ]
    assert client.raw_query("SELECT 1 AS one", fmt="JSONEachRow") == b'{"one":1}\n'
    with pytest.raises(DatabaseError, match="2 statements"):
        client.query("SELECT 1; DROP TABLE alerts")
    with pytest.raises(DatabaseError, match="Unknown expression identifier"):
        client.query("SELECT no_such_column FROM alerts")
    with pytest.raises(DatabaseError, match="serves database"):
        clickhouse_connect.get_client(
            dsn=f"http://127.0.0.1:{endpoint.port}", database="other"
        ).query("SELECT 1")
