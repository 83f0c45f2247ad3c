"""Sending what the join produces: under exactly-once, inside the input partition's transaction."""

from __future__ import annotations

from collections.abc import Callable

from faust.types import TP, RecordMetadata

from streams.transactions import CheckedProducer, JoinApp


class OutputSender:
    """Hands records to the producer; delivery is awaited by the commit, never per record."""

    def __init__(self, app: JoinApp) -> None:
        self._app = app
        self._transactional_ids: dict[TP, str] = {}
        self._generation = -1

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        source: TP,
        partition: int | None = None,
        on_delivered: Callable[[RecordMetadata], None] | None = None,
    ) -> None:
        """Queue one record caused by a record of input partition ``source``.

        ``partition`` ``None`` lets the producer partition by key (murmur2, like the producers
        of the input topics); ``on_delivered`` is called with the record's metadata once the
        broker has it.
        """
        app = self._app
        producer = app.producer
        assert isinstance(producer, CheckedProducer)
        transactional_id = self._transactional_id(source) if app.in_transaction else None
        await producer.send_record(topic, key, value, partition, transactional_id, on_delivered)
        if transactional_id is not None:
            app.open_transactions[transactional_id] = source.partition

    def _transactional_id(self, source: TP) -> str:
        if self._app.consumer_generation_id != self._generation:
            self._generation = self._app.consumer_generation_id
            self._transactional_ids.clear()
        transactional_id = self._transactional_ids.get(source)
        if transactional_id is None:
            transactional_id = self._transactional_ids[source] = self._app.transactional_id(source)
        return transactional_id
