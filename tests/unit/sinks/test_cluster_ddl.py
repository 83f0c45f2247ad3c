"""deploy/clickhouse/cluster.sql parses and mirrors the migrations' columns."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from sinks.clickhouse import connect, ensure_database
from sinks.config import ClickHouseTarget
from sinks.migrations import discover, migrate
from sinks.sql import split_statements

CLUSTER_SQL = Path(__file__).parents[3] / "deploy" / "clickhouse" / "cluster.sql"


@pytest.fixture
def client(clickhouse_target: ClickHouseTarget) -> Iterator[Client]:
    ensure_database(clickhouse_target)
    client = connect(clickhouse_target)
    yield client
    client.command(f"DROP DATABASE `{clickhouse_target.database}`")
    client.close()


def statements() -> list[str]:
    return split_statements(CLUSTER_SQL.read_text())


def test_every_statement_parses(client: Client) -> None:
    for statement in statements():
        formatted = client.query("SELECT formatQuery({s:String})", parameters={"s": statement})
        assert formatted.result_rows[0][0]


def _columns(client: Client, database: str) -> dict[str, list[tuple[str, str]]]:
    rows = client.query(
        "SELECT table, name, type FROM system.columns WHERE database = {d:String} "
        "ORDER BY table, position",
        parameters={"d": database},
    ).result_rows
    found: dict[str, list[tuple[str, str]]] = {}
    for table, name, type_ in rows:
        found.setdefault(table, []).append((name, type_))
    return found


def _local(statement: str, database: str) -> str | None:
    """The statement for one chDB server: local tables under their cluster names."""
    if "ENGINE = Distributed" in statement or statement.startswith(("CREATE DATABASE", "INSERT")):
        return None
    text = statement.replace(" ON CLUSTER '{cluster}'", "").replace("tracecode.", f"{database}.")
    text = re.sub(r"(\w+)_local\b", r"\1", text)
    text = re.sub(
        r"Replicated(\w*MergeTree)\('[^']*', '\{replica\}'(?:, (\w+))?\)", r"\1(\2)", text
    )
    text = text.replace("MergeTree()", "MergeTree")
    # chDB has no Keeper: the ledger's columns are what matters here.
    return text.replace(
        "ENGINE = KeeperMap('/tracecode/sink_batches')\nPRIMARY KEY partition_key",
        "ENGINE = MergeTree ORDER BY partition_key",
    )


def test_cluster_tables_have_the_migrations_columns(
    client: Client, clickhouse_target: ClickHouseTarget
) -> None:
    migrate(client, ttl_days=0)
    mirror = f"{clickhouse_target.database}_cluster"
    client.command(f"CREATE DATABASE {mirror}")
    try:
        for statement in statements():
            local = _local(statement, mirror)
            if local is not None:
                client.command(local)
        migrated = _columns(client, clickhouse_target.database)
        clustered = _columns(client, mirror)
        assert clustered == migrated
        names = ", ".join(repr(m.name) for m in discover())
        assert f"[{names}]" in CLUSTER_SQL.read_text()
    finally:
        client.command(f"DROP DATABASE {mirror}")
