"""The ``shipments`` table as the join reads and writes it.

The table is a Faust table in RocksDB (one database per partition) with a changelog topic; its
values are ShipmentState records in the wire encoding (:mod:`schemas.codec`). The worker writes
a state's bytes to the partition's database and sends the changelog record itself (see
:mod:`streams.transactions` for why), and it may process a record outside the event context
Faust's table API needs (see :mod:`streams.merge`). So this module reaches into the store's
driver API (``_db_for_partition`` and ``_visible_items`` of ``faust.stores.rocksdb.Store``,
faust-streaming 0.15): the one place that does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from faust.types import TP, RecordMetadata

from schemas.codec import codec_for
from schemas.records import RecordType, ShipmentState

_STATES = codec_for(RecordType.SHIPMENT_STATE)


class ShipmentStore:
    """Encoded states by canonical code, on top of the Faust table's RocksDB store."""

    def __init__(self, table: Any, in_transaction: bool) -> None:
        self._table = table
        self._in_transaction = in_transaction

    @property
    def changelog_topic(self) -> str:
        """The table's changelog topic."""
        name: str = self._table.changelog_topic.get_topic_name()
        return name

    def get(self, partition: int, code: str) -> ShipmentState | None:
        """The state of ``code``, stored in ``partition``."""
        data: bytes | None = self._db(partition).get(code.encode())
        return None if data is None else _STATES.decode(data)

    def put(self, partition: int, code: str, data: bytes) -> None:
        """Store an encoded state in ``partition`` (no changelog record: the caller sends it)."""
        self._db(partition).put(code.encode(), data)

    def delete(self, partition: int, code: str) -> None:
        """Delete the state of ``code`` from ``partition`` (the caller sends the tombstone)."""
        self._db(partition).delete(code.encode())

    def partition_states(self, partition: int) -> Iterator[ShipmentState]:
        """Every state stored in ``partition``."""
        for _key, data in self._table.data._visible_items(self._db(partition)):
            yield _STATES.decode(data)

    def _db(self, partition: int) -> Any:
        return self._table.data._db_for_partition(partition)

    def changelog_delivered(self, metadata: RecordMetadata) -> None:
        """Record that the store holds the changelog up to ``metadata``'s offset.

        Under exactly-once the offset is written when the transaction commits (recovery then
        reads only what came after it); otherwise at once, as Faust's own tables do.
        """
        tp = TP(metadata.topic_partition.topic, metadata.topic_partition.partition)
        if self._in_transaction:
            self._table.app.tables.persist_offset_on_commit(self._table.data, tp, metadata.offset)
        else:
            self._table.data.set_persisted_offset(tp, metadata.offset)


def encode_state(state: ShipmentState) -> bytes:
    """A state in the wire encoding, as the table and its changelog hold it."""
    return _STATES.encode(state)
