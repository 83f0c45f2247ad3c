"""Which table each consumed topic fills, and through which staging table.

The sink inserts a batch of one topic into its ``*_avro`` staging table (engine Null: it keeps
nothing); that table's materialized view maps the Avro fields to the columns of the real
table (``sinks/migrations``), whose own views feed the rollups.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.codec import RecordType
from schemas.topics import TopicNames


@dataclass(frozen=True, slots=True)
class Table:
    """Where the records of one topic go."""

    name: str
    """The table analysts query."""
    staging: str
    """The table the sink inserts into."""
    record_type: RecordType


def tables(topics: TopicNames) -> dict[str, Table]:
    """The table of each consumed topic."""
    return {
        topics.history: Table(
            "shipment_events", "shipment_events_avro", RecordType.SHIPMENT_HISTORY_RECORD
        ),
        topics.status: Table(
            "shipment_state", "shipment_state_avro", RecordType.SHIPMENT_STATUS_CHANGED
        ),
        topics.alerts: Table("alerts", "alerts_avro", RecordType.SHIPMENT_ALERT),
    }
