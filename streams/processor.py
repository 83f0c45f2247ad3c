"""What the worker does with one input record: decode, validate, join, emit.

The records an event causes (history, status change, alerts, dead letter) are handed to the
producer without waiting for their delivery, and the states it changes are written back at the
next commit (:mod:`streams.states`): delivery is awaited once per commit, never per event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from faust.types import TP

from schemas.codec import codec_for
from schemas.codes import MarketplaceFormat
from schemas.errors import CodecError, InvalidRecordError
from schemas.records import RecordType, ShipmentState
from schemas.validation import validate
from streams.config import WorkerConfig
from streams.dead_letters import Stage, dead_letter
from streams.metrics import JoinMetrics
from streams.outputs import OutputSender
from streams.partition import PartitionJoin, Step
from streams.states import ShipmentStates
from streams.transition import InputEvent

logger = logging.getLogger(__name__)

_HISTORY = codec_for(RecordType.SHIPMENT_HISTORY_RECORD)
_STATUS = codec_for(RecordType.SHIPMENT_STATUS_CHANGED)
_ALERTS = codec_for(RecordType.SHIPMENT_ALERT)
_DEAD_LETTERS = codec_for(RecordType.DEAD_LETTER)

Record = tuple[str, bytes, bytes]
"""An output record: topic, key, value."""


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
    ) -> None:
        self._config = config
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

    def reset(self) -> None:
        """Forget every partition's in-memory join (after a rebalance).

        A partition that comes back, its states maybe changed by another worker meanwhile, is
        indexed again from the table at its next record.
        """
        for partition in self._joins:
            self._metrics.forget_partition(partition)
        self._joins.clear()
        self._states.forget()

    async def write_back(self) -> None:
        """Write back the states changed since the last commit (called by the commit)."""
        await self._states.write_back(self._write_failed)

    async def process(self, message: Any) -> None:
        """Process one Faust message of an input topic (any partition, in any context)."""
        now = self._clock()
        record_type = self._record_types[message.topic]
        try:
            event = read_event(record_type, message.key, message.value, self._config.marketplace)
        except Rejected as rejected:
            await self._dead_letter(message, rejected.stage, rejected.error, now)
            return

        partition = message.partition
        try:
            step = self._join(partition).process(event, now)
            records = _encode(step, self._config)
        except Exception as error:
            # A bug must not stop the partition; the join is rebuilt from the table, which
            # this record did not change.
            logger.exception(
                "join failed on a record; dead-lettered",
                extra={"topic": message.topic, "partition": partition, "offset": message.offset},
            )
            self._joins.pop(partition, None)
            await self._dead_letter(message, Stage.PROCESS, error, now)
            return

        source = TP(message.topic, partition)
        for code, state in step.writes.items():
            self._states.put(partition, code, state, message)
        for topic, key, value in records:
            await self._sender.send(topic, key, value, source)
        self._metrics.on_step(_kind(record_type, event), step)
        self._metrics.on_partition(partition, self._joins.get(partition))

    def _join(self, partition: int) -> PartitionJoin:
        join = self._joins.get(partition)
        if join is None:
            states = self._states

            def lookup(code: str) -> ShipmentState | None:
                return states.get(partition, code)

            join = PartitionJoin.rebuild(
                self._config.rules, lookup, states.partition_states(partition)
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

    async def _write_failed(self, message: Any, error: Exception) -> None:
        self._joins.pop(message.partition, None)
        await self._dead_letter(message, Stage.PROCESS, error, self._clock())

    async def _dead_letter(
        self, message: Any, stage: Stage, error: BaseException, now: datetime
    ) -> None:
        letter = dead_letter(message, stage, error, now)
        logger.warning(
            "record dead-lettered",
            extra={
                "topic": message.topic,
                "partition": message.partition,
                "offset": message.offset,
                "stage": stage.value,
                "error": letter["error_message"],
            },
        )
        await self._sender.send(
            self._config.topics.dead_letters,
            message.key,
            _DEAD_LETTERS.encode(letter),
            TP(message.topic, message.partition),
        )
        self._metrics.dead_letters.labels(stage.value, message.topic).inc()


class Rejected(Exception):
    """An input record the join cannot use, and at which stage it failed."""

    def __init__(self, stage: Stage, error: Exception) -> None:
        super().__init__(str(error))
        self.stage = stage
        self.error = error


def read_event(
    record_type: RecordType, key: bytes | None, value: bytes | None, marketplace: MarketplaceFormat
) -> InputEvent:
    """The scan or dispatch in a Kafka record; raises :class:`Rejected` for a bad record."""
    try:
        event: InputEvent = codec_for(record_type).decode(value or b"")
    except CodecError as error:
        raise Rejected(Stage.DECODE, error) from error
    try:
        validate(record_type, event, marketplace=marketplace)
        if key != event["code"].encode():
            raise InvalidRecordError(
                record_type.short_name,
                "code",
                "key-is-code",
                f"the record's Kafka key {key!r} is not its canonical code {event['code']!r}",
            )
    except InvalidRecordError as error:
        raise Rejected(Stage.VALIDATE, error) from error
    return event


def _encode(step: Step, config: WorkerConfig) -> list[Record]:
    """The output records of a step, encoded before anything is sent."""
    topics = config.topics
    records: list[Record] = []
    for code, transition in step.changes:
        key = code.encode()
        if transition.history is not None:
            records.append((topics.history, key, _HISTORY.encode(transition.history)))
        if transition.status_change is not None:
            records.append((topics.status, key, _STATUS.encode(transition.status_change)))
        records.extend((topics.alerts, key, _ALERTS.encode(alert)) for alert in transition.alerts)
    return records


def _kind(record_type: RecordType, event: InputEvent) -> str:
    if record_type is RecordType.SELLER_DISPATCH:
        return "DISPATCH"
    return "RETRACTION" if event.get("retracts_event_id") else "SCAN"
