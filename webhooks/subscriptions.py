"""The subscriptions topic: one compacted partition, a JSON subscription per key.

``tracecode webhooks add``/``remove`` write it through :class:`SubscriptionStore`; the service
reads it from the start and then follows it (:class:`SubscriptionFeed`), so every instance
sees the same subscriptions and a change reaches a running service within a poll.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from schemas.kafka import KafkaConnection
from schemas.webhooks import Subscription, SubscriptionError

log = logging.getLogger(__name__)


class SubscriptionsTopicError(RuntimeError):
    """The subscriptions topic is missing or unreadable."""


@dataclass(frozen=True, slots=True)
class Change:
    """One record of the subscriptions topic: a subscription, or its removal."""

    id: str
    subscription: Subscription | None
    """``None``: removed (a tombstone), or a value that is not a subscription (logged)."""


class SubscriptionFeed:
    """Reads the subscriptions topic from its first record, then follows it."""

    def __init__(self, connection: KafkaConnection, topic: str) -> None:
        self._topic = topic
        self._consumer = Consumer(
            {
                **connection.librdkafka_config(),
                # Assigned, not subscribed: every reader sees every subscription.
                "group.id": f"tracecode-webhooks-feed-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            },
            logger=log,
        )
        try:
            metadata = self._consumer.list_topics(topic, timeout=10)
            described = metadata.topics.get(topic)
            if described is None or described.error is not None or not described.partitions:
                raise SubscriptionsTopicError(
                    f"the subscriptions topic {topic} does not exist: run `tracecode topics apply`"
                )
            if len(described.partitions) != 1:
                raise SubscriptionsTopicError(
                    f"the subscriptions topic {topic} has {len(described.partitions)} "
                    "partitions; it needs exactly 1 so changes apply in order"
                )
            self._partition = TopicPartition(topic, 0, OFFSET_BEGINNING)
            self._consumer.assign([self._partition])
        except BaseException:
            self._consumer.close()
            raise

    def read_current(self, timeout: float = 30.0) -> dict[str, Subscription]:
        """Every subscription on the topic now: the records up to its high watermark."""
        _, high = self._consumer.get_watermark_offsets(self._partition, timeout=timeout)
        deadline = time.monotonic() + timeout
        current: dict[str, Subscription] = {}
        position = self._position()
        while position < high:
            if time.monotonic() > deadline:
                raise SubscriptionsTopicError(
                    f"read {self._topic} up to offset {position} of {high} in {timeout:.0f} s"
                )
            change = self.poll(min(1.0, timeout))
            if change is None:
                position = self._position()
                continue
            if change.subscription is None:
                current.pop(change.id, None)
            else:
                current[change.id] = change.subscription
            position = self._position()
        return current

    def poll(self, timeout: float) -> Change | None:
        """The next change, or ``None`` when none came within ``timeout`` seconds."""
        message = self._consumer.poll(timeout)
        if message is None:
            return None
        if error := message.error():
            if error.code() == KafkaError._PARTITION_EOF:
                return None
            raise SubscriptionsTopicError(f"reading {self._topic}: {error}")
        key = (message.key() or b"").decode("utf-8", errors="replace")
        value = message.value()
        if value is None:
            return Change(key, None)
        try:
            subscription = Subscription.from_json(value)
        except SubscriptionError as problem:
            log.error(
                "ignoring an unusable subscription",
                extra={"topic": self._topic, "offset": message.offset(), "error": str(problem)},
            )
            return Change(key, None)
        if subscription.id != key:
            log.error(
                "ignoring a subscription whose key is not its id",
                extra={"key": key, "id": subscription.id, "offset": message.offset()},
            )
            return Change(key, None)
        return Change(key, subscription)

    def close(self) -> None:
        self._consumer.close()

    def _position(self) -> int:
        [position] = self._consumer.position([self._partition])
        return max(0, position.offset)

    def __enter__(self) -> SubscriptionFeed:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class SubscriptionStore:
    """Adds, lists and removes subscriptions (what ``tracecode webhooks`` does)."""

    def __init__(self, connection: KafkaConnection, topic: str) -> None:
        self._connection = connection
        self._topic = topic

    def list(self) -> dict[str, Subscription]:
        """The current subscriptions, by id."""
        with SubscriptionFeed(self._connection, self._topic) as feed:
            return feed.read_current()

    def add(self, subscription: Subscription) -> None:
        """Publish ``subscription`` (replacing one of the same id)."""
        self._write(subscription.id, subscription.to_json())

    def remove(self, subscription_id: str) -> Subscription:
        """Remove a subscription; :class:`KeyError` when there is none of that id."""
        current = self.list()
        if subscription_id not in current:
            known = ", ".join(sorted(current)) or "none"
            raise KeyError(f"no subscription {subscription_id!r} (subscriptions: {known})")
        self._write(subscription_id, None)
        return current[subscription_id]

    def _write(self, key: str, value: bytes | None) -> None:
        producer = Producer(
            {**self._connection.librdkafka_config(), "acks": "all", "enable.idempotence": True},
            logger=log,
        )
        failures: list[Any] = []

        def delivered(error: Any, _message: Any) -> None:
            if error is not None:
                failures.append(error)

        producer.produce(self._topic, value, key.encode(), on_delivery=delivered)
        if producer.flush(30) or failures:
            reason = failures[0] if failures else "not acknowledged within 30 s"
            missing = failures and _missing(failures)
            hint = " (run `tracecode topics apply` first)" if missing else ""
            raise SubscriptionsTopicError(f"writing to {self._topic}: {reason}{hint}")


def _missing(failures: list[Any]) -> bool:
    return any(
        isinstance(error, KafkaError)
        and error.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC)
        for error in failures
    )
