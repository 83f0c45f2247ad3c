"""The worker's join on Quix Streams: the benchmark's peer (bench/peers/README.md).

Run from the repository root, in the peer's venv (``bench.peers.quix.ensure_venv``)::

    python -m bench.peers.quix_join --bootstrap 127.0.0.1:9092 --prefix P --group G --state-dir D

It runs until SIGTERM or SIGINT (Quix's own handlers), then commits its last checkpoint and
stops. Per input record it does what the worker's ``JoinProcessor.process`` does: decode and
validate (a bad record becomes a dead letter), ``PartitionJoin.process`` with the default
``Rules()``, and the same output records, encodings and keys. Only the runtime differs:

- **One stateful function over both topics.** ``app.dataframe(scans).concat(app.dataframe(
  dispatches))`` gives one StreamingDataFrame whose state store belongs to the pair of topics
  (its ``stream_id`` joins both names; Quix requires them co-partitioned), so the scans and the
  dispatches of a code meet one state, in one RocksDB per partition with one changelog topic.
- **Arrival order.** Concatenating topics puts Quix's consumer in its buffered mode (since
  3.14): per partition number it hands over the buffered record with the smallest timestamp,
  and waits while a topic's buffer is empty unless its cached high watermark says it is caught
  up. That is the worker's merge by record timestamp, except that a tie goes to the topic first
  in Quix's buffer group, the scans topic here, where the worker puts a dispatch before a scan
  of the same millisecond; and no bound on the wait like ``TRACECODE_WORKER_INPUT_WAIT``.
  Published by the simulator, many a dispatch shares its millisecond with its code's first
  scan: the peer then applies the scan first and emits no ``PENDING``/``DISPATCHED`` status
  change (the peer's outputs equal ``PartitionJoin`` over the scans-first merge exactly).
- **State.** The per-code ``State`` Quix passes (prefixed by the message key) holds the event's
  code; the join's ticks also read and write other codes of the partition, which Quix's State
  protocol does not reach, so those go through the same partition transaction with the other
  code as prefix (``PartitionTransaction.as_state``): same store, changelog and checkpoint.
  Values are the worker's table bytes (``codec_for(RecordType.SHIPMENT_STATE)``), stored with
  ``get_bytes``/``set_bytes``; decoded states are cached (as the worker does) and reused while
  the stored bytes are unchanged.
- **Deadline index.** Rebuilt from the partition's stored states at its first record after an
  assignment, as the worker does; Quix has no assignment hook for user code, so a partition is
  taken as newly assigned when Quix hands it a new store partition object.
"""

from __future__ import annotations

import argparse
import logging
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from quixstreams import Application, State, message_context
from quixstreams.dataframe import StreamingDataFrame
from quixstreams.models.serializers import SerializationContext, Serializer
from quixstreams.models.topics import Topic
from quixstreams.state.base import PartitionTransaction, StorePartition

from schemas.codec import codec_for
from schemas.codes import DEFAULT_MARKETPLACE_FORMAT, MarketplaceFormat
from schemas.dead_letters import Stage, dead_letter
from schemas.records import DeadLetter, RecordType, ShipmentState
from schemas.topics import TopicNames
from streams.join.partition import PartitionJoin, Step, schedule_of
from streams.join.records import OutputEncoder, Rejected, read_event
from streams.join.state_codec import Bodies, StateCodec, body_of, keep_only
from streams.join.transition import Outcome, Rules

logger = logging.getLogger("tracecode.peers.quix")

_DEAD_LETTERS = codec_for(RecordType.DEAD_LETTER)
_STATES = StateCodec()

_STATE_KEY = b"shipment"
"""The one key each code's State holds; RocksDB keys are ``code | shipment``."""
_STORED_SUFFIX = b"|" + _STATE_KEY
_CACHE_SIZE = 4096
"""Decoded states kept, as the worker's default ``TRACECODE_WORKER_STATE_CACHE_SIZE``."""

