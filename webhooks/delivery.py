"""Delivering one subscription: its own consumer group, its own HTTP pool, its own window.

A :class:`Subscriber` reads the status and alerts topics in the consumer group of its
subscription, so its committed offsets are its progress alone: a slow or dead subscriber
holds back nothing but itself. Each event it wants becomes a pending delivery; at most
``in_flight`` are pending at once (consumption pauses when the window is full), and within a
partition the events of one key (one traceability code) are delivered in order. A failed
attempt is retried with exponential backoff and jitter until the horizon after the event was
emitted; then the record goes to the webhook dead-letter topic. Progress and retry state are
committed to Kafka (:mod:`webhooks.progress`), never kept only in memory: delivery is
at-least-once, and the event id lets subscribers drop repeats.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from schemas.codec import codec_for
from schemas.dead_letters import Stage, dead_letter
from schemas.errors import CodecError
from schemas.framing import Framing, OutputFraming
from schemas.records import RecordType
from schemas.webhooks import Subscription, WebhookEvent, event_of, signed_headers
from webhooks.config import WebhooksConfig
from webhooks.metrics import Outcome, WebhookMetrics
from webhooks.progress import Progress, Retry

log = logging.getLogger(__name__)

TP = tuple[str, int]
DEAD_LETTERS = codec_for(RecordType.DEAD_LETTER)
_DEAD_LETTER_RETRY = 5.0
"""Seconds before retrying to dead-letter a record when the dead-letter topic failed."""


class DeliveryGivenUp(Exception):
    """A delivery still failing at its horizon (``DeadLetter.error_class``)."""


class DeadLetterError(RuntimeError):
    """The webhook dead-letter topic did not take a record."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """The answer to one POST."""

    delivered: bool
    detail: str
    """``HTTP 204`` or why it failed, e.g. ``HTTP 503 from https://…`` or ``timed out``."""
    seconds: float


@dataclass(slots=True)
class _Delivery:
    message: Message
    event: WebhookEvent
    body: bytes
    attempts: int = 0
    next_at: float = 0.0
    sending: Future[Attempt] | None = None
    error: str = ""


@dataclass(slots=True)
class _Partition:
    position: int
    """The offset after the last record taken (or where reading starts)."""
    read_to: int
    """Records before this offset that are neither restored nor pending are settled."""
    restored: dict[int, Retry]
    """Pending records of the committed progress not read again yet."""
    pending: dict[int, _Delivery] = field(default_factory=dict)
    """In offset order (records are taken in order)."""

    def progress(self) -> Progress:
        pending = dict(self.restored)
        for offset, delivery in self.pending.items():
            pending[offset] = Retry(delivery.attempts, delivery.next_at)
        return Progress(max(self.position, self.read_to), pending)


