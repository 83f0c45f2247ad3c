"""Writing one sealed batch: intent, insert with its deduplication token, done."""

from __future__ import annotations

import time
from functools import cache

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from schemas.codec import MARKER, RecordType, codec_for
from schemas.errors import CodecError
from schemas.registry import default_registry
from sinks.avro import container, envelope, envelope_schema
from sinks.batching import Batch
from sinks.clickhouse import INSERT_SETTINGS
from sinks.config import FaultHook, FaultPoint
from sinks.metrics import SinkMetrics
from sinks.tables import Table

AVRO_SETTINGS = {
    **INSERT_SETTINGS,
    # A record of an older release lacks the fields added since: they take their defaults.
    "input_format_avro_allow_missing_fields": 1,
}


class UndecodableRecordError(Exception):
    """A record of a batch cannot be decoded: the batch can never be written as it is."""

    def __init__(self, batch: Batch, offset: int, error: CodecError) -> None:
        super().__init__(f"{batch.topic}[{batch.partition}] offset {offset}: {error}")
        self.batch = batch
        self.offset = offset
        self.error = error


@cache
def known_headers(record_type: RecordType) -> frozenset[bytes]:
    """Single-object headers of every released writer schema of ``record_type``."""
    return frozenset(MARKER + v.fingerprint for v in default_registry().versions(record_type))


@cache
def _schema_for(header: bytes) -> str:
    version = default_registry().by_fingerprint(header[len(MARKER) :])
    assert version is not None, "headers are checked when records are taken"
    return envelope_schema(version.canonical_form)


class BatchWriter:
    """Inserts batches so that inserting one twice stores its rows once."""

    def __init__(
        self, client: Client, metrics: SinkMetrics, fault_hook: FaultHook | None = None
    ) -> None:
        self._client = client
        self._metrics = metrics
        self._fault_hook = fault_hook

    def write(self, batch: Batch, table: Table) -> None:
        """Insert ``batch`` into ``table``; any exception means it may or may not be stored.

        The batch's intent must be in the ledger first. A retry must pass the very same batch:
        its token then makes ClickHouse drop a block that did land, in the table and in every
        materialized view fed by it. Raises :class:`UndecodableRecordError` when ClickHouse
        rejects the batch because a record in it does not decode.
        """
        started = time.perf_counter()
        self._fault(FaultPoint.BEFORE_INSERT, batch)
        if batch.rows:
            data = self._container(batch, table.record_type)
            try:
                self._client.raw_insert(
                    table.staging,
                    insert_block=data,
                    fmt="Avro",
                    settings={**AVRO_SETTINGS, "insert_deduplication_token": batch.token},
                )
            except DatabaseError as error:
                if not isinstance(error, OperationalError):  # not a transport failure
                    _check_decodes(batch, table.record_type)
                raise
        self._fault(FaultPoint.AFTER_INSERT, batch)
        self._metrics.insert_seconds.labels(table.name).observe(time.perf_counter() - started)
        self._metrics.rows_inserted.labels(table.name).inc(len(batch.rows))
        kind = "recovered" if batch.recovered else "new"
        self._metrics.batches.labels(table.name, kind).inc()

    def _container(self, batch: Batch, record_type: RecordType) -> bytes:
        partition = batch.partition
        headers = {header for _, header, _ in batch.rows}
        if len(headers) == 1:
            bodies = [envelope(partition, offset, body) for offset, _, body in batch.rows]
            return container(_schema_for(headers.pop()), bodies)
        # Writers of several releases in one batch (during an upgrade): resolve every record
        # into the current schema, as the codec reads it, so one container holds them all.
        codec = codec_for(record_type)
        current = MARKER + codec.fingerprint
        bodies = [
            envelope(
                partition,
                offset,
                body if header == current else codec.encode(codec.decode(header + body))[10:],
            )
            for offset, header, body in batch.rows
        ]
        return container(_schema_for(current), bodies)

    def _fault(self, point: FaultPoint, batch: Batch) -> None:
        if self._fault_hook is not None:
            self._fault_hook(point, batch)


def _check_decodes(batch: Batch, record_type: RecordType) -> None:
    codec = codec_for(record_type)
    for offset, header, body in batch.rows:
        try:
            codec.decode(header + body)
        except CodecError as error:
            raise UndecodableRecordError(batch, offset, error) from None