DEFAULT_COMMIT_INTERVAL = 5.0
"""Quix's default checkpoint interval (seconds), kept for throughput (README, "Tuning")."""


class Output(NamedTuple):
    """One output record; the output topics' serializer sends ``value`` as it is."""

    topic: Topic
    key: bytes | None
    value: bytes
    timestamp_ms: int


class _OutputValue(Serializer):
    """The value of an :class:`Output`, encoded already (an encoding error dead-letters the
    input record, as in the worker, instead of stopping the producer)."""

    def __call__(self, value: Output, ctx: SerializationContext) -> bytes:
        return value.value


class _Record(NamedTuple):
    """The record in process, as the worker's ``dead_letter`` reads it."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: Any


def utc_now() -> datetime:
    """Wall-clock time, UTC, at the millisecond precision of the records."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class _Cached(NamedTuple):
    """A decoded state, its bytes, and the encoded bodies of its scans and dispatch."""

    data: bytes
    state: ShipmentState
    bodies: Bodies


class _Partition:
    """One assigned partition: its join and the Quix handles its states are read through."""

    __slots__ = ("cache", "join", "number", "own_code", "own_state", "store", "tx", "written")

    def __init__(
        self,
        number: int,
        store: StorePartition,
        cache: OrderedDict[tuple[int, str], _Cached],
    ) -> None:
        self.number = number
        self.store = store
        self.cache = cache
        self.join: PartitionJoin | None = None
        self.tx: PartitionTransaction | None = None
        self.written: set[str] = set()
        """Codes written in ``tx``: not in RocksDB until the checkpoint flushes it."""
        self.own_code = ""
        self.own_state: State | None = None

    def state_of(self, code: str) -> State:
        if code == self.own_code and self.own_state is not None:
            return self.own_state
        assert self.tx is not None
        return self.tx.as_state(prefix=code.encode())

    def get(self, code: str) -> ShipmentState | None:
        """The join's lookup: the code's state in the current checkpoint."""
        data = self.state_of(code).get_bytes(_STATE_KEY)
        if data is None:
            return None
        key = (self.number, code)
        cached = self.cache.get(key)
        # Same bytes, same state: only a changed value is decoded again.
        if cached is not None and (cached.data is data or cached.data == data):
            self.cache.move_to_end(key)
            return cached.state
        bodies: Bodies = {}
        state = _STATES.decode(data, bodies)
        self._remember(key, _Cached(data, state, bodies))
        return state

    def bodies(self, code: str) -> Bodies:
        """The encoded scans and dispatch of the code's cached state (maybe none)."""
        cached = self.cache.get((self.number, code))
        return dict(cached.bodies) if cached is not None else {}

    def put(self, code: str, written: _Cached | None) -> None:
        """Write (``written``) or delete (``None``) the code's state in the current
        checkpoint."""
        target = self.state_of(code)
        key = (self.number, code)
        if written is None:
            target.delete(_STATE_KEY)
            self.cache.pop(key, None)
        else:
            target.set_bytes(_STATE_KEY, written.data)
            self._remember(key, written)
        self.written.add(code)

    def stored_codes(self) -> Iterable[str]:
        """Every code with a state in the partition, flushed or written in this checkpoint."""
        codes = set(self.written)
        for key, _value in self.store.iter_items(lower_bound=b""):
            if key.endswith(_STORED_SUFFIX):
                codes.add(key[: -len(_STORED_SUFFIX)].decode())
        return sorted(codes)

    def _remember(self, key: tuple[int, str], cached: _Cached) -> None:
        self.cache[key] = cached
        self.cache.move_to_end(key)
        if len(self.cache) > _CACHE_SIZE:
            self.cache.popitem(last=False)


