"""The ClickHouse schema as ordered migrations, applied once each and recorded.

Migrations are the files ``NNNN_name.sql`` beside this module, applied in version order.
Every statement in them is idempotent (``IF NOT EXISTS``), so a migration interrupted half-way
is simply applied again; ``schema_migrations`` records the versions applied.

Retention is not a migration: it follows a setting that may change between runs. After the
migrations, :func:`migrate` compares the TTL recorded in ``schema_settings`` with the one
configured and alters the event-level tables only when they differ (an ALTER ... TTL rewrites
the parts, which is worth doing once, not at every start).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

from clickhouse_connect.driver.client import Client

from sinks.sql import split_statements

log = logging.getLogger(__name__)

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

TTL_COLUMNS = {
    "shipment_events": "event_time",
    "dispatches": "dispatched_at",
    "alerts": "detected_at",
}
"""Event-level tables the retention TTL applies to, with their time column. State and rollups
are kept: they are small and summarise the whole history."""

_BOOTSTRAP = (
    """CREATE TABLE IF NOT EXISTS schema_migrations
    (version UInt32, name String, applied_at DateTime64(3, 'UTC'))
    ENGINE = MergeTree ORDER BY version""",
    """CREATE TABLE IF NOT EXISTS schema_settings
    (name String, value String, applied_at DateTime64(3, 'UTC'))
    ENGINE = ReplacingMergeTree(applied_at) ORDER BY name""",
)


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    statements: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """What :func:`migrate` did."""

    applied: tuple[Migration, ...]
    current_version: int
    ttl_changed: bool


def discover() -> list[Migration]:
    """The migrations shipped with the sink, in version order."""
    found: list[Migration] = []
    for entry in resources.files(__package__).iterdir():
        match = _FILE.match(entry.name)
        if match is None:
            continue
        statements = tuple(split_statements(entry.read_text(encoding="utf-8")))
        found.append(Migration(int(match.group(1)), match.group(2), statements))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migration versions must run 1, 2, 3, ... without gaps: {versions}")
    return found


def applied_versions(client: Client) -> set[int]:
    """Versions recorded in ``schema_migrations`` (empty before the first migration)."""
    exists = client.query(
        "SELECT count() FROM system.tables WHERE database = currentDatabase() "
        "AND name = 'schema_migrations'"
    ).result_rows[0][0]
    if not exists:
        return set()
    rows = client.query("SELECT DISTINCT version FROM schema_migrations").result_rows
    return {int(row[0]) for row in rows}


class SchemaError(RuntimeError):
    """The database's schema is not the one this sink writes."""


def verify(client: Client) -> int:
    """Check that every migration is applied (schema managed by operators); the version."""
    missing = [m for m in discover() if m.version not in applied_versions(client)]
    if missing:
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in missing)
        raise SchemaError(
            f"the database lacks migrations {names}: apply deploy/clickhouse/cluster.sql "
            "(or let the sink manage the schema: TRACECODE_SINK_MANAGE_SCHEMA=true)"
        )
    return max((m.version for m in discover()), default=0)


def migrate(client: Client, ttl_days: int) -> MigrationReport:
    """Apply the pending migrations, then bring the retention TTL to ``ttl_days``."""
    for statement in _BOOTSTRAP:
        client.command(statement)
    done = applied_versions(client)
    applied: list[Migration] = []
    for migration in discover():
        if migration.version in done:
            continue
        log.info(
            "applying migration",
            extra={"version": migration.version, "migration": migration.name},
        )
        for statement in migration.statements:
            client.command(statement)
        client.insert(
            "schema_migrations",
            [[migration.version, migration.name, datetime.now(UTC)]],
            column_names=["version", "name", "applied_at"],
        )
        applied.append(migration)
    ttl_changed = _reconcile_ttl(client, ttl_days)
    current = max(done | {m.version for m in applied}, default=0)
    return MigrationReport(tuple(applied), current, ttl_changed)


def _reconcile_ttl(client: Client, ttl_days: int) -> bool:
    rows = client.query(
        "SELECT argMax(value, applied_at) FROM schema_settings WHERE name = 'ttl_days'"
    ).result_rows
    recorded = rows[0][0] if rows and rows[0][0] != "" else "0"
    if recorded == str(ttl_days):
        return False
    for table, column in TTL_COLUMNS.items():
        if ttl_days > 0:
            client.command(
                f"ALTER TABLE {table} MODIFY TTL toDateTime({column}) + INTERVAL {ttl_days} DAY"
            )
        elif recorded != "0":
            client.command(f"ALTER TABLE {table} REMOVE TTL")
    client.insert(
        "schema_settings",
        [["ttl_days", str(ttl_days), datetime.now(UTC)]],
        column_names=["name", "value", "applied_at"],
    )
    log.info("retention changed", extra={"ttl_days": ttl_days, "previous_ttl_days": recorded})
    return True
