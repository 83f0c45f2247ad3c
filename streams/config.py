"""The worker's configuration: a plain value the shell builds from the settings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from schemas.codes import DEFAULT_MARKETPLACE_FORMAT, MarketplaceFormat
from schemas.framing import SchemaRegistryConnection
from schemas.kafka import KafkaConnection
from schemas.topics import TopicNames
from streams.join.transition import Rules


class ProcessingGuarantee(StrEnum):
    """How input offsets, state changes and outputs are committed together."""

    EXACTLY_ONCE = "exactly_once"
    """Kafka transactions: an event's state change, outputs and offset commit atomically."""
    AT_LEAST_ONCE = "at_least_once"
    """Outputs are flushed before offsets commit; a crash may repeat some outputs."""


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """Everything one ``tracecode worker`` process needs.

    Workers with the same :attr:`app_id` form one consumer group and share the partitions;
    each needs its own :attr:`worker_id`, web port and :attr:`state_dir`.
    """

    kafka: KafkaConnection
    topics: TopicNames
    state_dir: Path
    """This worker's own folder for its RocksDB tables (never shared between workers)."""
    partitions: int
    """Partition count of the input topics; the changelog topic gets the same."""
    schema_registry: SchemaRegistryConnection | None = None
    """The Schema Registry: inputs are read in either framing and outputs written in
    Confluent framing; ``None``: single-object framing only."""
    rules: Rules = field(default_factory=Rules)
    marketplace: MarketplaceFormat = DEFAULT_MARKETPLACE_FORMAT
    """The deployment's marketplace code format (validation and the web view)."""
    app_id: str = "tracecode-streams"
    """Consumer group id; also prefixes the changelog topic and the transactional ids."""
    worker_id: str = "worker-1"
    """Names this worker within the group (its static group membership)."""
    web_host: str = "127.0.0.1"
    """Host name announced to the other workers, which route table lookups to it."""
    web_bind: str = "127.0.0.1"
    """Address the web view listens on."""
    web_port: int = 6066
    processing_guarantee: ProcessingGuarantee = ProcessingGuarantee.EXACTLY_ONCE
    standby_replicas: int = 0
    """Other workers keeping a warm copy of each partition's table, for fast failover."""
    replication_factor: int = 1
    """Replication factor of the changelog topic the worker creates."""
    commit_interval_s: float = 1.0
    """How often offsets (and, exactly-once, the transactions) are committed while the worker
    catches up on a backlog."""
    live_commit_interval_s: float = 0.1
    """How often they are committed once the worker is caught up with its input: exactly-once
    outputs become visible at the commit, so this bounds their latency."""
    fetch_margin_s: float = 2.0
    """How much later than a record's timestamp a fetch of the other input topic must be to
    vouch that it holds nothing earlier, when producers stamp the input records
    (streams.runtime.sequencer)."""
    broker_clock_skew_s: float = 0.05
    """The most the clocks of two brokers may differ, when the broker stamps the input records
    (``LogAppendTime``): a fetch of the other input topic vouches that it holds nothing earlier
    once it was requested this long after the waiting record arrived."""
    reorder_window_s: float = 0.0
    """How far back in time a record of one input partition may be stamped relative to the
    records before it, when several producers write the same partitions: the worker then
    orders each partition by timestamp too (streams.runtime.sequencer). 0 takes each partition
    in offset order, right for one producer per partition and for broker stamps."""
    state_cache_size: int = 4096
    """Decoded shipment states kept in memory, in front of RocksDB."""
    batch_records: int = 2000
    """Most input records one fetch hands the join (aiokafka's ``max_records`` per fetch)."""
    input_wait_s: float = 5.0
    """How long a record may wait for the co-partitioned partition of the other input topic
    when that one may still hold an earlier record (see streams.join.merge)."""
    session_timeout_s: float = 30.0
    """How long the group waits for a worker that stopped heartbeating before moving its
    partitions (a restarted worker with the same id takes them back at once)."""
    transaction_timeout_s: float = 300.0
    """How long the broker keeps a transaction open before aborting it (exactly-once). A
    worker cut off from the broker for longer is fenced when it is back, and stops; the next
    owner of a partition aborts its open transaction at once, so a long timeout holds no reader
    back. At most the broker's ``transaction.max.timeout.ms``."""

    def __post_init__(self) -> None:
        for name in ("app_id", "worker_id"):
            if not _NAME.fullmatch(getattr(self, name)):
                raise ValueError(
                    f"{name} {getattr(self, name)!r} must be letters, digits, '.', '_' or '-' "
                    "(it names folders, topics and transactional ids)"
                )
        if self.partitions < 1:
            raise ValueError(f"partitions must be at least 1, not {self.partitions}")
        if not 1 <= self.web_port <= 65535:
            raise ValueError(f"web_port {self.web_port} is not a TCP port")
        if self.standby_replicas < 0:
            raise ValueError("standby_replicas cannot be negative")
        if self.commit_interval_s <= 0:
            raise ValueError("commit_interval_s must be positive")
        if not 0 < self.live_commit_interval_s <= self.commit_interval_s:
            raise ValueError(
                "live_commit_interval_s must be positive and at most commit_interval_s"
            )
        if self.fetch_margin_s < 0:
            raise ValueError("fetch_margin_s cannot be negative")
        if self.broker_clock_skew_s < 0:
            raise ValueError("broker_clock_skew_s cannot be negative")
        if self.reorder_window_s < 0:
            raise ValueError("reorder_window_s cannot be negative")
        if self.state_cache_size < 0:
            raise ValueError("state_cache_size cannot be negative")
        if self.batch_records < 1:
            raise ValueError("batch_records must be at least 1")
        if self.input_wait_s <= 0:
            raise ValueError("input_wait_s must be positive")
        if self.transaction_timeout_s < 1:
            raise ValueError("transaction_timeout_s must be at least 1 s")

    @property
    def changelog_topic(self) -> str:
        """Name of the ``shipments`` table's changelog topic (Faust's naming)."""
        return f"{self.app_id}-{SHIPMENTS_TABLE}-changelog"

    @property
    def web_url(self) -> str:
        """Where this worker's web view answers; other workers route requests here."""
        return f"http://{self.web_host}:{self.web_port}"


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")

SHIPMENTS_TABLE = "shipments"
"""Name of the table holding one ShipmentState per code."""
