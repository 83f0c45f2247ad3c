"""Shipment history from ClickHouse over its HTTP interface, read-only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError
from clickhouse_connect.driver.query import QueryResult

from api.config import HistoryTarget
from api.tracking import HistoryUnavailableError


class ClickHouseHistory:
    """A read-only connection to the history (``readonly = 1`` on every query)."""

    def __init__(self, client: Client, via: str) -> None:
        self._client = client
        self.via = via

    @classmethod
    def open(cls, target: HistoryTarget) -> ClickHouseHistory:
        """Connect; :class:`HistoryUnavailableError` when ClickHouse does not answer."""
        try:
            client = clickhouse_connect.get_client(
                dsn=target.url,
                database=target.database,
                username=target.username or "default",
                password=target.password or "",
                connect_timeout=target.timeout_s,
                send_receive_timeout=target.timeout_s,
                settings={"readonly": 1},
                tz_mode="aware",
                compress=False,
            )
        except (ClickHouseError, OSError) as error:
            raise HistoryUnavailableError(
                f"ClickHouse at {target.url} did not answer ({error}); start the sink "
                "(`tracecode sink`) for the embedded store, or check the server"
            ) from None
        return cls(client, f"ClickHouse at {target.url}")

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> QueryResult:
        return self._client.query(sql, parameters=dict(parameters or {}))

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ClickHouseHistory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