class QuixJoin:
    """The stateful function of the concatenated input dataframe."""

    def __init__(
        self,
        sdf: StreamingDataFrame,
        topics: TopicNames,
        outputs: dict[str, Topic],
        rules: Rules | None = None,
        marketplace: MarketplaceFormat = DEFAULT_MARKETPLACE_FORMAT,
    ) -> None:
        self._context = sdf.processing_context
        self._stream_id = sdf.stream_id
        self._rules = rules or Rules()
        self._marketplace = marketplace
        self._record_types = {
            topics.scans: RecordType.CARRIER_SCAN,
            topics.dispatches: RecordType.SELLER_DISPATCH,
        }
        self._history = outputs[topics.history]
        self._status = outputs[topics.status]
        self._alerts = outputs[topics.alerts]
        self._dead_letters = outputs[topics.dead_letters]
        self._partitions: dict[int, _Partition] = {}
        self._cache: OrderedDict[tuple[int, str], _Cached] = OrderedDict()
        self._outputs = OutputEncoder(topics)

    def process(
        self, value: bytes | None, key: bytes | None, timestamp: int, headers: Any, state: State
    ) -> list[Output]:
        """The output records of one input record (``apply(stateful, metadata, expand)``)."""
        ctx = message_context()
        now = utc_now()
        stamp = int(now.timestamp() * 1000)
        record = _Record(ctx.topic, ctx.partition, ctx.offset, timestamp, key, value, headers)
        record_type = self._record_types[ctx.topic]
        try:
            event = read_event(record_type, key, value, self._marketplace)
        except Rejected as rejected:
            letter = dead_letter(record, rejected.stage, rejected.error, now)
            return [self._dead_letter_record(key, letter, stamp)]

        part = self._partition(ctx.partition)
        part.own_code, part.own_state = event["code"], state
        try:
            if part.join is None:
                part.join = self._rebuild(part)
            step = part.join.process(event, now)
            records = self._encode(step, stamp)
            # Encoded before anything is written, so a failure leaves the state untouched.
            # The body of the event only if it was applied: a duplicate may carry other bytes.
            encoded = body_of(value, record_type) if step.event.outcome is Outcome.APPLIED else None
            body = None if encoded is None else (event["event_id"], encoded)
            writes = [
                (code, self._written(part, code, new, body if code == event["code"] else None))
                for code, new in step.writes.items()
            ]
        except Exception as error:
            # A bug must not stop the partition; its join is rebuilt from the states, which
            # this record did not change (as the worker does).
            logger.exception(
                "join failed on %s[%d]@%d; dead-lettered", ctx.topic, ctx.partition, ctx.offset
            )
            part.join = None
            letter = dead_letter(record, Stage.PROCESS, error, now)
            return [self._dead_letter_record(key, letter, stamp)]
        for code, written in writes:
            part.put(code, written)
        return records

    @staticmethod
    def _written(
        part: _Partition, code: str, state: ShipmentState | None, body: tuple[str, bytes] | None
    ) -> _Cached | None:
        """The new state of ``code`` encoded as the worker's table holds it (``None``: delete),
        from the bodies of its events, ``body`` (the event just applied) included."""
        if state is None:
            return None
        bodies = part.bodies(code)
        if body is not None:
            bodies[body[0]] = body[1]
        keep_only(bodies, state)
        return _Cached(_STATES.encode(state, bodies), state, bodies)

    def _partition(self, number: int) -> _Partition:
        """The partition's runtime, current to this record's checkpoint and assignment."""
        tx = self._context.checkpoint.get_store_transaction(
            stream_id=self._stream_id, partition=number
        )
        part = self._partitions.get(number)
        if part is not None and part.tx is tx:
            return part
        # A new checkpoint: what the last one wrote is in RocksDB now. A new store partition
        # object means Quix revoked and assigned the partition again since (the states may
        # have changed elsewhere meanwhile): index it again.
        stores = self._context.state_manager.get_store(stream_id=self._stream_id).partitions
        for gone in [n for n in self._partitions if n not in stores]:
            del self._partitions[gone]
        store = stores[number]
        if part is None or part.store is not store:
            part = self._partitions[number] = _Partition(number, store, self._cache)
        part.tx = tx
        part.written.clear()
        return part

    def _rebuild(self, part: _Partition) -> PartitionJoin:
        states = [s for s in (part.get(code) for code in part.stored_codes()) if s is not None]
        schedules = (schedule_of(state, self._rules) for state in states)
        join = PartitionJoin.rebuild(self._rules, part.get, schedules)
        logger.info(
            "partition %d index rebuilt: %d codes scheduled, stream time %s",
            part.number,
            join.scheduled,
            join.stream_time.isoformat() if join.stream_time else None,
        )
        return join

    def _encode(self, step: Step, stamp: int) -> list[Output]:
        """The worker's output records of a step: history, status change and alerts."""
        topics = {
            self._history.name: self._history,
            self._status.name: self._status,
            self._alerts.name: self._alerts,
        }
        return [
            Output(topics[topic], key, value, stamp)
            for topic, key, value in self._outputs.encode(step)
        ]

    def _dead_letter_record(self, key: bytes | None, letter: DeadLetter, stamp: int) -> Output:
        logger.warning(
            "record %s[%d]@%d dead-lettered (%s): %s",
            letter["topic"],
            letter["partition"],
            letter["offset"],
            letter["stage"],
            letter["error_message"],
        )
        return Output(self._dead_letters, key, _DEAD_LETTERS.encode(letter), stamp)


