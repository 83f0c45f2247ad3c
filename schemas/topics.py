"""Names of the Kafka topics that connect the components, and what each carries.

Components receive a :class:`TopicNames` in their config; the shell's topic spec
(``tracecode.topics``) decides partitions, retention and cleanup for each name. The ``.v1``
suffix is the topic generation: a change that cannot be made in place (a partition count that
would break co-partitioning, an incompatible contract) moves to ``.v2`` topics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from schemas.records import RecordType


@dataclass(frozen=True, slots=True)
class TopicNames:
    """The topic names tracecode reads and writes."""

    scans: str = "tracecode.carrier-scans.v1"
    """Carrier scan events (``io.tracecode.CarrierScan``), keyed by canonical code."""
    dispatches: str = "tracecode.seller-dispatches.v1"
    """Seller dispatch events (``io.tracecode.SellerDispatch``), keyed by canonical code;
    co-partitioned with ``scans``."""
    status: str = "tracecode.shipment-status.v1"
    """Status changes (``io.tracecode.ShipmentStatusChanged``), compacted, keyed by code."""
    history: str = "tracecode.shipment-history.v1"
    """Accepted events with context (``io.tracecode.ShipmentHistoryRecord``), keyed by code."""
    alerts: str = "tracecode.shipment-alerts.v1"
    """Shipment alerts (``io.tracecode.ShipmentAlert``), keyed by code."""
    dead_letters: str = "tracecode.dead-letters.v1"
    """Input records that could not be decoded or validated (``io.tracecode.DeadLetter``)."""
    webhook_subscriptions: str = "tracecode.webhook-subscriptions.v1"
    """Webhook subscriptions (JSON, ``schemas.webhooks.Subscription``), compacted, keyed by
    subscription id; a tombstone removes one."""
    webhook_dead_letters: str = "tracecode.webhook-dead-letters.v1"
    """Webhook deliveries given up (``io.tracecode.DeadLetter``), keyed by subscription id."""

    def with_prefix(self, prefix: str) -> TopicNames:
        """The same topics under ``prefix`` (e.g. one isolated set per test run)."""
        return TopicNames(
            scans=prefix + self.scans,
            dispatches=prefix + self.dispatches,
            status=prefix + self.status,
            history=prefix + self.history,
            alerts=prefix + self.alerts,
            dead_letters=prefix + self.dead_letters,
            webhook_subscriptions=prefix + self.webhook_subscriptions,
            webhook_dead_letters=prefix + self.webhook_dead_letters,
        )


CARRIED: Mapping[str, RecordType] = {
    "scans": RecordType.CARRIER_SCAN,
    "dispatches": RecordType.SELLER_DISPATCH,
    "status": RecordType.SHIPMENT_STATUS_CHANGED,
    "history": RecordType.SHIPMENT_HISTORY_RECORD,
    "alerts": RecordType.SHIPMENT_ALERT,
    "dead_letters": RecordType.DEAD_LETTER,
    "webhook_dead_letters": RecordType.DEAD_LETTER,
}
"""The record type of the Avro values on each topic, by :class:`TopicNames` field (all but the
JSON subscriptions)."""
