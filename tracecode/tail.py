"""Following a tracecode topic decoded, as ``tracecode tail`` does: kcat for our encoding.

The records are read ``read_committed`` (what a downstream service sees: nothing of an aborted
transaction), by assigning every partition of the topic directly, so no consumer group is
joined and nothing is committed. Each value is decoded with the topic's contract
(``schemas.codec``); a record that does not decode is shown as such, never skipped silently.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaException, TopicPartition

from schemas.codec import codec_for
from schemas.errors import CodecError
from schemas.framing import Framing, SchemaRegistryRequestError
from schemas.kafka import KafkaConnection
from schemas.records import RecordType, to_json
from schemas.topics import CARRIED, TopicNames

logger = logging.getLogger(__name__)

_SHORT_NAMES = {field.replace("_", "-"): field for field in CARRIED}
"""What ``tracecode tail`` accepts besides a full name: ``dead-letters`` for the
:class:`TopicNames` field ``dead_letters``, and so on."""


class UnknownTopicError(ValueError):
    """The name is none of the topics tracecode reads or writes."""


@dataclass(frozen=True, slots=True)
class TailedTopic:
    """A topic to follow and the record type of its values."""

    name: str
    record_type: RecordType


def resolve_topic(name: str, topics: TopicNames) -> TailedTopic:
    """``name`` as a short name (``status``) or a configured topic's full name."""
    for short, field in _SHORT_NAMES.items():
        full = getattr(topics, field)
        if name in (short, full):
            return TailedTopic(full, CARRIED[field])
    known = ", ".join(
        f"{short} ({getattr(topics, field)})" for short, field in _SHORT_NAMES.items()
    )
    raise UnknownTopicError(f"no tracecode topic {name!r}; one of: {known}")


@dataclass(frozen=True, slots=True)
class TailedRecord:
    """One record of the topic, decoded, or why it could not be."""

    topic: str
    partition: int
    offset: int
    timestamp: datetime | None
    key: str | None
    value: Mapping[str, Any] | None
    error: str | None = None
    """Why the value did not decode (``value`` is then ``None``)."""

    def to_json(self) -> dict[str, Any]:
        """One line of ``--format json``: the record's position, key and decoded value."""
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": self.timestamp.isoformat() if self.timestamp else None,
            "key": self.key,
            "value": to_json(self.value),
            "error": self.error,
        }


def decode(topic: TailedTopic, message: Any, framing: Framing | None = None) -> TailedRecord:
    """A consumed confluent-kafka message of ``topic`` as a :class:`TailedRecord`; with
    ``framing``, Confluent framed values are read too."""
    _, stamp = message.timestamp()
    timestamp = None if stamp < 0 else datetime.fromtimestamp(stamp / 1000, UTC)
    raw_key = message.key()
    key = None if raw_key is None else raw_key.decode("utf-8", errors="replace")
    value: Mapping[str, Any] | None = None
    error = None
    try:
        data = message.value() or b""
        if framing is not None:
            data = framing.single_object(data)
        value = codec_for(topic.record_type).decode(data)
    except (CodecError, SchemaRegistryRequestError) as failure:
        error = str(failure)
    return TailedRecord(
        message.topic(), message.partition(), message.offset(), timestamp, key, value, error
    )


class Tail:
    """Reads one topic, from its start or from now on, until closed."""

    def __init__(
        self,
        connection: KafkaConnection,
        topic: TailedTopic,
        from_beginning: bool,
        framing: Framing | None = None,
    ) -> None:
        self._topic = topic
        self._framing = framing
        self._consumer = Consumer(
            {
                **connection.librdkafka_config(),
                # Partitions are assigned, not subscribed: this group never joins or commits.
                "group.id": f"tracecode-tail-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            },
            logger=logger,
        )
        metadata = self._consumer.list_topics(topic.name, timeout=10)
        described = metadata.topics.get(topic.name)
        if described is None or described.error is not None or not described.partitions:
            self._consumer.close()
            reason = described.error if described is not None else "not found"
            raise UnknownTopicError(
                f"topic {topic.name} cannot be read ({reason}); `tracecode topics apply` "
                "creates the topics"
            )
        start = OFFSET_BEGINNING if from_beginning else OFFSET_END
        self._consumer.assign(
            [TopicPartition(topic.name, partition, start) for partition in described.partitions]
        )

    def records(self, poll_s: float = 0.5) -> Iterator[TailedRecord]:
        """Every record from the start position on, as it arrives; ends only when closed."""
        while True:
            message = self._consumer.poll(poll_s)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.retriable():
                    logger.warning("reading failed, retrying", extra={"error": str(error)})
                    continue
                raise KafkaException(error)
            yield decode(self._topic, message, self._framing)

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> Tail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
