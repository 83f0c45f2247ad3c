"""`tracecode query` and `tracecode sink` as people run them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from schemas.kafka import KafkaConnection
from schemas.topics import TopicNames
from sinks.config import ClickHouseTarget
from sinks.query import QueryClient, endpoint_answers
from tests import sinkdata
from tests.helpers import free_port, unique, wait_for
from tests.integration.sinks.conftest import Sunk
from tests.integration.sinks.helpers import create_topics, publish, scenario_items
from tracecode.cli import main
from tracecode.settings import Settings


def query(sunk: Sunk, *args: str) -> Result:
    env = {
        "TRACECODE_SINK_DSN": sunk.target.dsn,
        "TRACECODE_SINK_DATABASE": sunk.target.database,
        "TRACECODE_SINK_QUERY_PORT": "0",
    }
    return CliRunner().invoke(main, ["query", *args], env=env)


def test_query_prints_a_saved_query_as_json(sunk: Sunk) -> None:
    code = sunk.scenario.delivered[0].code
    result = query(
        sunk, "--saved", "timeline", "--param", f"code={code.lower()}", "--format", "json"
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [row["kind"] for row in rows] == ["DISPATCH"] + ["SCAN"] * 5
    assert rows[-1]["shipment_status"] == "DELIVERED"


def test_query_lists_saved_queries_and_prints_tables_and_csv(sunk: Sunk) -> None:
    listed = query(sunk, "--saved")
    assert listed.exit_code == 0
    for name in ("timeline", "status_distribution", "transit_times", "stalled"):
        assert name in listed.output
    table = query(
        sunk, "SELECT kind, count() AS n FROM shipment_events GROUP BY kind ORDER BY kind"
    )
    assert table.exit_code == 0
    assert "DISPATCH" in table.output and "SCAN" in table.output
    csv = query(sunk, "SELECT count() AS n FROM alerts", "--format", "csv")
    assert csv.output.splitlines() == ['"n"', str(len(sunk.scenario.alerts))]


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO alerts SELECT * FROM alerts",
        "DROP TABLE shipment_events",
        "SELECT 1; TRUNCATE TABLE alerts",
        "WITH x AS (SELECT 1) INSERT INTO alerts SELECT * FROM alerts",
    ],
)
def test_query_refuses_writes(sunk: Sunk, sql: str) -> None:
    result = query(sunk, sql)
    assert result.exit_code == 1
    assert "refused" in result.output
    with QueryClient.open(sunk.target) as client:
        assert client.query("SELECT count() FROM alerts").result_rows == [
            (len(sunk.scenario.alerts),)
        ]


def test_sql_in_a_parameter_value_is_data(sunk: Sunk) -> None:
    sneaky = "x' OR '1'='1"
    result = query(
        sunk,
        "SELECT count() AS n FROM shipment_events WHERE code = {code:String}",
        "--param",
        f"code={sneaky}",
        "--format",
        "csv",
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ['"n"', "0"]
    malformed = query(sunk, "--saved", "timeline", "--param", f"code={sneaky}")
    assert malformed.exit_code == 1


def test_unknown_saved_query_and_missing_parameter_say_what_to_do(sunk: Sunk) -> None:
    unknown = query(sunk, "--saved", "nope")
    assert unknown.exit_code == 1 and "no saved query 'nope'" in unknown.output
    missing = query(sunk, "--saved", "timeline")
    assert missing.exit_code == 1 and "needs --param code=<String>" in missing.output


def test_sink_command_runs_serves_queries_and_stops_on_sigterm(
    kafka: KafkaConnection, settings: Settings, tmp_path: Path
) -> None:
    scenario = sinkdata.build(delivered=4)
    prefix = unique("test-sink-cli") + "."
    topics = TopicNames().with_prefix(prefix)
    create_topics(kafka, settings, topics, settings.topics.partitions)
    publish(kafka, scenario_items(scenario, topics))
    query_port = free_port()
    env = {
        **os.environ,
        "TRACECODE_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "TRACECODE_TOPICS_PREFIX": prefix,
        "TRACECODE_SINK_DSN": f"chdb://{tmp_path / 'chdb'}",
        "TRACECODE_SINK_GROUP_ID": unique("sink"),
        "TRACECODE_SINK_QUERY_PORT": str(query_port),
        "TRACECODE_SINK_METRICS_PORT": str(free_port()),
    }
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "tracecode"), "sink"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        target = ClickHouseTarget(dsn=env["TRACECODE_SINK_DSN"])
        client = wait_for(lambda: _connect(target, query_port), 60, "the sink's query endpoint")
        with client:
            wait_for(
                lambda: (
                    True
                    if client.query("SELECT count() FROM shipment_events").result_rows
                    == [(len(scenario.history),)]
                    else None
                ),
                60,
                "the sink to store the history",
            )
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out
    assert "sink stopped" in out


def _connect(target: ClickHouseTarget, port: int) -> QueryClient | None:
    # Only through the endpoint: opening the folder here would take it from the sink.
    return QueryClient.open(target, port) if endpoint_answers(port) else None


def test_sink_migrate_applies_once_and_follows_the_retention(chdb_folder: Path) -> None:
    env = {
        "TRACECODE_SINK_DSN": f"chdb://{chdb_folder}",
        "TRACECODE_SINK_DATABASE": unique("migrate").replace("-", "_"),
    }
    first = CliRunner().invoke(main, ["sink", "migrate"], env=env)
    assert first.exit_code == 0, first.output
    assert "applied 0001_sink_batches" in first.output
    assert first.output.rstrip().endswith("schema version 6")
    again = CliRunner().invoke(main, ["sink", "migrate"], env=env)
    assert "applied" not in again.output and "retention" not in again.output
    ttl = CliRunner().invoke(
        main, ["sink", "migrate"], env={**env, "TRACECODE_SINK_TTL_DAYS": "90"}
    )
    assert "retention of events, dispatches and alerts: 90 days" in ttl.output
