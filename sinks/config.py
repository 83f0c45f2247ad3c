"""The sink's configuration: a plain frozen object the shell builds from the settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from schemas.framing import SchemaRegistryConnection
from schemas.kafka import KafkaConnection
from schemas.topics import TopicNames

if TYPE_CHECKING:
    from sinks.batching import Batch


class FaultPoint(StrEnum):
    """Where in a batch's write the :attr:`SinkConfig.fault_hook` is called."""

    BEFORE_LEDGER = "before_ledger"
    """Before a round's intents and done marks are recorded (with the round's first batch)."""
    BEFORE_INSERT = "before_insert"
    """After the batch intent is recorded, before the rows are sent."""
    AFTER_INSERT = "after_insert"
    """After ClickHouse acknowledged the rows, before the batch is marked done."""


FaultHook = Callable[[FaultPoint, "Batch"], None]
"""Called at each :class:`FaultPoint` of every batch write; raising an exception there makes
the write fail as a ClickHouse error would. For fault-injection tests only."""


@dataclass(frozen=True, slots=True)
class ClickHouseTarget:
    """Where the sink writes and analysts read.

    ``dsn`` is ``chdb:///absolute/folder`` for the embedded engine (chDB) or
    ``http(s)://host:port`` for a ClickHouse server; both go through clickhouse-connect.
    """

    dsn: str
    database: str = "tracecode"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    connect_timeout: float = 10.0
    """Seconds to open a connection to a server (HTTP targets)."""
    send_receive_timeout: float = 120.0
    """Seconds an HTTP request may take before it counts as failed."""

    def __post_init__(self) -> None:
        scheme = urlsplit(self.dsn).scheme
        if scheme not in ("chdb", "http", "https"):
            raise ValueError(
                f"unsupported ClickHouse DSN scheme {scheme!r}: use chdb:///folder for the "
                "embedded engine or http(s)://host:port for a server"
            )
        if scheme == "chdb" and not self.chdb_path:
            raise ValueError("a chdb DSN needs an absolute data folder: chdb:///path/to/folder")
        if not self.database.isidentifier():
            raise ValueError(f"database name {self.database!r} is not a plain identifier")

    @property
    def embedded(self) -> bool:
        """Whether the target is the in-process chDB engine."""
        return urlsplit(self.dsn).scheme == "chdb"

    @property
    def chdb_path(self) -> Path | None:
        """The chDB data folder of an embedded target."""
        parts = urlsplit(self.dsn)
        # chdb://host/db would be read by clickhouse-connect as an in-memory engine: only the
        # chdb:///absolute/folder form names a folder.
        if parts.scheme != "chdb" or parts.netloc or not parts.path.startswith("/"):
            return None
        return Path(parts.path)

    def describe(self) -> str:
        """The target for logs and messages: no credentials."""
        parts = urlsplit(self.dsn)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        where = parts.path if self.embedded else f"{host}{port}"
        return f"{parts.scheme}://{where} database={self.database}"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff between attempts of a failed insert (never given up)."""

    initial: float = 0.5
    """Seconds before the first retry."""
    maximum: float = 30.0
    """Cap of the delay between two attempts."""
    multiplier: float = 2.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return min(self.maximum, self.initial * self.multiplier ** max(0, attempt - 1))


@dataclass(frozen=True, slots=True)
class SinkConfig:
    """Everything the sink service needs; see ``tracecode.settings`` for the defaults."""

    kafka: KafkaConnection
    topics: TopicNames
    clickhouse: ClickHouseTarget
    schema_registry: SchemaRegistryConnection | None = None
    """The Schema Registry that resolves Confluent framed records (either framing is read);
    ``None``: single-object records only."""
    group_id: str = "tracecode-sink"
    batch_max_rows: int = 10_000
    """A partition's batch is written once it holds this many records..."""
    batch_max_age: float = 1.0
    """...or once its first record has waited this many seconds."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    ttl_days: int = 0
    """Days that event-level rows (events, dispatches, alerts) are kept; 0 keeps them forever."""
    manage_schema: bool = True
    """Apply the migrations and the TTL at start. Off for a cluster whose schema operators
    apply from deploy/clickhouse: the sink then only checks the schema version."""
    query_port: int | None = 8124
    """Port of the read-only query endpoint on 127.0.0.1 (embedded target only); None: off."""
    metrics_port: int | None = 9464
    """Port of the monitoring endpoint (``/metrics``, ``/health``, ``/health/live``); None:
    off."""
    metrics_host: str = "127.0.0.1"
    """Address the monitoring endpoint listens on; a container sets 0.0.0.0 so Prometheus and
    the probes reach it."""
    unreachable_after: float = 30.0
    """Seconds of failing ClickHouse calls before ``/health`` reports the sink not ready."""
    session_timeout: float = 45.0
    """Seconds without a heartbeat before the group hands a silent (crashed) sink's
    partitions to another member."""
    shutdown_timeout: float = 30.0
    """Seconds a graceful shutdown keeps retrying to write what is buffered."""
    poll_timeout: float = 0.2
    """Seconds one consumer poll waits for records."""
    fault_hook: FaultHook | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.batch_max_rows < 1:
            raise ValueError("batch_max_rows must be at least 1")
        if self.batch_max_age <= 0:
            raise ValueError("batch_max_age must be positive")
        if self.ttl_days < 0:
            raise ValueError("ttl_days must be 0 (keep forever) or positive")
        if self.unreachable_after <= 0:
            raise ValueError("unreachable_after must be positive")
