"""The one way events enter Kafka: an idempotent, batching producer that loses nothing silently.

Every source (simulator, file replay, EPCIS capture) publishes through :class:`EventProducer`::

    with EventProducer(config) as producer:
        for scan in scans:
            producer.send_scan(scan)
    print(producer.stats)

Records are checked (``schemas.validation``, unless the config turns it off) and encoded
(``schemas.codec``) before they are queued, so a bad record raises
:class:`~schemas.errors.InvalidRecordError` at once. Each is keyed by its canonical code.
When the local queue is full, ``send_*`` serves delivery reports until there is room: it waits,
it never drops. Every delivery report is counted; a failed delivery is kept with its event id
and :meth:`EventProducer.close` raises :class:`DeliveryError` listing them. Leaving the
``with`` block (normally, on an exception or on Ctrl-C) flushes everything still in flight
first.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from producers.config import ProducerConfig
from producers.events import EventKind, InputRecord, encode_event
from schemas.codec import codec_for
from schemas.errors import CodecError
from schemas.framing import Framing, SchemaRegistryRequestError
from schemas.records import CarrierScan, SellerDispatch

logger = logging.getLogger(__name__)

_POLL_EVERY = 1000
"""Serve delivery reports after this many sends, so they never pile up."""
_FLUSH_SLICE = 0.5
"""Flush in slices this long (seconds), so Ctrl-C and progress reports get through."""


class ProducerClient(Protocol):
    """The part of ``confluent_kafka.Producer`` the core uses (a test fakes it)."""

    def produce(self, topic: str, value: bytes, key: bytes) -> None: ...

    def poll(self, timeout: float) -> int: ...

    def flush(self, timeout: float) -> int: ...

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> Any: ...

    def __len__(self) -> int: ...


ClientFactory = Callable[[dict[str, Any]], ProducerClient]


@dataclass(frozen=True, slots=True)
class DeliveryFailure:
    """An event Kafka did not acknowledge."""

    event_id: str | None
    """The event's id (``None`` only if its bytes could not be read back)."""
    kind: EventKind
    code: str
    error: str
    """Kafka's error, e.g. ``_MSG_TIMED_OUT: Local: Message timed out``."""


@dataclass(frozen=True, slots=True)
class ProducerStats:
    """Counts of events handed to the producer and of their delivery reports."""

    sent: int
    acknowledged: int
    failed: int
    failures: tuple[DeliveryFailure, ...]
    """The failures kept (up to ``ProducerConfig.max_failures_kept``; all are counted)."""

    @property
    def in_flight(self) -> int:
        """Events sent with no delivery report yet."""
        return self.sent - self.acknowledged - self.failed


class DeliveryError(Exception):
    """Some events were not acknowledged by Kafka: they are not in the topic."""

    def __init__(self, stats: ProducerStats) -> None:
        self.stats = stats
        problems = []
        if stats.failed:
            shown = ", ".join(
                f"{f.event_id} ({f.kind} {f.code}: {f.error})" for f in stats.failures[:5]
            )
            more = stats.failed - min(5, len(stats.failures))
            tail = f" and {more} more" if more > 0 else ""
            problems.append(
                f"{stats.failed} of {stats.sent} events were not delivered: {shown}{tail}"
            )
        if stats.in_flight:
            problems.append(
                f"{stats.in_flight} of {stats.sent} events had no delivery report when the flush "
                "timed out"
            )
        super().__init__(
            "; ".join(problems) + "; sending them again is safe (same event ids: the join "
            "ignores duplicates)"
        )