def build_app(
    bootstrap: str,
    prefix: str,
    group: str,
    state_dir: Path,
    commit_interval: float = DEFAULT_COMMIT_INTERVAL,
) -> Application:
    """The peer's Quix application (not running)."""
    app = Application(
        broker_address=bootstrap,
        consumer_group=group,
        state_dir=state_dir,
        auto_offset_reset="earliest",
        processing_guarantee="exactly-once",
        commit_interval=commit_interval,
        producer_extra_config={
            # The key's partition as the worker (aiokafka) and the producers choose it.
            "partitioner": "murmur2_random",
            # Under exactly-once nothing is readable before the checkpoint commits, so waiting
            # to fill batches costs no latency; the worker lingers as long.
            "linger.ms": int(min(50.0, commit_interval * 1000 / 4)),
        },
    )
    topics = TopicNames().with_prefix(prefix)
    inputs = [
        app.topic(name, key_deserializer="bytes", value_deserializer="bytes")
        for name in (topics.scans, topics.dispatches)
    ]
    outputs = {
        name: app.topic(name, key_serializer="bytes", value_serializer=_OutputValue())
        for name in (topics.history, topics.status, topics.alerts, topics.dead_letters)
    }
    sdf = app.dataframe(inputs[0]).concat(app.dataframe(inputs[1]))
    join = QuixJoin(sdf, topics, outputs)
    out = sdf.apply(join.process, stateful=True, metadata=True, expand=True)
    out = out.set_timestamp(_output_timestamp)
    out.to_topic(_output_topic, key=_output_key)
    return app


def _output_timestamp(value: Output, key: Any, timestamp: int, headers: Any) -> int:
    # Stamped when produced, like the worker's records, not with the input record's time.
    return value.timestamp_ms


def _output_topic(value: Output, key: Any, timestamp: int, headers: Any) -> Topic:
    return value.topic


def _output_key(value: Output) -> bytes | None:
    return value.key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--prefix", default="", help="topic prefix (TopicNames.with_prefix)")
    parser.add_argument("--group", required=True, help="consumer group")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument(
        "--commit-interval",
        type=float,
        default=DEFAULT_COMMIT_INTERVAL,
        help="seconds between checkpoints (transactions); the worker's default is 1.0",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = build_app(args.bootstrap, args.prefix, args.group, args.state_dir, args.commit_interval)
    app.run()


if __name__ == "__main__":
    main()
