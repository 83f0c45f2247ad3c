"""The batch ledger: each partition's latest batch intent, kept in ClickHouse (``sink_batches``).

A batch is recorded *pending* before its insert and *done* after ClickHouse acknowledged it.
One row per partition matters, the one with the highest version; the version grows with the
batch's last offset and a done record outranks the pending one of the same batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime

from clickhouse_connect.driver.client import Client

from sinks.batching import Batch, BatchStatus, PartitionState

TopicPartition = tuple[str, int]

_SETTINGS = {
    "async_insert": 0,
    # Two records of the same intent may be identical: both must land.
    "insert_deduplicate": 0,
}


def version(batch: Batch, status: BatchStatus) -> int:
    """Order of a ledger record among those of its partition."""
    return batch.last * 2 + (1 if status is BatchStatus.DONE else 0)


class BatchLedger:
    """Reads and records batch intents through a clickhouse-connect client."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def check(self) -> None:
        """Raise unless ClickHouse answers a query of the ledger's database."""
        self._client.command("SELECT 1")

    def load(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, PartitionState]:
        """The latest intent of each of ``partitions`` that has one."""
        wanted = set(partitions)
        if not wanted:
            return {}
        rows = self._client.query(
            "SELECT topic, partition, argMax(first_offset, version), argMax(last_offset, version),"
            " toString(argMax(status, version)) FROM sink_batches"
            " WHERE topic IN {topics:Array(String)} GROUP BY topic, partition",
            parameters={"topics": sorted({topic for topic, _ in wanted})},
        ).result_rows
        return {
            (topic, int(partition)): PartitionState(int(first), int(last), BatchStatus(status))
            for topic, partition, first, last, status in rows
            if (topic, int(partition)) in wanted
        }

    def record(self, marks: Iterable[tuple[Batch, BatchStatus]]) -> None:
        """Record each batch of ``marks`` as its status, in one insert."""
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "")
        lines = [
            json.dumps(
                {
                    "partition_key": f"{batch.topic}:{batch.partition}",
                    "topic": batch.topic,
                    "partition": batch.partition,
                    "first_offset": batch.first,
                    "last_offset": batch.last,
                    "status": status.value,
                    "version": version(batch, status),
                    "updated_at": now,
                }
            )
            for batch, status in marks
        ]
        # A raw insert: the ledger is on the hot path, and clickhouse-connect's row insert
        # would load pandas on first use.
        self._client.raw_insert(
            "sink_batches", insert_block="\n".join(lines), fmt="JSONEachRow", settings=_SETTINGS
        )
