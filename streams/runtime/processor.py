"""What the worker does with the input records of one partition, in merged order: decode,
validate, join, queue the outputs.

It runs synchronously over a list of records: outputs go to the
:class:`~streams.runtime.sender.OutputSender` (sent a batch at a time), the states they change
stay in :class:`~streams.runtime.states.ShipmentStates` until the next commit writes them back,
and the metrics are counted once per list.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from faust.types import TP

from schemas.codec import codec_for
from schemas.dead_letters import Stage, dead_letter
from schemas.errors import CodecError
from schemas.framing import Framing
from schemas.records import RecordType, ShipmentState
from streams.config import WorkerConfig
from streams.join.partition import PartitionJoin
from streams.join.records import OutputEncoder, Rejected, event_kind, read_event
from streams.join.state_codec import body_of
from streams.join.transition import Outcome
from streams.runtime.metrics import JoinMetrics
from streams.runtime.sender import OutputSender
from streams.runtime.states import ShipmentStates

logger = logging.getLogger(__name__)

_DEAD_LETTERS = codec_for(RecordType.DEAD_LETTER)


def utc_now() -> datetime:
    """Wall-clock time, UTC, at the millisecond precision of the records."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class JoinProcessor:
    """Turns input records into state changes and output records, partition by partition."""

    def __init__(
        self,
        config: WorkerConfig,
        states: ShipmentStates,
        sender: OutputSender,
        metrics: JoinMetrics,
        clock: Callable[[], datetime] = utc_now,
        framing: Framing | None = None,
    ) -> None:
        self._config = config
        self._framing = framing
        self._states = states
        self._sender = sender
        self._metrics = metrics
        self._clock = clock
        topics = config.topics
        self._record_types = {
            topics.scans: RecordType.CARRIER_SCAN,
            topics.dispatches: RecordType.SELLER_DISPATCH,
        }
        self._joins: dict[int, PartitionJoin] = {}
        self._outputs = OutputEncoder(topics, capacity=max(config.state_cache_size, 1))

    def reset(self) -> None:
        """Forget every partition's in-memory join (after a rebalance).

        A partition that comes back, its states maybe changed by another worker meanwhile, is
        indexed again from the table at its next record.
        """
        for partition in self._joins:
            self._metrics.forget_partition(partition)
        self._joins.clear()
        self._states.forget()

    def write_back(self) -> None:
        """Write back the states changed since the last commit (called by the commit)."""
        self._states.write_back(self._write_failed)

    def process(self, partition: int, records: Iterable[Any]) -> None:
        """Process input records of ``partition`` (aiokafka consumer records), in order."""
        now = self._clock()
        marketplace = self._config.marketplace
        states, sender = self._states, self._sender
        counts: Counter[tuple[str, str]] = Counter()
        steps = []
        sources = {topic: TP(topic, partition) for topic in self._record_types}
        framing = self._framing
        for record in records:
            record_type = self._record_types[record.topic]
            value = record.value
            if framing is not None and value:
                # Confluent framed inputs carry the same body: the join sees single-object bytes.
                try:
                    value = framing.single_object(value)
                except CodecError as error:
                    self._dead_letter(record, Stage.DECODE, error, now)
                    continue
            try:
                event = read_event(record_type, record.key, value, marketplace)
            except Rejected as rejected:
                self._dead_letter(record, rejected.stage, rejected.error, now)
                continue
            try:
                step = self._join(partition).process(event, now)
                outputs = self._outputs.encode(step)
            except Exception as error:
                # A bug must not stop the partition; the join is rebuilt from the table, which
                # this record did not change.
                logger.exception(
                    "join failed on a record; dead-lettered",
                    extra={"topic": record.topic, "partition": partition, "offset": record.offset},
                )
                self._joins.pop(partition, None)
                self._dead_letter(record, Stage.PROCESS, error, now)
                continue
            body = None
            if step.event.outcome is Outcome.APPLIED:
                encoded = body_of(value, record_type)
                body = None if encoded is None else (event["event_id"], encoded)
            code_of_event = event["code"]
            for code, state in step.writes.items():
                states.put(partition, code, state, record, body if code == code_of_event else None)
            sender.add_all(outputs, sources[record.topic])
            counts[event_kind(record_type, event), step.event.outcome.value] += 1
            steps.append(step)
        self._metrics.on_steps(counts, steps)
        self._metrics.on_partition(partition, self._joins.get(partition))

    def _join(self, partition: int) -> PartitionJoin:
        join = self._joins.get(partition)
        if join is None:
            states = self._states

            def lookup(code: str) -> ShipmentState | None:
                return states.get(partition, code)

            join = PartitionJoin.rebuild(
                self._config.rules, lookup, states.partition_schedules(partition)
            )
            self._joins[partition] = join
            logger.info(
                "partition index rebuilt",
                extra={
                    "partition": partition,
                    "scheduled": join.scheduled,
                    "stream_time": join.stream_time.isoformat() if join.stream_time else None,
                },
            )
        return join

    def _write_failed(self, record: Any, error: Exception) -> None:
        self._joins.pop(record.partition, None)
        self._dead_letter(record, Stage.PROCESS, error, self._clock())

    def _dead_letter(self, record: Any, stage: Stage, error: BaseException, now: datetime) -> None:
        letter = dead_letter(record, stage, error, now)
        logger.warning(
            "record dead-lettered",
            extra={
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "stage": stage.value,
                "error": letter["error_message"],
            },
        )
        self._sender.add(
            self._config.topics.dead_letters,
            record.key,
            _DEAD_LETTERS.encode(letter),
            TP(record.topic, record.partition),
        )
        self._metrics.dead_letters.labels(stage.value, record.topic).inc()
