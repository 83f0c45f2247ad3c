"""The sink service: Kafka output topics -> ClickHouse, exactly once.

One thread runs the loop: poll records, add them to their partition's buffer, write the
batches that are due, commit. A failed write pauses its partition and is retried with
exponential backoff while the loop keeps polling (so the group membership stays alive and the
other partitions keep flowing); a batch is never skipped. docs/sink.md explains the design.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from schemas.codec import codec_for
from schemas.errors import CodecError
from schemas.framing import Framing
from sinks.batching import Admission, Batch, PartitionBuffer
from sinks.clickhouse import connect, ensure_database
from sinks.config import ClickHouseTarget, SinkConfig
from sinks.endpoint import QueryEndpoint
from sinks.health import HealthFacts, SinkHealth
from sinks.metrics import SinkMetrics
from sinks.migrations import migrate, verify
from sinks.monitoring import serve
from sinks.rounds import RoundWriter
from sinks.state import BatchLedger
from sinks.tables import Table, tables
from sinks.writer import BatchWriter, UndecodableRecordError, known_headers

log = logging.getLogger(__name__)

TP = tuple[str, int]
_LAG_INTERVAL = 1.0
_CONSUME_BATCH = 1000
_PROBE_INTERVAL = 10.0
"""Seconds without a ClickHouse call after which an idle sink checks that ClickHouse answers."""
_HEADER = 10
"""Bytes of the single-object header: marker and writer fingerprint."""


@dataclass(slots=True)
class _Partition:
    table: Table
    headers: frozenset[bytes]
    """Single-object headers of the writer schemas this sink can store."""
    buffer: PartitionBuffer | None = None
    """None until the partition's ledger state is loaded."""
    attempts: int = 0
    retry_at: float = 0.0
    halted: bool = False
    """Stopped taking records at an undecodable one."""
    halt_reason: str = ""
    stuck: bool = False
    """Stopped writing: a batch holds a record ClickHouse cannot decode."""
    paused: bool = False
    intent: bool = False
    """The intent of the partition's next batch is recorded in the ledger."""
    end: int = -1
    """End offset of the partition when the consumer last reached it."""
    committed_end: int = -1
    """The last end offset committed past the records (see ``Sink._settle``)."""
    early: list[Message] = field(default_factory=list)
    """Records delivered before the ledger state was loaded (before the pause took effect):
    taken once it is."""


