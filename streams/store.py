"""The ``shipments`` table as the join reads and writes it.

The table is a Faust table in RocksDB (one database per partition) with a changelog topic; its
values are ShipmentState records in the wire encoding (:mod:`schemas.codec`, also registered as
the table's Faust codec). The worker writes a state's bytes to the local store and sends the
changelog record itself (see :mod:`streams.transactions` for why), so this module reaches into
the store's driver API (``_get``, ``_set``, ``_db_for_partition``, ``_visible_items`` of
``faust.stores.rocksdb.Store``, faust-streaming 0.15): the one place that does.
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

    def get(self, code: str) -> ShipmentState | None:
        """The state of ``code``: in the current event's partition while one is processed."""
        data: bytes | None = self._table.data._get(code.encode())
        return None if data is None else _STATES.decode(data)

    def get_in(self, partition: int, code: str) -> ShipmentState | None:
        """The state of ``code`` in ``partition`` (outside event processing: the web view)."""
        data: bytes | None = self._table.data._db_for_partition(partition).get(code.encode())
        return None if data is None else _STATES.decode(data)

    def put(self, code: str, data: bytes) -> None:
        """Store an encoded state in the current event's partition (no changelog record)."""
        self._table.data._set(code.encode(), data)

    def partition_states(self, partition: int) -> Iterator[ShipmentState]:
        """Every state stored in ``partition``."""
        store = self._table.data
        for _key, data in store._visible_items(store._db_for_partition(partition)):
            yield _STATES.decode(data)

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
