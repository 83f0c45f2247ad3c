"""Opening clickhouse-connect clients for a target: chDB in-process or a ClickHouse server.

Both kinds are the same :class:`~clickhouse_connect.driver.client.Client`; only the DSN
differs. chDB hosts one engine per process and locks its data folder against other
processes: opening a folder another process holds raises :class:`StoreBusyError`.
"""

from __future__ import annotations

import logging
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ProgrammingError

from sinks.config import ClickHouseTarget

log = logging.getLogger(__name__)

INSERT_SETTINGS = {
    # chDB enables asynchronous inserts by default; an async insert is acknowledged before it
    # is written and is deduplicated by a different mechanism, so every batch insert is sync.
    "async_insert": 0,
    "insert_deduplicate": 1,
    "deduplicate_blocks_in_dependent_materialized_views": 1,
    # On a cluster the tables are Distributed: acknowledge only once the shards wrote the rows
    # (each shard then deduplicates its part of the block by the same token).
    "distributed_foreground_insert": 1,
}
"""Settings of every batch insert (the token is added per batch)."""


class StoreBusyError(RuntimeError):
    """The chDB data folder is open in another process."""


def connect(
    target: ClickHouseTarget,
    *,
    use_database: bool = True,
    settings: dict[str, Any] | None = None,
) -> Client:
    """A client for ``target``; ``settings`` apply to every query it runs."""
    database = target.database if use_database else None
    if target.embedded:
        path = target.chdb_path
        assert path is not None
        path.mkdir(parents=True, exist_ok=True)
        try:
            return clickhouse_connect.get_client(
                dsn=target.dsn, database=database, settings=settings or {}, tz_mode="aware"
            )
        except ProgrammingError as error:
            if "EmbeddedServer" in str(error) or "lock" in str(error).lower():
                raise StoreBusyError(
                    f"the chDB data folder {path} is in use by another process (a running "
                    "`tracecode sink` or query): stop it, or query through the sink's endpoint"
                ) from error
            raise
    return clickhouse_connect.get_client(
        dsn=target.dsn,
        username=target.username,
        password=target.password or "",
        database=database,
        connect_timeout=target.connect_timeout,
        send_receive_timeout=target.send_receive_timeout,
        settings=settings or {},
        tz_mode="aware",
    )


def ensure_database(target: ClickHouseTarget) -> None:
    """Create the target's database when it does not exist."""
    client = connect(target, use_database=False)
    try:
        client.command(f"CREATE DATABASE IF NOT EXISTS `{target.database}`")
    finally:
        client.close()