class Sink:
    """Consumes the history, status and alerts topics into ClickHouse until :meth:`stop`."""

    def __init__(self, config: SinkConfig, metrics: SinkMetrics | None = None) -> None:
        self.config = config
        self.metrics = metrics or SinkMetrics()
        self.health = SinkHealth(config.unreachable_after)
        self._tables = tables(config.topics)
        self._framing = (
            None
            if config.schema_registry is None
            else Framing(config.schema_registry, config.topics)
        )
        self._partitions: dict[TP, _Partition] = {}
        self._stop = threading.Event()
        self._positions: dict[TP, int] = {}
        self._positions_lock = threading.Lock()
        self._consumer: Consumer | None = None
        self._ledger: BatchLedger | None = None
        self._rounds: RoundWriter | None = None
        self._mark_failures = 0
        self._marks_retry_at = 0.0
        self._next_lag_update = 0.0
        self._assigned = False
        self._failing_since: float | None = None
        self._failing_error: str | None = None
        self._last_call = 0.0
        """Monotonic time ClickHouse last answered or failed a call."""
        self.running = threading.Event()
        """Set once the schema is migrated and the consumer subscribed."""
        self.query_port: int | None = None
        """Port the query endpoint listens on, once running (embedded target only)."""
        self.metrics_port: int | None = None

    def stop(self) -> None:
        """Ask the loop to finish: what is buffered is written, then the sink returns."""
        self._stop.set()

    def positions(self) -> dict[TP, int]:
        """Per assigned partition, the offset after the last record stored or skipped."""
        with self._positions_lock:
            return dict(self._positions)

    def run(self) -> None:
        """Migrate, serve the endpoints, consume until :meth:`stop`, then shut down cleanly."""
        target = self.config.clickhouse
        servers: list[Any] = []
        if self.config.metrics_port is not None:
            # First, so probes see the start-up (a migration can take a while).
            monitoring = serve(
                self.metrics, self.health, self.config.metrics_port, self.config.metrics_host
            )
            servers.append(monitoring)
            self.metrics_port = monitoring.server_port
        try:
            self._serve(target, servers)
        finally:
            for server in servers:
                server.shutdown()
                server.server_close()
            self.running.clear()

    def _serve(self, target: ClickHouseTarget, servers: list[Any]) -> None:
        if self.config.manage_schema:
            ensure_database(target)
        client = connect(target)
        try:
            if self.config.manage_schema:
                version = migrate(client, self.config.ttl_days).current_version
            else:
                version = verify(client)
            log.info("schema ready", extra={"target": target.describe(), "schema_version": version})
            self._ledger = BatchLedger(client)
            writer = BatchWriter(client, self.metrics, self.config.fault_hook)
            self._rounds = RoundWriter(self._ledger, writer, self._tables, self.config.fault_hook)
            self._last_call = time.monotonic()
            if target.embedded and self.config.query_port is not None:
                endpoint = QueryEndpoint(target, self.config.query_port)
                endpoint.start()
                servers.append(endpoint)
                self.query_port = endpoint.port
            self._consume()
        finally:
            if self._rounds is not None:
                self._rounds.close()
            client.close()

    def _consume(self) -> None:
        consumer = Consumer(
            {
                **self.config.kafka.librdkafka_config(),
                "group.id": self.config.group_id,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                # The worker writes in transactions: store only committed output.
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
                "session.timeout.ms": int(self.config.session_timeout * 1000),
            },
            logger=log,
        )
        self._consumer = consumer
        consumer.subscribe(
            list(self._tables),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        log.info(
            "sink consuming",
            extra={"topics": ",".join(self._tables), "group": self.config.group_id},
        )
        self.running.set()
        rounds = self._rounds
        assert rounds is not None
        try:
            while not self._stop.is_set():
                # While a round is written, poll briefly so its outcome is taken up soon.
                timeout = 0.01 if rounds.busy else self.config.poll_timeout
                messages = consumer.consume(_CONSUME_BATCH, timeout)
                now = time.monotonic()
                for message in messages:
                    self._take(message, now)
                self._finish_round(wait=False)
                if not rounds.busy:
                    self._load_states(now)
                    self._start_round(now)
                if not rounds.busy:
                    self._probe(now)
                self._update_gauges(now)
                self._publish_health(now)
            self._finish_round(wait=True)
            self._drain()
        finally:
            consumer.close()
            self._consumer = None

    # -- records ---------------------------------------------------------------------------

    def _take(self, message: Message, now: float) -> None:
        failure = message.error()
        if failure is not None and failure.code() != KafkaError._PARTITION_EOF:
            if failure.fatal():
                raise KafkaException(failure)
            log.warning("consumer error", extra={"error": str(failure)})
            return
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        assert topic is not None and partition is not None and offset is not None
        state = self._partitions.get((topic, partition))
        if state is None:
            return  # fetched before a revocation: not ours any more
        if state.buffer is None:
            state.early.append(message)
            return
        if failure is not None:  # the end of the partition
            state.end = offset
            state.buffer.reached_end(offset)
            self._settle((topic, partition), state)
            return
        if state.halted:
            return
        buffer = state.buffer
        if offset < buffer.next_offset:
            self.metrics.skipped.labels(topic).inc()
            return
        value = message.value() or b""
        if self._framing is not None:
            try:
                value = self._framing.single_object(value)
            except CodecError as error:
                self._halt(topic, partition, offset, state, error)
                return
        header = value[:_HEADER]
        if header not in state.headers:
            self._halt(topic, partition, offset, state, _decode_error(state.table, value))
            return
        # Not decoded here: ClickHouse reads the Avro bodies (sinks/avro.py).
        if buffer.offer(offset, (offset, header, value[_HEADER:]), now) is Admission.SKIPPED:
            self.metrics.skipped.labels(topic).inc()

    def _halt(
        self, topic: str, partition: int, offset: int, state: _Partition, error: Exception
    ) -> None:
        # The worker dead-letters bad input, so an unreadable output record is a bug or a newer
        # writer: stop here, keep the records before it, and lose nothing after it.
        assert state.buffer is not None
        state.buffer.seal()
        state.halted = True
        state.halt_reason = (
            f"{topic}[{partition}] halted at offset {offset}: {type(error).__name__}: {error}"
        )
        self._pause((topic, partition), state)
        self.metrics.undecodable.labels(topic).inc()
        self.metrics.halted.labels(topic, str(partition)).set(1)
        log.error(
            "undecodable record: partition halted",
            extra={
                "topic": topic,
                "partition": partition,
                "offset": offset,
                "error": f"{type(error).__name__}: {error}",
                "hint": "upgrade the sink if a newer worker wrote it; to drop the record "
                "instead, see docs/sink.md (Failures)",
            },
        )

    # -- writing ---------------------------------------------------------------------------

    def _start_round(
        self, now: float, *, seal_all: bool = False, only: set[TP] | None = None
    ) -> None:
        """Start a round with the next batch of every partition that has one ready."""
        assert self._rounds is not None
        ready: list[tuple[TP, Batch]] = []
        for tp, state in self._partitions.items():
            buffer = state.buffer
            if buffer is None or (only is not None and tp not in only):
                continue
            if seal_all or buffer.due(now):
                buffer.seal()
            batch = buffer.next_batch()
            if batch is not None and not state.stuck and now >= state.retry_at:
                ready.append((tp, batch))
        if not ready and now < self._marks_retry_at:
            return  # only done marks to record, and the ledger failed a moment ago
        intents = [
            batch for tp, batch in ready if not (self._partitions[tp].intent or batch.recovered)
        ]
        self._rounds.start(ready, intents)

    def _finish_round(self, *, wait: bool) -> bool:
        """Take up the outcome of the round in flight, if it is over (or ``wait``); False when
        a write of it failed."""
        assert self._rounds is not None
        round_ = self._rounds.finish(wait=wait)
        if round_ is None:
            return True
        now = time.monotonic()
        for tp, batch in round_.batches:
            state = self._partitions.get(tp)
            if state is None or state.buffer is None or state.buffer.next_batch() is not batch:
                continue  # lost meanwhile: the next owner goes by the ledger
            error = round_.ledger_error or round_.errors.get(tp)
            if round_.ledger_error is None:
                state.intent = True
            if error is None:
                self._stored(tp, state, batch)
            elif isinstance(error, UndecodableRecordError):
                # Retrying cannot help: the batch stays pending until the sink can read it.
                state.stuck = True
                self._halt(tp[0], tp[1], error.offset, state, error.error)
            else:  # any failure: the batch is retried, never skipped
                self._retry_later(tp, state, batch, now, error)
        failure = round_.ledger_error or next(
            (e for e in round_.errors.values() if not isinstance(e, UndecodableRecordError)), None
        )
        self._clickhouse_called(now, failure)
        if round_.ledger_error is None:
            self._mark_failures, self._marks_retry_at = 0, 0.0
        else:
            self._mark_failures += 1
            self._marks_retry_at = now + self.config.retry.delay(self._mark_failures)
            log.warning("cannot write the batch ledger", extra={"error": str(round_.ledger_error)})
        return round_.ledger_error is None and not round_.errors

    def _write_now(self, only: set[TP] | None = None) -> tuple[bool, bool]:
        """One round, waited for: (nothing left to write but stuck batches, round went well)."""
        assert self._rounds is not None
        self._finish_round(wait=True)
        self._start_round(time.monotonic(), seal_all=True, only=only)
        went_well = self._finish_round(wait=True)
        done = not self._rounds.marks_pending and not any(
            state.buffer is not None and not state.stuck and state.buffer.next_batch() is not None
            for tp, state in self._partitions.items()
            if only is None or tp in only
        )
        return done, went_well

    def _stored(self, tp: TP, state: _Partition, batch: Batch) -> None:
        assert state.buffer is not None
        assert self._rounds is not None
        state.buffer.stored(batch)
        state.intent = False
        self._rounds.stored(batch)
        self._commit(tp, batch.next_offset, asynchronous=True)
        self._settle(tp, state)
        if state.attempts:
            log.info(
                "batch written after retries",
                extra={"batch": batch.token, "attempts": state.attempts + 1},
            )
        state.attempts = 0
        state.retry_at = 0.0
        if state.buffer.next_batch() is None and state.paused and not state.halted:
            self._resume(tp, state)

    def _retry_later(
        self, tp: TP, state: _Partition, batch: Batch, now: float, error: Exception
    ) -> None:
        state.attempts += 1
        delay = self.config.retry.delay(state.attempts)
        state.retry_at = now + delay
        self._pause(tp, state)
        self.metrics.retries.labels(state.table.name).inc()
        log.warning(
            "batch write failed, retrying",
            extra={
                "batch": batch.token,
                "table": state.table.name,
                "attempt": state.attempts,
                "retry_in": round(delay, 3),
                "error": f"{type(error).__name__}: {error}",
            },
        )

    def _drain(self) -> None:
        """On shutdown: write everything buffered, retrying until the shutdown timeout."""
        deadline = time.monotonic() + self.config.shutdown_timeout
        failures = 0
        while True:
            done, went_well = self._write_now()
            if done:
                return
            failures = 0 if went_well else failures + 1
            now = time.monotonic()
            if now >= deadline:
                left = sum(
                    s.buffer.pending_rows for s in self._partitions.values() if s.buffer is not None
                )
                log.error(
                    "shutdown timeout: rows not written will be read again at the next start",
                    extra={"rows": left},
                )
                return
            wake = min(
                (s.retry_at for s in self._partitions.values() if s.retry_at > now),
                default=now + (self.config.retry.delay(failures) if failures else 0.0),
            )
            time.sleep(max(0.0, min(wake, deadline) - now))

    def _commit(self, tp: TP, next_offset: int, *, asynchronous: bool) -> None:
        # The ledger, not the group's offset, decides what is stored: a lost commit only
        # means records are read again and skipped.
        assert self._consumer is not None
        offsets = [TopicPartition(tp[0], tp[1], next_offset)]
        try:
            if asynchronous:
                self._consumer.commit(offsets=offsets, asynchronous=True)
            else:
                self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as error:
            log.warning(
                "offset commit failed",
                extra={"partition": f"{tp[0]}[{tp[1]}]", "error": str(error)},
            )

    # -- partitions ------------------------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        consumer.assign(partitions)
        self._assigned = True
        for tp in partitions:
            table = self._tables[tp.topic]
            state = _Partition(table, known_headers(table.record_type))
            self._partitions[(tp.topic, tp.partition)] = state
        # Nothing is read before the partition's ledger state is known.
        consumer.pause(partitions)
        for state in self._partitions.values():
            if state.buffer is None:
                state.paused = True
        log.info("partitions assigned", extra={"partitions": _names(partitions)})

    def _load_states(self, now: float) -> None:
        waiting = [
            tp for tp, s in self._partitions.items() if s.buffer is None and now >= s.retry_at
        ]
        if not waiting:
            return
        assert self._ledger is not None
        try:
            states = self._ledger.load(waiting)
        except Exception as error:  # ClickHouse unreachable: keep the partitions paused
            self._clickhouse_called(now, error)
            for tp in waiting:
                part = self._partitions[tp]
                part.attempts += 1
                part.retry_at = now + self.config.retry.delay(part.attempts)
            log.warning("cannot read the batch ledger, retrying", extra={"error": str(error)})
            return
        self._clickhouse_called(now, None)
        for tp in waiting:
            part = self._partitions[tp]
            known = states.get(tp)
            part.buffer = PartitionBuffer(
                tp[0], tp[1], self.config.batch_max_rows, self.config.batch_max_age, known
            )
            part.attempts = 0
            part.retry_at = 0.0
            self._set_position(tp, part.buffer.next_offset)
            early, part.early = part.early, []
            for message in early:
                self._take(message, now)
            if known is not None and known.pending is not None:
                log.info(
                    "rebuilding a batch whose write was not confirmed",
                    extra={
                        "partition": f"{tp[0]}[{tp[1]}]",
                        "offsets": f"{known.first}-{known.last}",
                    },
                )
            self._resume(tp, part)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # One attempt to store what is buffered; whatever fails is read again by the next owner,
        # which rebuilds a pending batch with the same boundaries. (A pending batch still being
        # rebuilt is left to the next owner as it is.)
        self._finish_round(wait=True)
        revoked = {(tp.topic, tp.partition) for tp in partitions}
        for tp in revoked & self._partitions.keys():
            self._partitions[tp].retry_at = 0.0
        while True:
            done, went_well = self._write_now(only=revoked)
            if done or not went_well:
                break
        self._forget(partitions)
        log.info("partitions revoked", extra={"partitions": _names(partitions)})

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Another member may own them already: write nothing more, commit nothing.
        self._finish_round(wait=True)
        self._forget(partitions)
        log.warning("partitions lost", extra={"partitions": _names(partitions)})

    def _forget(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            key = (tp.topic, tp.partition)
            self._partitions.pop(key, None)
            for gauge in (self.metrics.lag, self.metrics.halted):
                with contextlib.suppress(KeyError):
                    gauge.remove(tp.topic, str(tp.partition))
            with self._positions_lock:
                self._positions.pop(key, None)
        if not self._partitions:  # all revoked: waiting for the group's next assignment
            self._assigned = False

    def _pause(self, tp: TP, state: _Partition) -> None:
        if not state.paused and self._consumer is not None:
            self._consumer.pause([TopicPartition(tp[0], tp[1])])
            state.paused = True

    def _resume(self, tp: TP, state: _Partition) -> None:
        if state.paused and self._consumer is not None:
            self._consumer.resume([TopicPartition(tp[0], tp[1])])
            state.paused = False

    def _settle(self, tp: TP, state: _Partition) -> None:
        buffer = state.buffer
        assert buffer is not None
        position = buffer.next_offset
        if not buffer.pending_rows and buffer.next_batch() is None:
            # Nothing held: every offset up to the end the consumer saw is settled (the last
            # ones may be transaction markers, which are never delivered).
            position = max(position, state.end)
        self._set_position(tp, position)
        if position > buffer.next_offset and position > state.committed_end:
            # Only transaction markers lie between the last record and the end: committing
            # past them lets the group's lag (kafka-consumer-groups, lag exporters) reach 0.
            self._commit(tp, position, asynchronous=True)
            state.committed_end = position

    def _set_position(self, tp: TP, offset: int) -> None:
        with self._positions_lock:
            self._positions[tp] = offset

    # -- health ----------------------------------------------------------------------------

    def _clickhouse_called(self, now: float, failure: Exception | None) -> None:
        """Note how a ClickHouse call went: ``/health`` counts failures since the last success."""
        self._last_call = now
        if failure is None:
            self._failing_since, self._failing_error = None, None
            return
        if self._failing_since is None:
            self._failing_since = now
        self._failing_error = f"{type(failure).__name__}: {failure}"

    def _probe(self, now: float) -> None:
        # Writes and ledger reads tell whether ClickHouse answers; an idle sink asks it, so
        # /health knows when there is nothing to write. A partition waiting to retry a write
        # will learn it from the retry.
        if now - self._last_call < _PROBE_INTERVAL or any(
            s.attempts for s in self._partitions.values()
        ):
            return
        assert self._rounds is not None
        self._rounds.probe()
        self._last_call = now

    def _publish_health(self, now: float) -> None:
        self.health.update(
            HealthFacts(
                at=now,
                assigned=self._assigned,
                partitions=len(self._partitions),
                loading=tuple(
                    f"{tp[0]}[{tp[1]}]" for tp, s in self._partitions.items() if s.buffer is None
                ),
                halted=tuple(s.halt_reason for s in self._partitions.values() if s.halted),
                clickhouse_failing_since=self._failing_since,
                clickhouse_error=self._failing_error,
            )
        )

    def _update_gauges(self, now: float) -> None:
        if now < self._next_lag_update or self._consumer is None:
            return
        self._next_lag_update = now + _LAG_INTERVAL
        pending: dict[str, int] = dict.fromkeys((t.name for t in self._tables.values()), 0)
        paused = 0
        for (topic, partition), state in self._partitions.items():
            paused += state.paused
            if state.buffer is None:
                continue
            pending[state.table.name] += state.buffer.pending_rows
            _low, high = self._consumer.get_watermark_offsets(
                TopicPartition(topic, partition), cached=True
            )
            settled = self._positions.get((topic, partition), state.buffer.next_offset)
            if high >= 0:
                self.metrics.lag.labels(topic, str(partition)).set(max(0, high - settled))
        for table, rows in pending.items():
            self.metrics.pending_rows.labels(table).set(rows)
        self.metrics.paused.set(paused)


def _decode_error(table: Table, value: bytes) -> Exception:
    try:
        codec_for(table.record_type).decode(value)
    except CodecError as error:
        return error
    return CodecError("the writer schema is not one this sink knows")


def _names(partitions: list[TopicPartition]) -> str:
    return ",".join(f"{tp.topic}[{tp.partition}]" for tp in partitions)
