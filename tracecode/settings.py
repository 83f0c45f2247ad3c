"""The one settings object: ``TRACECODE_*`` environment variables (and an optional ``.env``).

Settings come in sections; each section reads the variables with its own prefix, e.g.
``TRACECODE_BROKER_PORT`` is :attr:`BrokerSettings.port`. Components never see the settings:
the ``*_config`` methods of :class:`Settings` map them to the plain config objects the components
take, one method per component. To add a component's settings, add a section class with
documented fields, a field for it on :class:`Settings`, and its mapping method.

Every field has a ``description``; ``tracecode config`` lists them with their effective values,
secrets (``SecretStr`` fields) masked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.config import ApiConfig, HistoryTarget
from producers.config import Compression, ProducerConfig
from schemas.framing import SchemaRegistryConnection
from schemas.kafka import KafkaConnection, SaslMechanism, SecurityProtocol
from schemas.topics import TopicNames
from sinks.config import ClickHouseTarget, RetryPolicy, SinkConfig
from streams.config import ProcessingGuarantee, WorkerConfig
from streams.join.transition import Rules
from tracecode.broker import BrokerConfig
from tracecode.errors import TracecodeError
from tracecode.topics import TopicsConfig
from webhooks.config import Backoff, WebhooksConfig

ENV_PREFIX = "TRACECODE_"
ENV_FILE = ".env"


class SettingsError(TracecodeError):
    """The environment holds a setting that cannot be used."""


def _section_config(section: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=f"{ENV_PREFIX}{section}_",
        env_file=ENV_FILE,
        extra="ignore",
        frozen=True,
    )


class BrokerSettings(BaseSettings):
    """The local development broker (``tracecode broker``)."""

    model_config = _section_config("BROKER")

    port: int = Field(9092, ge=1, le=65535, description="Client port of the local broker.")
    controller_port: int | None = Field(
        None, ge=1, le=65535, description="KRaft controller port; default: port + 1."
    )
    heap: str = Field(
        "512m",
        pattern=r"^\d+[kKmMgG]$",
        description="Maximum JVM heap of the local broker (java -Xmx).",
    )
    start_timeout: float = Field(
        120.0, gt=0, description="Seconds `broker up` waits for the broker to answer."
    )
    stop_timeout: float = Field(
        30.0, gt=0, description="Seconds `broker down` waits after SIGTERM before SIGKILL."
    )


class KafkaSettings(BaseSettings):
    """How every component reaches Kafka."""

    model_config = _section_config("KAFKA")

    bootstrap_servers: str | None = Field(
        None,
        description="Comma-separated host:port list; default: the local broker "
        "(127.0.0.1:<TRACECODE_BROKER_PORT>).",
    )
    security_protocol: SecurityProtocol = Field(
        SecurityProtocol.PLAINTEXT,
        description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.",
    )
    sasl_mechanism: SaslMechanism | None = Field(
        None, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (SASL protocols only)."
    )
    sasl_username: str | None = Field(None, description="SASL username.")
    sasl_password: SecretStr | None = Field(None, description="SASL password.")
    ssl_ca_location: Path | None = Field(
        None, description="PEM file of CA certificates to trust; default: the system store."
    )


class SchemaRegistrySettings(BaseSettings):
    """Confluent Schema Registry framing of the output topics (opt-in)."""

    model_config = _section_config("SCHEMA_REGISTRY")

    url: str | None = Field(
        None,
        description="Schema Registry URL (http(s)://host:port; mock://name for tests); when "
        "set, every Avro value tracecode writes is in the Confluent wire format, `topics apply` "
        "registers the schemas and readers accept both framings. Unset: single-object only.",
    )
    basic_auth: SecretStr | None = Field(
        None, description="user:password for the registry's HTTP basic authentication."
    )
    ssl_ca_location: Path | None = Field(
        None, description="PEM file of CA certificates to trust for https://; default: system."
    )
    timeout: float = Field(10.0, gt=0, description="Seconds one registry request may take.")


class TopicsSettings(BaseSettings):
    """The tracecode topics (``tracecode topics``)."""

    model_config = _section_config("TOPICS")

    prefix: str = Field(
        "", description="Prepended to every topic name (several deployments on one cluster)."
    )
    partitions: int = Field(
        6, ge=1, description="Partitions of scans, dispatches, status, history and alerts."
    )
    dead_letter_partitions: int = Field(1, ge=1, description="Partitions of the dead letters.")
    replication_factor: int = Field(1, ge=1, description="Replicas of every topic.")
    min_insync_replicas: int = Field(
        1, ge=1, description="Replicas that must have a write before it is acknowledged."
    )
    retention_hours: int = Field(
        168, ge=-1, description="Retention of scans, dispatches, history, alerts; -1: forever."
    )
    dead_letter_retention_hours: int = Field(
        720, ge=-1, description="Retention of the dead letters; -1: forever."
    )
    broker_timestamps: bool = Field(
        False,
        description="The broker stamps scans and dispatches (LogAppendTime): the workers order "
        "live input within one fetch instead of TRACECODE_WORKER_FETCH_MARGIN, but records "
        "published in bulk are ordered by produce batch (docs/architecture.md).",
    )


class SinkSettings(BaseSettings):
    """The ClickHouse sink (``tracecode sink``) and the analyst queries (``tracecode query``)."""

    model_config = _section_config("SINK")

    dsn: str | None = Field(
        None,
        description="ClickHouse target: chdb:///folder (embedded chDB) or http(s)://host:port "
        "(a server); default: chDB in <TRACECODE_DATA_DIR>/clickhouse.",
    )
    database: str = Field("tracecode", description="ClickHouse database of the tables.")
    user: str | None = Field(None, description="ClickHouse user (server targets).")
    password: SecretStr | None = Field(None, description="ClickHouse password (server targets).")
    group_id: str = Field(
        "tracecode-sink", description="Consumer group of the sink, after the topic prefix."
    )
    batch_max_rows: int = Field(
        10_000, ge=1, description="A partition's batch is written once it holds this many rows."
    )
    batch_max_age: float = Field(
        1.0, gt=0, description="...or once its first row has waited this many seconds."
    )
    retry_initial: float = Field(
        0.5, gt=0, description="Seconds before the first retry of a failed insert."
    )
    retry_max: float = Field(
        30.0, gt=0, description="Longest wait between retries (backoff doubles up to it)."
    )
    ttl_days: int = Field(
        0, ge=0, description="Days events, dispatches and alerts are kept; 0: forever."
    )
    manage_schema: bool = Field(
        True,
        description="Apply migrations and TTL at start; false when operators apply "
        "deploy/clickhouse/cluster.sql.",
    )
    query_port: int = Field(
        8124,
        ge=0,
        le=65535,
        description="Read-only query endpoint of a running sink on 127.0.0.1 (embedded "
        "store only); 0: off.",
    )
    metrics_port: int = Field(
        9464,
        ge=0,
        le=65535,
        description="Port of the sink's /metrics, /health and /health/live; 0: off.",
    )
    metrics_host: str = Field(
        "127.0.0.1",
        description="Address the sink's /metrics and /health listen on (0.0.0.0 in a "
        "container, so Prometheus and the probes reach them).",
    )
    unreachable_after: float = Field(
        30.0,
        gt=0,
        description="Seconds of failing ClickHouse calls before the sink's /health reports "
        "it not ready.",
    )
    shutdown_timeout: float = Field(
        30.0, gt=0, description="Seconds a stopping sink keeps trying to write what it holds."
    )
    session_timeout: float = Field(
        45.0,
        ge=6,
        description="Seconds without a heartbeat before a crashed sink's partitions move to "
        "another sink of the group.",
    )


class ProducerSettings(BaseSettings):
    """How events are published (``tracecode simulate``, ``tracecode ingest``)."""

    model_config = _section_config("PRODUCER")

    compression: Compression = Field(
        "zstd", description="Batch compression: none, gzip, snappy, lz4 or zstd."
    )
    linger_ms: float = Field(
        20.0, ge=0, description="Milliseconds a batch may wait for more events before it is sent."
    )
    batch_size: int = Field(1_000_000, ge=1, description="Largest batch per partition, in bytes.")
    queue_max_messages: int = Field(
        200_000, ge=1, description="Events queued locally before sending waits for deliveries."
    )
    delivery_timeout_ms: int = Field(
        120_000,
        ge=1,
        description="Milliseconds an event may take to be acknowledged (retries included) "
        "before it is reported as not delivered.",
    )
    validate_records: bool = Field(
        True, description="Check every record against the validation rules before sending it."
    )


_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"


class WorkerSettings(BaseSettings):
    """A streams worker (``tracecode worker``): the join and its web view."""

    model_config = _section_config("WORKER")

    id: str = Field(
        "worker-1",
        pattern=_NAME,
        description="This worker's name in its group (its static membership and state folder).",
    )
    group: str = Field(
        "tracecode-streams",
        pattern=_NAME,
        description="Consumer group of the workers sharing the partitions, after the topic "
        "prefix; also names the changelog topic and the transactional ids.",
    )
    web_host: str = Field(
        "127.0.0.1",
        description="Host name this worker announces: other workers route table lookups to it.",
    )
    web_bind: str | None = Field(
        None,
        description="Address the web view listens on; default: TRACECODE_WORKER_WEB_HOST "
        "(0.0.0.0 in a container, so probes and Prometheus reach it).",
    )
    web_port: int = Field(6066, ge=1, le=65535, description="Port of this worker's web view.")
    processing_guarantee: ProcessingGuarantee = Field(
        ProcessingGuarantee.EXACTLY_ONCE,
        description="exactly_once (Kafka transactions) or at_least_once.",
    )
    standby_replicas: int = Field(
        0, ge=0, description="Warm copies of each partition's table on other workers."
    )
    commit_interval: float = Field(
        1.0,
        gt=0,
        description="Seconds between commits (offsets, transactions) while catching up on a "
        "backlog.",
    )
    live_commit_interval: float = Field(
        0.1,
        gt=0,
        description="Seconds between commits once caught up with the input; exactly-once "
        "outputs become visible at a commit.",
    )
    fetch_margin: float = Field(
        2.0,
        ge=0,
        description="Seconds after a record's timestamp a fetch of the other input topic must "
        "come to vouch it holds nothing earlier, on producer-stamped input (covers producer "
        "linger and clock skew).",
    )
    broker_clock_skew: float = Field(
        0.05,
        ge=0,
        description="Seconds the clocks of two brokers may differ; on broker-stamped input "
        "(LogAppendTime) a fetch of the other input topic requested this long after a record "
        "arrived vouches it holds nothing earlier.",
    )
    reorder_window: float = Field(
        0.0,
        ge=0,
        description="Seconds by which records of one input partition may be out of timestamp "
        "order, when several producers write the same partitions; above 0 the workers order "
        "each partition by timestamp (live records then wait TRACECODE_WORKER_FETCH_MARGIN).",
    )
    state_cache_size: int = Field(
        4096, ge=0, description="Decoded shipment states kept in memory in front of RocksDB."
    )
    batch_records: int = Field(
        2000,
        ge=1,
        description="Most input records one fetch hands the join at once (a larger batch "
        "costs less per record and holds the worker longer).",
    )
    input_wait: float = Field(
        5.0,
        gt=0,
        description="Seconds a record waits for the other input topic's partition when that "
        "one may hold an earlier record.",
    )
    session_timeout: float = Field(
        30.0,
        ge=6,
        le=90,
        description="Seconds without heartbeat before the group gives a worker's partitions to "
        "the others.",
    )
    transaction_timeout: float = Field(
        300.0,
        ge=1,
        le=900,
        description="Seconds the broker keeps a worker's transaction open (exactly-once): a "
        "worker cut off from the broker longer is fenced and stops. At most the broker's "
        "transaction.max.timeout.ms (15 min by default).",
    )
    stall_hours: float = Field(
        72.0, gt=0, description="In transit with no scan this long: stalled."
    )
    dispatch_sla_hours: float = Field(
        48.0, gt=0, description="Dispatched with no carrier scan this long: SLA breach."
    )
    unknown_code_grace_hours: float = Field(
        24.0, gt=0, description="Scanned but not dispatched this long: unknown code."
    )
    expire_days: float = Field(30.0, gt=0, description="No event this long: tracking expires.")
    forget_days: float = Field(
        90.0,
        ge=0,
        description="No event this long and no rule left to fire: the worker deletes the "
        "shipment's state (its history stays in ClickHouse); 0 keeps every state forever.",
    )
    clone_speed_kmh: float = Field(
        1000.0, gt=0, description="Faster than this between two scans: a suspected clone."
    )
    clone_min_distance_km: float = Field(
        500.0, ge=0, description="Shorter moves are never taken for clones (coordinate noise)."
    )
    max_scans: int = Field(64, ge=2, description="Scans kept per shipment; older ones are folded.")


class WebhooksSettings(BaseSettings):
    """The webhooks service (``tracecode webhooks``): status changes and alerts POSTed out."""

    model_config = _section_config("WEBHOOKS")

    group_prefix: str = Field(
        "tracecode-webhooks",
        pattern=_NAME,
        description="Each subscription's consumer group is <prefix>.<subscription id>, after "
        "the topic prefix.",
    )
    request_timeout: float = Field(
        10.0, gt=0, description="Seconds one POST may take before it counts as failed."
    )
    retry_initial: float = Field(
        1.0, gt=0, description="Seconds before the first retry of a failed delivery."
    )
    retry_max: float = Field(
        3600.0, gt=0, description="Longest wait between two attempts (backoff doubles up to it)."
    )
    horizon: float = Field(
        86_400.0,
        gt=0,
        description="Seconds after an event was emitted that a failing delivery is given up "
        "and dead-lettered.",
    )
    in_flight: int = Field(
        16,
        ge=1,
        le=64,
        description="Events one subscriber may have pending at once (in flight or waiting to "
        "retry); reading pauses at this many.",
    )
    metrics_port: int = Field(
        9465, ge=0, le=65535, description="Port of the webhooks service's /metrics; 0: off."
    )
    metrics_host: str = Field(
        "127.0.0.1", description="Address /metrics listens on (0.0.0.0 in a container)."
    )


class ApiSettings(BaseSettings):
    """The tracking service (``tracecode api``)."""

    model_config = _section_config("API")

    host: str = Field("127.0.0.1", description="Address the tracking service listens on.")
    port: int = Field(8080, ge=1, le=65535, description="Port of the tracking service.")
    token: SecretStr | None = Field(
        None,
        description="Bearer token of the support endpoints (/v1/shipments/...), at least 16 "
        "characters; unset: those endpoints answer 503.",
    )
    worker_urls: str = Field(
        "",
        description="Comma-separated worker web views to ask for live state (any worker routes "
        "a code to its owner); empty: the workers running on this machine, else "
        "TRACECODE_WORKER_WEB_HOST:TRACECODE_WORKER_WEB_PORT.",
    )
    clickhouse_user: str | None = Field(
        None,
        description="ClickHouse user the service reads history as (a server only); default: "
        "TRACECODE_SINK_USER.",
    )
    clickhouse_password: SecretStr | None = Field(
        None, description="Its password; default: TRACECODE_SINK_PASSWORD."
    )
    rate_limit: str = Field(
        "60/minute",
        description="Requests one client may make to the public endpoints (e.g. 60/minute, "
        "5/second); beyond it: 429 with Retry-After.",
    )
    max_body_bytes: int = Field(16_384, ge=1, description="Largest request body accepted (413).")
    cors_origins: str = Field(
        "",
        description="Comma-separated origins whose pages may call the API from a browser; "
        "empty: none.",
    )


class Settings(BaseSettings):
    """All tracecode settings."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=ENV_FILE, extra="ignore", frozen=True
    )

    data_dir: Path = Field(
        Path("~/.local/share/tracecode"),
        description="Data folder: local Kafka data, chDB data, worker state.",
    )
    cache_dir: Path = Field(
        Path("~/.cache/tracecode"), description="Cache folder: the Kafka jars Maven resolves."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "WARNING", description="Least severe log level written to stderr."
    )
    log_format: Literal["logfmt", "json"] = Field(
        "logfmt", description="Log line format: logfmt for people, json for log shippers."
    )

    broker: BrokerSettings = Field(default_factory=BrokerSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    schema_registry: SchemaRegistrySettings = Field(default_factory=SchemaRegistrySettings)
    topics: TopicsSettings = Field(default_factory=TopicsSettings)
    producer: ProducerSettings = Field(default_factory=ProducerSettings)
    sink: SinkSettings = Field(default_factory=SinkSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    webhooks: WebhooksSettings = Field(default_factory=WebhooksSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)

    @field_validator("data_dir", "cache_dir")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_components(self) -> Settings:
        # Build each component config once so a bad combination fails at load time.
        self.kafka_connection()
        self.schema_registry_connection()
        self.topics_config()
        self.producer_config()
        self.sink_config()
        self.worker_config()
        self.webhooks_config()
        self.api_config(())
        return self

    def kafka_connection(self) -> KafkaConnection:
        """The Kafka connection every component receives."""
        password = self.kafka.sasl_password
        try:
            return KafkaConnection(
                bootstrap_servers=self.kafka.bootstrap_servers or f"127.0.0.1:{self.broker.port}",
                security_protocol=self.kafka.security_protocol,
                sasl_mechanism=self.kafka.sasl_mechanism,
                sasl_username=self.kafka.sasl_username,
                sasl_password=password.get_secret_value() if password else None,
                ssl_ca_location=str(self.kafka.ssl_ca_location)
                if self.kafka.ssl_ca_location
                else None,
            )
        except ValueError as error:
            raise ValueError(f"Kafka settings (TRACECODE_KAFKA_*): {error}") from error

    def schema_registry_connection(self) -> SchemaRegistryConnection | None:
        """The Schema Registry every component uses, or ``None`` (single-object framing)."""
        registry = self.schema_registry
        if not registry.url:
            return None
        auth = registry.basic_auth
        try:
            return SchemaRegistryConnection(
                url=registry.url,
                basic_auth_user_info=auth.get_secret_value() if auth else None,
                ssl_ca_location=str(registry.ssl_ca_location) if registry.ssl_ca_location else None,
                timeout_s=registry.timeout,
            )
        except ValueError as error:
            raise ValueError(
                f"schema registry settings (TRACECODE_SCHEMA_REGISTRY_*): {error}"
            ) from error

    def broker_config(self) -> BrokerConfig:
        """The local broker's config."""
        return BrokerConfig(
            data_dir=self.data_dir / "kafka",
            cache_dir=self.cache_dir / "kafka",
            port=self.broker.port,
            controller_port=self.broker.controller_port or self.broker.port + 1,
            heap=self.broker.heap,
            start_timeout=self.broker.start_timeout,
            stop_timeout=self.broker.stop_timeout,
        )

    def producer_config(self, client_id: str = "tracecode-producer") -> ProducerConfig:
        """The producer's config (``client_id`` names the publishing command in broker logs)."""
        try:
            return ProducerConfig(
                connection=self.kafka_connection(),
                topics=self.topic_names(),
                schema_registry=self.schema_registry_connection(),
                client_id=client_id,
                compression=self.producer.compression,
                linger_ms=self.producer.linger_ms,
                batch_size=self.producer.batch_size,
                queue_max_messages=self.producer.queue_max_messages,
                delivery_timeout_ms=self.producer.delivery_timeout_ms,
                validate=self.producer.validate_records,
            )
        except ValueError as error:
            raise ValueError(f"producer settings (TRACECODE_PRODUCER_*): {error}") from error

    def topic_names(self) -> TopicNames:
        """The topic names, with the configured prefix."""
        return TopicNames().with_prefix(self.topics.prefix)

    def topics_config(self) -> TopicsConfig:
        """Sizing and retention of the topics."""
        try:
            return TopicsConfig(
                partitions=self.topics.partitions,
                dead_letter_partitions=self.topics.dead_letter_partitions,
                replication_factor=self.topics.replication_factor,
                min_insync_replicas=self.topics.min_insync_replicas,
                retention_hours=self.topics.retention_hours,
                dead_letter_retention_hours=self.topics.dead_letter_retention_hours,
                broker_timestamps=self.topics.broker_timestamps,
            )
        except ValueError as error:
            raise ValueError(f"topic settings (TRACECODE_TOPICS_*): {error}") from error

    def clickhouse_target(self) -> ClickHouseTarget:
        """Where the sink writes and the queries read."""
        password = self.sink.password
        try:
            return ClickHouseTarget(
                dsn=self.sink.dsn or f"chdb://{self.data_dir / 'clickhouse'}",
                database=self.sink.database,
                username=self.sink.user,
                password=password.get_secret_value() if password else None,
            )
        except ValueError as error:
            raise ValueError(f"sink settings (TRACECODE_SINK_*): {error}") from error

    def sink_config(self) -> SinkConfig:
        """The sink's config."""
        try:
            return SinkConfig(
                kafka=self.kafka_connection(),
                schema_registry=self.schema_registry_connection(),
                topics=self.topic_names(),
                clickhouse=self.clickhouse_target(),
                # Like the workers' group: deployments sharing a cluster by topic prefix must
                # not share a consumer group.
                group_id=self.topics.prefix + self.sink.group_id,
                batch_max_rows=self.sink.batch_max_rows,
                batch_max_age=self.sink.batch_max_age,
                retry=RetryPolicy(initial=self.sink.retry_initial, maximum=self.sink.retry_max),
                ttl_days=self.sink.ttl_days,
                manage_schema=self.sink.manage_schema,
                query_port=self.sink.query_port or None,
                metrics_port=self.sink.metrics_port or None,
                metrics_host=self.sink.metrics_host,
                unreachable_after=self.sink.unreachable_after,
                session_timeout=self.sink.session_timeout,
                shutdown_timeout=self.sink.shutdown_timeout,
            )
        except ValueError as error:
            raise ValueError(f"sink settings (TRACECODE_SINK_*): {error}") from error

    def webhooks_config(self) -> WebhooksConfig:
        """The webhooks service's config."""
        hooks = self.webhooks
        try:
            return WebhooksConfig(
                kafka=self.kafka_connection(),
                schema_registry=self.schema_registry_connection(),
                topics=self.topic_names(),
                group_prefix=self.topics.prefix + hooks.group_prefix,
                request_timeout=hooks.request_timeout,
                backoff=Backoff(initial=hooks.retry_initial, maximum=hooks.retry_max),
                horizon=hooks.horizon,
                in_flight=hooks.in_flight,
                metrics_port=hooks.metrics_port or None,
                metrics_host=hooks.metrics_host,
            )
        except ValueError as error:
            raise ValueError(f"webhooks settings (TRACECODE_WEBHOOKS_*): {error}") from error

    def api_config(
        self, web_urls: Sequence[str], host: str | None = None, port: int | None = None
    ) -> ApiConfig:
        """The tracking service's config; ``web_urls`` are the workers found running (the CLI
        finds them; TRACECODE_API_WORKER_URLS wins), ``host`` and ``port`` override the
        settings."""
        sink = self.sink_config()
        target = sink.clickhouse
        if target.embedded:
            # chDB lives in the sink's process: the service reads through its query endpoint.
            url = f"http://127.0.0.1:{sink.query_port}" if sink.query_port else None
            username, password = None, None
        else:
            url = target.dsn
            api_password = self.api.clickhouse_password
            username = self.api.clickhouse_user or target.username
            password = api_password.get_secret_value() if api_password else target.password
        token = self.api.token
        try:
            configured = tuple(u.strip() for u in self.api.worker_urls.split(",") if u.strip())
            return ApiConfig(
                web_urls=configured or tuple(web_urls) or (self.worker_config().web_url,),
                history=None
                if url is None
                else HistoryTarget(url, target.database, username, password),
                token=token.get_secret_value() if token else None,
                host=host or self.api.host,
                port=port or self.api.port,
                rate_limit=self.api.rate_limit,
                max_body_bytes=self.api.max_body_bytes,
                cors_origins=tuple(
                    origin.strip() for origin in self.api.cors_origins.split(",") if origin.strip()
                ),
            )
        except ValueError as error:
            raise ValueError(f"tracking service settings (TRACECODE_API_*): {error}") from error

    def worker_config(
        self, worker_id: str | None = None, web_port: int | None = None
    ) -> WorkerConfig:
        """A streams worker's config; ``worker_id`` and ``web_port`` override the settings."""
        worker = self.worker
        worker_id = worker_id or worker.id
        group = self.topics.prefix + worker.group
        rules = Rules(
            max_scans=worker.max_scans,
            clone_speed_kmh=worker.clone_speed_kmh,
            clone_min_distance_km=worker.clone_min_distance_km,
            stall_after=timedelta(hours=worker.stall_hours),
            dispatch_sla=timedelta(hours=worker.dispatch_sla_hours),
            unknown_code_grace=timedelta(hours=worker.unknown_code_grace_hours),
            expire_after=timedelta(days=worker.expire_days),
            forget_after=timedelta(days=worker.forget_days) if worker.forget_days else None,
        )
        try:
            return WorkerConfig(
                kafka=self.kafka_connection(),
                schema_registry=self.schema_registry_connection(),
                topics=self.topic_names(),
                state_dir=self.data_dir / "streams" / group / worker_id,
                partitions=self.topics.partitions,
                rules=rules,
                app_id=group,
                worker_id=worker_id,
                web_host=worker.web_host,
                web_bind=worker.web_bind or worker.web_host,
                web_port=web_port or worker.web_port,
                processing_guarantee=worker.processing_guarantee,
                standby_replicas=worker.standby_replicas,
                replication_factor=self.topics.replication_factor,
                commit_interval_s=worker.commit_interval,
                live_commit_interval_s=min(worker.live_commit_interval, worker.commit_interval),
                fetch_margin_s=worker.fetch_margin,
                broker_clock_skew_s=worker.broker_clock_skew,
                reorder_window_s=worker.reorder_window,
                state_cache_size=worker.state_cache_size,
                batch_records=worker.batch_records,
                input_wait_s=worker.input_wait,
                session_timeout_s=worker.session_timeout,
                transaction_timeout_s=worker.transaction_timeout,
            )
        except ValueError as error:
            raise ValueError(f"worker settings (TRACECODE_WORKER_*): {error}") from error


def load_settings() -> Settings:
    """Read the settings; a bad value raises :class:`SettingsError` naming the variable."""
    try:
        return Settings()
    except ValidationError as error:
        # Sections are built by default factories, so the error may come from a section model.
        prefix = _section_prefixes().get(error.title, ENV_PREFIX)
        problems = [_describe_error(prefix, e) for e in error.errors()]
        raise SettingsError(
            "invalid settings:\n  " + "\n  ".join(problems),
            hint="fix the environment variables (or .env) named above; "
            "`tracecode config` lists every setting",
        ) from None


def _section_prefixes() -> dict[str, str]:
    prefixes = {Settings.__name__: ENV_PREFIX}
    for info in Settings.model_fields.values():
        section = info.annotation
        if isinstance(section, type) and issubclass(section, BaseSettings):
            prefixes[section.__name__] = str(section.model_config.get("env_prefix", ""))
    return prefixes


def _describe_error(prefix: str, error: Any) -> str:
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    location = "_".join(str(part) for part in error.get("loc", ())).upper()
    if not location:
        return message
    return f"{prefix}{location}={error.get('input')!r}: {message}"


@dataclass(frozen=True, slots=True)
class SettingRow:
    """One setting as ``tracecode config`` shows it."""

    env_var: str
    value: str
    description: str


def describe_settings(settings: Settings) -> list[SettingRow]:
    """Every setting with its environment variable and effective value, secrets masked."""
    rows: list[SettingRow] = []

    def add(model: BaseSettings, prefix: str) -> None:
        for name, info in type(model).model_fields.items():
            value = getattr(model, name)
            if isinstance(value, BaseSettings):
                continue
            if isinstance(value, SecretStr):
                shown = "********"
            elif value is None:
                shown = ""
            else:
                shown = str(value)
            rows.append(SettingRow(f"{prefix}{name.upper()}", shown, info.description or ""))

    add(settings, ENV_PREFIX)
    for name in Settings.model_fields:
        section = getattr(settings, name)
        if isinstance(section, BaseSettings):
            add(section, section.model_config.get("env_prefix", ""))
    return rows
