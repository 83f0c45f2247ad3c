"""Dead letters: a consumed record a component cannot use, with where it came from and why.

The worker dead-letters input it cannot join; the webhooks service, deliveries it gave up.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from schemas.records import DeadLetter, KafkaHeader


class Stage(StrEnum):
    """Where a record failed (``DeadLetter.stage``)."""

    DECODE = "decode"
    """The bytes are not a record of the topic's type."""
    VALIDATE = "validate"
    """A readable record that breaks a rule (or whose key is not its canonical code)."""
    PROCESS = "process"
    """A valid record the consumer failed on (a join bug, a delivery given up), kept out of the
    way of the partition."""


def dead_letter(record: Any, stage: Stage, error: BaseException, failed_at: datetime) -> DeadLetter:
    """The dead letter for an input ``record`` (a Kafka consumer record: topic, partition,
    offset, timestamp in milliseconds, key, value, headers)."""
    timestamp = record.timestamp
    return {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": datetime.fromtimestamp(timestamp / 1000, UTC) if timestamp else None,
        "key": record.key,
        "value": record.value,
        "headers": _headers(record.headers),
        "stage": stage.value,
        "error_class": type(error).__name__,
        "error_message": str(error) or repr(error),
        "failed_at": failed_at,
    }


def _headers(headers: Any) -> list[KafkaHeader]:
    items = headers.items() if isinstance(headers, dict) else (headers or ())
    return [{"key": str(key), "value": value} for key, value in items]
