"""The ``shipments`` table as the join reads and writes it.

The table is a Faust table in RocksDB (one database per partition) with a changelog topic; its
values are ShipmentState records in the wire encoding (:mod:`schemas.codec`). The worker writes
a state's bytes to the partition's database and sends the changelog record itself (see
:mod:`streams.runtime.exactly_once` for why), and it may process a record outside the event context
Faust's table API needs (see :mod:`streams.join.merge`). So this module reaches into the store's
driver API (``_db_for_partition`` and ``_visible_items`` of ``faust.stores.rocksdb.Store``,
faust-streaming 0.15): the one place that does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from faust.types import TP


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

    def get(self, partition: int, code: str) -> bytes | None:
        """The encoded state of ``code``, stored in ``partition``."""
        data: bytes | None = self._db(partition).get(code.encode())
        return data

    def put(self, partition: int, code: str, data: bytes) -> None:
        """Store an encoded state in ``partition`` (no changelog record: the caller sends it)."""
        self._db(partition).put(code.encode(), data)

    def delete(self, partition: int, code: str) -> None:
        """Delete the state of ``code`` from ``partition`` (the caller sends the tombstone)."""
        self._db(partition).delete(code.encode())

    def partition_values(self, partition: int) -> Iterator[bytes]:
        """Every encoded state stored in ``partition``."""
        for _key, data in self._table.data._visible_items(self._db(partition)):
            yield data

    def _db(self, partition: int) -> Any:
        return self._table.data._db_for_partition(partition)

    def changelog_delivered(self, partition: int, offset: int) -> None:
        """Record that the store holds changelog ``partition`` up to ``offset``.

        Under exactly-once the offset is written when the transaction commits (recovery then
        reads only what came after it); otherwise at once, as Faust's own tables do.
        """
        tp = TP(self.changelog_topic, partition)
        if self._in_transaction:
            self._table.app.tables.persist_offset_on_commit(self._table.data, tp, offset)
        else:
            self._table.data.set_persisted_offset(tp, offset)
