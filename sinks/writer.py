"""Writing one sealed batch: intent, insert with its deduplication token, done."""

from __future__ import annotations

import time

from clickhouse_connect.driver.client import Client

from sinks.batching import Batch, BatchStatus
from sinks.clickhouse import INSERT_SETTINGS
from sinks.config import FaultHook, FaultPoint
from sinks.metrics import SinkMetrics
from sinks.rows import Table
from sinks.state import BatchLedger


class BatchWriter:
    """Stores batches so that writing one twice stores its rows once."""

    def __init__(
        self,
        client: Client,
        ledger: BatchLedger,
        metrics: SinkMetrics,
        fault_hook: FaultHook | None = None,
    ) -> None:
        self._client = client
        self._ledger = ledger
        self._metrics = metrics
        self._fault_hook = fault_hook

    def write(self, batch: Batch, table: Table) -> None:
        """Store ``batch`` in ``table``; any exception means it may or may not be stored.

        A retry must pass the very same batch: its token then makes ClickHouse drop a block
        that did land, in the table and in every materialized view fed by it.
        """
        started = time.perf_counter()
        if not batch.recovered:
            self._ledger.record(batch, BatchStatus.PENDING)
        self._fault(FaultPoint.BEFORE_INSERT, batch)
        if batch.rows:
            self._client.insert(
                table.name,
                list(batch.rows),
                column_names=table.columns,
                settings={**INSERT_SETTINGS, "insert_deduplication_token": batch.token},
            )
        self._fault(FaultPoint.AFTER_INSERT, batch)
        self._ledger.record(batch, BatchStatus.DONE)
        self._metrics.insert_seconds.labels(table.name).observe(time.perf_counter() - started)
        self._metrics.rows_inserted.labels(table.name).inc(len(batch.rows))
        kind = "recovered" if batch.recovered else "new"
        self._metrics.batches.labels(table.name, kind).inc()

    def _fault(self, point: FaultPoint, batch: Batch) -> None:
        if self._fault_hook is not None:
            self._fault_hook(point, batch)
