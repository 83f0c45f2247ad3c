"""How far the pipeline got: the join (workers) and the store (sink), since a baseline.

*Joined* means the workers' consumer group has committed every record of both input topics.
Under exactly-once the worker commits an input offset in the same Kafka transaction as the
state changes, history records, status changes and alerts the record caused, so once the
offsets are committed, all their outputs are in the output topics.

*Stored* means the sink's consumer group has committed past every committed record of the
history, status and alerts topics. The sink commits a batch's offsets only after ClickHouse
acknowledged its rows, so from then on the tables hold them. The outputs are transactional:
their offsets include transaction markers, so "nothing left" is decided by reading what is
left (:meth:`tracecode.lag.KafkaOffsets.count`), not by offset arithmetic.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from schemas.topics import TopicNames
from sinks.query import QueryClient
from tracecode.endpoints import EndpointError, scrape, total
from tracecode.lag import GroupLag, KafkaOffsets

logger = logging.getLogger(__name__)

_EXACT_LIMIT = 2_000
"""Up to this lag, what is left is counted by reading it."""
# Events and alerts are plain MergeTrees: count() is the rows stored. shipment_state merges
# a code's versions away, so it is counted per code.
_COUNTS_SQL = """
SELECT
    (SELECT count() FROM shipment_events),
    (SELECT count() FROM alerts),
    (SELECT count() FROM shipment_state FINAL)
"""
_WORKER_COUNTERS = ("tracecode_streams_alerts_total", "tracecode_streams_status_changes_total")


@dataclass(frozen=True, slots=True)
class JoinProgress:
    """The workers' progress since the baseline."""

    processed: int
    """Input records the workers committed."""
    lag: int
    """Input records not processed yet."""
    done: bool
    alerts: int | None
    """Alerts the workers emitted (None: their metrics did not answer)."""
    status_changes: int | None


@dataclass(frozen=True, slots=True)
class Stored:
    """What the tables hold."""

    events: int
    """History rows (``shipment_events``): one per accepted event."""
    alerts: int
    shipments: int
    """Codes with a status (``shipment_state FINAL``)."""


@dataclass(frozen=True, slots=True)
class StoreProgress:
    """The sink's progress since the baseline."""

    added: Stored
    """Events and alerts stored since the baseline, and shipments added."""
    lag: int
    """Records of the output topics the sink has not stored (offsets, transaction markers
    included, while there are more than can be counted quickly)."""
    done: bool


class Watcher:
    """Measures the join and the store against a baseline taken before producing."""

    def __init__(
        self,
        offsets: KafkaOffsets,
        topics: TopicNames,
        worker_group: str,
        sink_group: str,
        worker_urls: Sequence[str],
        client: QueryClient,
    ) -> None:
        self._offsets = offsets
        self._inputs = [topics.scans, topics.dispatches]
        self._outputs = [topics.history, topics.status, topics.alerts]
        self._worker_group = worker_group
        self._sink_group = sink_group
        self._worker_urls = list(worker_urls)
        self._client = client
        self._consumed = 0
        self._stored = Stored(0, 0, 0)
        self._counters: dict[str, float] | None = None
        self.backlog = 0
        """Input records waiting for the workers at the baseline (from earlier runs)."""

    def baseline(self) -> None:
        """Take the starting point: input offsets committed, table rows, worker counters."""
        lag = self._join_lag()
        self._consumed, self.backlog = lag.consumed, lag.total
        self._stored = self.stored()
        self._counters = self._worker_counters()

    def join(self) -> JoinProgress:
        lag = self._join_lag()
        counters = self._worker_counters()
        before = self._counters
        alerts = status_changes = None
        if counters is not None and before is not None:
            alerts = round(counters[_WORKER_COUNTERS[0]] - before[_WORKER_COUNTERS[0]])
            status_changes = round(counters[_WORKER_COUNTERS[1]] - before[_WORKER_COUNTERS[1]])
        left = self._left(lag)
        return JoinProgress(
            processed=lag.consumed - self._consumed,
            lag=left,
            done=left == 0,
            alerts=alerts,
            status_changes=status_changes,
        )

    def store(self) -> StoreProgress:
        left = self._left(self._offsets.group_lag(self._sink_group, self._outputs))
        now, before = self.stored(), self._stored
        added = Stored(
            now.events - before.events, now.alerts - before.alerts, now.shipments - before.shipments
        )
        return StoreProgress(added=added, lag=left, done=left == 0)

    def stored(self) -> Stored:
        """What the tables the sink writes hold now."""
        events, alerts, shipments = self._client.query(_COUNTS_SQL).result_rows[0]
        return Stored(int(events), int(alerts), int(shipments))

    def _join_lag(self) -> GroupLag:
        return self._offsets.group_lag(self._worker_group, self._inputs)

    def _left(self, lag: GroupLag) -> int:
        """Records left after the group's position: counted when few, else the offsets."""
        if lag.total == 0:
            return 0
        left = self._offsets.remaining(lag, _EXACT_LIMIT)
        return lag.total if left is None else sum(left.values())

    def _worker_counters(self) -> dict[str, float] | None:
        counters = dict.fromkeys(_WORKER_COUNTERS, 0.0)
        try:
            for url in self._worker_urls:
                samples = scrape(f"{url}/metrics", timeout=2.0)
                for name in _WORKER_COUNTERS:
                    counters[name] += total(samples, name)
        except EndpointError as error:
            logger.info("worker metrics unavailable", extra={"error": str(error)})
            return None
        return counters