class MissingTopicsError(Exception):
    """A topic the producer publishes to does not exist."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        super().__init__(
            f"topic(s) {', '.join(missing)} do not exist: create them with "
            "`tracecode topics apply` (auto-created topics would break co-partitioning)"
        )


class EventProducer:
    """Publishes carrier scans and seller dispatches, keyed by canonical code.

    Not thread-safe: delivery reports are served by the thread that sends and flushes.
    """

    def __init__(self, config: ProducerConfig, *, client_factory: ClientFactory | None = None):
        self.config = config
        properties = {
            **config.librdkafka(),
            "on_delivery": self._on_delivery,
            # librdkafka's own messages (retries, broker state) go through logging, not stderr.
            "logger": logging.getLogger(f"{__name__}.librdkafka"),
        }
        self._client = (client_factory or _confluent_producer)(properties)
        self._topics = {kind: kind.topic(config.topics) for kind in EventKind}
        self._kinds = {topic: kind for kind, topic in self._topics.items()}
        self._codecs = {kind: codec_for(kind.record_type) for kind in EventKind}
        registry = config.schema_registry
        self._framing = None if registry is None else Framing(registry, config.topics)
        self._output = None if self._framing is None else self._framing.output(self._kinds)
        self._sent = self._acknowledged = self._failed = 0
        self._failures: list[DeliveryFailure] = []
        self._waits = 0

    def ensure_topics(self, timeout: float = 10.0) -> None:
        """Raise :class:`MissingTopicsError` unless both input topics exist."""
        metadata = self._client.list_topics(timeout=timeout)
        missing = [
            topic
            for topic in self._topics.values()
            if topic not in metadata.topics or metadata.topics[topic].error is not None
        ]
        if missing:
            raise MissingTopicsError(missing)

    def send(self, kind: EventKind, record: InputRecord) -> None:
        """Check, encode and queue ``record``; raises ``InvalidRecordError`` if it is bad."""
        value = encode_event(kind, record, check=self.config.validate)
        self.send_encoded(kind, record["code"], value)

    def send_scan(self, scan: CarrierScan) -> None:
        """Queue a carrier scan (see :meth:`send`)."""
        self.send(EventKind.SCAN, scan)

    def send_dispatch(self, dispatch: SellerDispatch) -> None:
        """Queue a seller dispatch (see :meth:`send`)."""
        self.send(EventKind.DISPATCH, dispatch)

    def send_encoded(self, kind: EventKind, code: str, value: bytes) -> None:
        """Queue an already encoded record of ``kind`` (``encode_event``) under its canonical
        ``code``; nothing is checked. Waits, serving delivery reports, while the queue is full.
        """
        topic, key = self._topics[kind], code.encode()
        if self._output is not None:
            value = self._output.frame(topic, value)
        while True:
            try:
                self._client.produce(topic, value, key)
                break
            except BufferError:
                # The queue is full: deliveries must drain some of it first.
                self._waits += 1
                self._client.poll(0.05)
        self._sent += 1
        if self._sent % _POLL_EVERY == 0:
            self._client.poll(0)

    def poll(self, timeout: float = 0.0) -> None:
        """Serve pending delivery reports, waiting up to ``timeout`` seconds for one."""
        self._client.poll(timeout)

    def flush(
        self,
        timeout: float | None = None,
        *,
        on_progress: Callable[[ProducerStats], None] | None = None,
    ) -> ProducerStats:
        """Wait until every sent event has its delivery report, or ``timeout`` seconds passed.

        ``on_progress`` is called with the stats about twice a second while waiting.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while len(self._client) > 0:
            remaining = _FLUSH_SLICE if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                break
            self._client.flush(min(_FLUSH_SLICE, remaining))
            if on_progress is not None:
                on_progress(self.stats)
        return self.stats

    def close(
        self,
        timeout: float | None = None,
        *,
        on_progress: Callable[[ProducerStats], None] | None = None,
    ) -> ProducerStats:
        """Flush; raise :class:`DeliveryError` if any event failed or is still in flight."""
        stats = self.flush(timeout, on_progress=on_progress)
        logger.info(
            "producer closed",
            extra={
                "sent": stats.sent,
                "acknowledged": stats.acknowledged,
                "failed": stats.failed,
                "queue_full_waits": self._waits,
            },
        )
        if stats.failed or stats.in_flight:
            raise DeliveryError(stats)
        return stats

    @property
    def stats(self) -> ProducerStats:
        """The counts so far."""
        return ProducerStats(self._sent, self._acknowledged, self._failed, tuple(self._failures))

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        # Another error is on its way out: still deliver what was sent, and attach what failed
        # to that error rather than hide it behind a DeliveryError.
        stats = self.flush()
        if stats.failed or stats.in_flight:
            exc.add_note(str(DeliveryError(stats)))

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is None:
            self._acknowledged += 1
            return
        self._failed += 1
        failure = self._failure(error, message)
        if len(self._failures) < self.config.max_failures_kept:
            self._failures.append(failure)
        logger.error(
            "event not delivered",
            extra={
                "event_id": failure.event_id,
                "kind": failure.kind.value,
                "code": failure.code,
                "error": failure.error,
            },
        )

    def _failure(self, error: KafkaError, message: Message) -> DeliveryFailure:
        kind = self._kinds[str(message.topic())]
        key, value = message.key(), message.value()
        event_id = None
        if value is not None:
            # Failures are rare: reading the id back beats carrying it with every event.
            try:
                if self._framing is not None:
                    value = self._framing.single_object(value)
                event_id = self._codecs[kind].decode(value)["event_id"]
            except (CodecError, SchemaRegistryRequestError):
                logger.exception("cannot read back an undelivered event")
        code = key.decode(errors="replace") if isinstance(key, bytes) else str(key)
        return DeliveryFailure(event_id, kind, code, f"{error.name()}: {error.str()}")


def _confluent_producer(properties: Mapping[str, Any]) -> ProducerClient:
    try:
        return Producer(dict(properties))
    except KafkaException as error:
        raise ValueError(f"bad producer configuration: {error}") from error
