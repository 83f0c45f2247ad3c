"""aiokafka's producer, made to ride out a broker outage.

Two faults of aiokafka 0.14's producer show when the broker stops under a running worker:

- the sender retries a failed coordinator lookup only for three error types; a connection the
  broker closes while the lookup is in flight (``KafkaConnectionError``, retriable) ends the
  sender for good, every later commit of that producer fails, and the worker stops;
- while a partition has no known leader, the sender asks for new metadata and waits for the
  answer, with no backoff: a broker that refuses connections answers at once, and the sender
  loops, logging thousands of failed updates a second for the whole outage.

:class:`OutageTolerantProducer` gives each producer a client that turns the first into the
lookup error the sender retries, and waits the retry backoff after a failed metadata update.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import (
    CoordinatorNotAvailableError,
    KafkaError,
    NodeNotReadyError,
    RequestTimedOutError,
)

_RETRIED_BY_SENDER = (CoordinatorNotAvailableError, NodeNotReadyError, RequestTimedOutError)
"""What aiokafka's sender retries when a coordinator lookup fails; anything else ends it."""


class OutageTolerantClient(AIOKafkaClient):  # type: ignore[misc]  # aiokafka is untyped
    """The producer's connection to the cluster, with the two fixes described above."""

    async def coordinator_lookup(self, coordinator_type: Any, coordinator_key: str) -> int:
        """The coordinator's broker; a lookup the broker could not answer now raises an
        error the sender retries."""
        if self.get_random_node() is None:
            raise NodeNotReadyError("no broker known to ask for a coordinator")
        try:
            coordinator: int = await super().coordinator_lookup(coordinator_type, coordinator_key)
        except _RETRIED_BY_SENDER:
            raise
        except KafkaError as error:
            if not error.retriable:
                raise
            raise CoordinatorNotAvailableError(
                f"coordinator lookup for {coordinator_key!r} failed: {error!r}"
            ) from error
        return coordinator

    async def _metadata_update(self, cluster_metadata: Any, topics: Any) -> bool:
        updated: bool = await super()._metadata_update(cluster_metadata, topics)
        if not updated:
            # Every caller waiting for this update retries as soon as it ends.
            await asyncio.sleep(self._retry_backoff)
        return updated


class OutageTolerantProducer(AIOKafkaProducer):  # type: ignore[misc]  # aiokafka is untyped
    """aiokafka's producer on an :class:`OutageTolerantClient`."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        # The producer builds its client itself; the subclass adds behaviour, no state.
        self.client.__class__ = OutageTolerantClient