class Subscriber:
    """Delivers one subscription's events until :meth:`stop`; run it in a thread of its own."""

    def __init__(
        self,
        config: WebhooksConfig,
        subscription: Subscription,
        dead_letters: Producer,
        metrics: WebhookMetrics,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        framings: tuple[Framing, OutputFraming] | None = None,
    ) -> None:
        self.config = config
        self._framings = framings
        """Registry mode: how to read Confluent framed records and frame the dead letters."""
        self._subscription = subscription
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._rng = rng or random.Random()
        self._clock = clock
        self._record_types: dict[str, RecordType] = {
            config.topics.status: RecordType.SHIPMENT_STATUS_CHANGED,
            config.topics.alerts: RecordType.SHIPMENT_ALERT,
        }
        self._partitions: dict[TP, _Partition] = {}
        self._paused = False
        self._stop = threading.Event()
        self.running = threading.Event()
        """Set once the consumer joined its group and has partitions."""
        self.error: BaseException | None = None
        """Why :meth:`run` ended, when it failed."""

    def update(self, subscription: Subscription) -> None:
        """Use a changed subscription (URL, secret, filters) for what comes next."""
        self._subscription = subscription

    def stop(self) -> None:
        """Finish: wait for the POSTs in flight, commit, leave the group."""
        self._stop.set()

    def run(self) -> None:
        label = self._subscription.id
        consumer = Consumer(
            {
                **self.config.kafka.librdkafka_config(),
                "group.id": self.config.group_id(label),
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "isolation.level": "read_committed",
                "session.timeout.ms": int(self.config.session_timeout * 1000),
            },
            logger=log,
        )
        executor = ThreadPoolExecutor(self.config.in_flight, thread_name_prefix=f"webhook-{label}")
        client = httpx.Client(
            timeout=self.config.request_timeout,
            follow_redirects=False,
            headers={"user-agent": "tracecode-webhooks"},
            limits=httpx.Limits(max_connections=self.config.in_flight),
        )
        try:
            consumer.subscribe(
                list(self._record_types),
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_lost,
            )
            self._loop(consumer, executor, client)
            executor.shutdown(wait=True)
            self._settle_finished(self._clock())
            self._commit(consumer, list(self._partitions))
        except BaseException as failure:
            self.error = failure
            log.exception("webhook subscriber failed", extra={"subscription": label})
            raise
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
            client.close()
            consumer.close()
            self.running.clear()

    def _loop(self, consumer: Consumer, executor: ThreadPoolExecutor, client: httpx.Client) -> None:
        next_commit = self._clock() + self.config.commit_interval
        while not self._stop.is_set():
            now = self._clock()
            self._settle_finished(now)
            self._send_due(now, executor, client)
            self._flow_control(consumer)
            if now >= next_commit:
                self._commit(consumer, list(self._partitions))
                self._update_gauges(now)
                next_commit = now + self.config.commit_interval
            message = consumer.poll(self._poll_timeout(now))
            if message is not None:
                self._take(message, self._clock())

    def _poll_timeout(self, now: float) -> float:
        pending = [d for part in self._partitions.values() for d in part.pending.values()]
        if any(delivery.sending is not None for delivery in pending):
            # Answers come in on other threads: look for them often.
            return min(0.02, self.config.poll_timeout)
        if due := [delivery.next_at for delivery in pending]:
            return max(0.0, min(self.config.poll_timeout, min(due) - now))
        return self.config.poll_timeout

    def _take(self, message: Message, now: float) -> None:
        if error := message.error():
            if error.fatal():
                raise KafkaException(error)
            if error.code() != KafkaError._PARTITION_EOF:
                log.warning("consumer error", extra={"error": str(error)})
            return
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        assert topic is not None and partition is not None and offset is not None
        part = self._partitions.get((topic, partition))
        if part is None:
            return
        for gone in [o for o in part.restored if o < offset]:
            del part.restored[gone]
        restored = part.restored.pop(offset, None)
        part.position = offset + 1
        if restored is None and offset < part.read_to:
            return
        label = self._subscription.id
        record_type = self._record_types[topic]
        try:
            value = message.value() or b""
            if self._framings is not None:
                value = self._framings[0].single_object(value)
            record = codec_for(record_type).decode(value)
        except CodecError as failure:
            self._metrics.undecodable.labels(label).inc()
            if not self._dead_letter(message, Stage.DECODE, failure, now):
                # Nothing may be committed past a record that is nowhere: stop, and let the
                # restarted service read it again.
                raise DeadLetterError(
                    f"could not dead-letter the undecodable record {topic}[{partition}]@{offset}"
                ) from failure
            return
        event = event_of(record_type, record)
        if not self._subscription.wants(event):
            self._metrics.filtered.labels(label).inc()
            return
        delivery = _Delivery(message, event, event.body())
        if restored is not None:
            delivery.attempts, delivery.next_at = restored.attempts, restored.next_at
        part.pending[offset] = delivery

    def _send_due(self, now: float, executor: ThreadPoolExecutor, client: httpx.Client) -> None:
        subscription = self._subscription
        for part in self._partitions.values():
            busy: set[bytes | None] = set()
            for delivery in part.pending.values():
                key = delivery.message.key()
                if key in busy:
                    continue
                busy.add(key)
                if delivery.sending is None and delivery.next_at <= now:
                    delivery.sending = executor.submit(_post, client, subscription, delivery)

    def _settle_finished(self, now: float) -> None:
        label = self._subscription.id
        for part in self._partitions.values():
            for offset, delivery in list(part.pending.items()):
                if delivery.sending is None or not delivery.sending.done():
                    continue
                attempt = delivery.sending.result()
                delivery.sending = None
                delivery.attempts += 1
                self._metrics.attempt_seconds.labels(label).observe(attempt.seconds)
                if attempt.delivered:
                    self._metrics.attempts.labels(label, Outcome.DELIVERED.value).inc()
                    del part.pending[offset]
                    continue
                delivery.error = attempt.detail
                horizon = delivery.event.timestamp.timestamp() + self.config.horizon
                if now < horizon:
                    self._metrics.attempts.labels(label, Outcome.FAILED.value).inc()
                    delay = self.config.backoff.delay(delivery.attempts, self._rng)
                    delivery.next_at = min(now + delay, horizon)
                    log.info(
                        "webhook delivery failed; will retry",
                        extra={
                            "subscription": label,
                            "event": delivery.event.id,
                            "attempts": delivery.attempts,
                            "error": attempt.detail,
                            "retry_in": round(delivery.next_at - now, 1),
                        },
                    )
                    continue
                given_up = DeliveryGivenUp(
                    f"gave up after {delivery.attempts} attempt(s) over "
                    f"{self.config.horizon:g} s: {attempt.detail}"
                )
                if self._dead_letter(delivery.message, Stage.PROCESS, given_up, now):
                    self._metrics.attempts.labels(label, Outcome.DEAD_LETTERED.value).inc()
                    del part.pending[offset]
                else:
                    delivery.next_at = now + _DEAD_LETTER_RETRY

    def _dead_letter(
        self, message: Message, stage: Stage, error: BaseException, now: float
    ) -> bool:
        """Write the record to the webhook dead-letter topic and wait for the broker's ack, so
        the offset is never committed past a record that is nowhere."""
        letter = dead_letter(_Record(message), stage, error, datetime.fromtimestamp(now, UTC))
        failures: list[KafkaError] = []

        def acknowledged(failure: KafkaError | None, _: Message) -> None:
            if failure is not None:
                failures.append(failure)

        topic = self.config.topics.webhook_dead_letters
        value = DEAD_LETTERS.encode(letter)
        if self._framings is not None:
            value = self._framings[1].frame(topic, value)
        self._dead_letters.produce(
            topic,
            value,
            self._subscription.id.encode(),
            on_delivery=acknowledged,
        )
        unsent = self._dead_letters.flush(self.config.request_timeout)
        if unsent or failures:
            log.error(
                "could not dead-letter a webhook record; will try again",
                extra={"subscription": self._subscription.id, "error": str(failures or unsent)},
            )
            return False
        log.warning(
            "webhook record dead-lettered",
            extra={
                "subscription": self._subscription.id,
                "topic": message.topic(),
                "offset": message.offset(),
                "stage": stage.value,
                "error": str(error),
            },
        )
        return True

    def _flow_control(self, consumer: Consumer) -> None:
        pending = sum(len(part.pending) for part in self._partitions.values())
        full = pending >= self.config.in_flight
        if full == self._paused or not self._partitions:
            return
        partitions = [TopicPartition(topic, p) for topic, p in self._partitions]
        if full:
            consumer.pause(partitions)
        else:
            consumer.resume(partitions)
        self._paused = full

    def _commit(self, consumer: Consumer, tps: list[TP]) -> None:
        offsets = []
        for tp in tps:
            part = self._partitions.get(tp)
            if part is None:
                continue
            progress = part.progress()
            offsets.append(
                TopicPartition(*tp, progress.commit_offset, metadata=progress.metadata())
            )
        if not offsets:
            return
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as error:
            log.warning(
                "webhook progress commit failed; will commit again",
                extra={"subscription": self._subscription.id, "error": str(error)},
            )

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        committed = consumer.committed(partitions, timeout=30)
        starts: dict[TP, Progress] = {}
        unstarted: list[TopicPartition] = []
        for tp in committed:
            if tp.offset >= 0:
                starts[(tp.topic, tp.partition)] = Progress.restore(tp.offset, tp.metadata)
            else:
                created_ms = int(self._subscription.created_at.timestamp() * 1000)
                unstarted.append(TopicPartition(tp.topic, tp.partition, created_ms))
        if unstarted:
            for found in consumer.offsets_for_times(unstarted, timeout=30):
                offset = found.offset
                if offset < 0:
                    # Nothing emitted since the subscription was created: start at the end.
                    _, offset = consumer.get_watermark_offsets(found, timeout=30)
                starts[(found.topic, found.partition)] = Progress(offset)
        for position, progress in starts.items():
            self._partitions[position] = _Partition(
                position=progress.commit_offset,
                read_to=progress.read_to,
                restored=dict(progress.pending),
            )
        consumer.assign(
            [TopicPartition(*key, progress.commit_offset) for key, progress in starts.items()]
        )
        self._paused = False
        log.info(
            "webhook subscriber assigned",
            extra={"subscription": self._subscription.id, "partitions": sorted(starts)},
        )
        self.running.set()

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        revoked = [(tp.topic, tp.partition) for tp in partitions]
        self._commit(consumer, revoked)
        self._forget(revoked)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._forget([(tp.topic, tp.partition) for tp in partitions])

    def _forget(self, tps: list[TP]) -> None:
        # A POST still in flight for a forgotten partition finishes unheeded: the partition's
        # next owner delivers the event again (at-least-once).
        for tp in tps:
            self._partitions.pop(tp, None)
        self._paused = False

    def _update_gauges(self, now: float) -> None:
        label = self._subscription.id
        emitted = [
            delivery.event.timestamp.timestamp()
            for part in self._partitions.values()
            for delivery in part.pending.values()
        ]
        self._metrics.pending.labels(label).set(len(emitted))
        self._metrics.oldest_pending_seconds.labels(label).set(
            max(0.0, now - min(emitted)) if emitted else 0.0
        )


