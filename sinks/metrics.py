"""The sink's Prometheus metrics, served on ``/metrics`` (:mod:`sinks.monitoring`).

Each :class:`SinkMetrics` has its own registry, so several sinks in one process (tests) keep
their figures apart.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class SinkMetrics:
    """Counters and gauges of one sink."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.rows_inserted = Counter(
            "tracecode_sink_rows_inserted",
            "Rows ClickHouse acknowledged, by table (a deduplicated retry counts again).",
            ["table"],
            registry=r,
        )
        self.batches = Counter(
            "tracecode_sink_batches",
            "Batches stored, by table; recovered: rebuilt from a pending intent at start-up.",
            ["table", "kind"],
            registry=r,
        )
        self.retries = Counter(
            "tracecode_sink_insert_retries",
            "Failed batch writes that will be retried, by table.",
            ["table"],
            registry=r,
        )
        self.insert_seconds = Histogram(
            "tracecode_sink_insert_seconds",
            "Duration of one batch write (intent, insert, done), by table.",
            ["table"],
            registry=r,
        )
        self.skipped = Counter(
            "tracecode_sink_records_skipped",
            "Records at or below a stored batch (replays), not written again, by topic.",
            ["topic"],
            registry=r,
        )
        self.undecodable = Counter(
            "tracecode_sink_undecodable_records",
            "Records that could not be decoded or mapped to a row; each halts its partition.",
            ["topic"],
            registry=r,
        )
        self.lag = Gauge(
            "tracecode_sink_consumer_lag",
            "Records in the partition after the last one stored.",
            ["topic", "partition"],
            registry=r,
        )
        self.pending_rows = Gauge(
            "tracecode_sink_pending_rows",
            "Rows buffered and not yet stored, by table.",
            ["table"],
            registry=r,
        )
        self.paused = Gauge(
            "tracecode_sink_partitions_paused",
            "Assigned partitions not being fetched (retrying a write, loading state, halted).",
            registry=r,
        )
        self.halted = Gauge(
            "tracecode_sink_partition_halted",
            "1 while a partition is stopped at an undecodable record.",
            ["topic", "partition"],
            registry=r,
        )