def _post(client: httpx.Client, subscription: Subscription, delivery: _Delivery) -> Attempt:
    started = time.monotonic()
    headers = signed_headers(subscription.secret, delivery.event, delivery.body, int(time.time()))
    try:
        response = client.post(subscription.url, content=delivery.body, headers=headers)
    except httpx.TimeoutException:
        detail = f"no answer from {subscription.url} within {client.timeout.read} s"
        return Attempt(False, detail, time.monotonic() - started)
    except httpx.HTTPError as error:
        detail = f"{type(error).__name__} posting to {subscription.url}: {error}"
        return Attempt(False, detail, time.monotonic() - started)
    seconds = time.monotonic() - started
    if response.is_success:
        return Attempt(True, f"HTTP {response.status_code}", seconds)
    return Attempt(False, f"HTTP {response.status_code} from {subscription.url}", seconds)


@dataclass(frozen=True, slots=True)
class _Record:
    """A confluent-kafka message with the attributes :func:`dead_letter` reads."""

    message: Message

    @property
    def topic(self) -> str | None:
        return self.message.topic()

    @property
    def partition(self) -> int | None:
        return self.message.partition()

    @property
    def offset(self) -> int | None:
        return self.message.offset()

    @property
    def timestamp(self) -> int | None:
        _, stamp = self.message.timestamp()
        return stamp if stamp >= 0 else None

    @property
    def key(self) -> bytes | None:
        key = self.message.key()
        return key if isinstance(key, bytes) or key is None else key.encode()

    @property
    def value(self) -> bytes | None:
        value = self.message.value()
        return value if isinstance(value, bytes) or value is None else value.encode()

    @property
    def headers(self) -> Any:
        return self.message.headers()
