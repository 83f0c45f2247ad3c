"""Read-only queries for analysts, the CLI, ``tracecode track`` and the demo.

:meth:`QueryClient.open` picks the way to the store: a ClickHouse server directly; for the
embedded store, the running sink's query endpoint (:mod:`sinks.endpoint`) when it answers,
else chDB in this process. Every way is a clickhouse-connect client whose connection runs with
``readonly = 1``, and every statement passes :func:`sinks.sql.check_read_only` first.

Saved queries are the ``.sql`` files in ``sinks/queries``. Their header says what they do and
which parameters they take::

    -- Every event of one shipment in event-time order.
    -- @param code String  canonical traceability code
    -- @param limit UInt32 = 100  most rows returned

Parameters are bound by ClickHouse (``{code:String}`` placeholders), never spliced into SQL.
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.query import QueryResult

from sinks.clickhouse import StoreBusyError, connect
from sinks.config import ClickHouseTarget
from sinks.sql import check_read_only

_READ_ONLY = {"readonly": 1}
_PARAM = re.compile(
    r"^--\s*@param\s+(?P<name>[A-Za-z_]\w*)\s+(?P<type>[A-Za-z][\w(), ']*?)"
    r"(?:\s*=\s*(?P<default>\S+))?(?:\s{2,}(?P<doc>.*))?\s*$"
)
_PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*):")


class QueryError(ValueError):
    """A query or its parameters cannot be run; the message says why."""


@dataclass(frozen=True, slots=True)
class Param:
    """A parameter of a saved query."""

    name: str
    type: str
    default: str | None
    description: str


@dataclass(frozen=True, slots=True)
class SavedQuery:
    """A named query from ``sinks/queries``."""

    name: str
    description: str
    params: tuple[Param, ...]
    sql: str

    def bind(self, values: Mapping[str, str]) -> dict[str, str]:
        """The parameter values to send: ``values`` plus defaults; raises :class:`QueryError`."""
        known = {param.name for param in self.params}
        unknown = sorted(set(values) - known)
        if unknown:
            raise QueryError(
                f"query {self.name!r} has no parameter {', '.join(unknown)}; "
                f"it takes: {', '.join(sorted(known)) or 'none'}"
            )
        bound: dict[str, str] = {}
        for param in self.params:
            value = values.get(param.name, param.default)
            if value is None:
                raise QueryError(
                    f"query {self.name!r} needs --param {param.name}=<{param.type}>"
                    f" ({param.description})"
                )
            bound[param.name] = value
        return bound


def saved_queries() -> dict[str, SavedQuery]:
    """The saved queries by name."""
    found: dict[str, SavedQuery] = {}
    for entry in sorted((resources.files("sinks") / "queries").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            query = parse_saved(entry.name.removesuffix(".sql"), entry.read_text("utf-8"))
            found[query.name] = query
    return found


def parse_saved(name: str, text: str) -> SavedQuery:
    """Read a saved query's header; the placeholders must match the declared parameters."""
    description = ""
    params: list[Param] = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        match = _PARAM.match(line)
        if match is not None:
            params.append(Param(match["name"], match["type"], match["default"], match["doc"] or ""))
        elif not description:
            description = line.lstrip("- ").strip()
    declared = {param.name for param in params}
    used = set(_PLACEHOLDER.findall(text))
    if declared != used:
        raise ValueError(
            f"saved query {name}: declared parameters {sorted(declared)} but the SQL uses "
            f"{sorted(used)}"
        )
    return SavedQuery(name, description, tuple(params), text)


class QueryClient:
    """Runs read-only statements against the store."""

    def __init__(self, client: Client, via: str) -> None:
        self._client = client
        self.via = via
        """How the store is reached, for people."""

    @classmethod
    def open(cls, target: ClickHouseTarget, endpoint_port: int | None = None) -> QueryClient:
        """Connect to ``target`` (through the sink's endpoint on ``endpoint_port`` if it runs)."""
        if not target.embedded:
            return cls(connect(target, settings=_READ_ONLY), target.describe())
        if endpoint_port is not None and endpoint_answers(endpoint_port):
            return cls._via_endpoint(target, endpoint_port)
        try:
            return cls(connect(target, settings=_READ_ONLY), target.describe())
        except StoreBusyError:
            # The sink may have taken the folder since we looked: its endpoint is the way in.
            if endpoint_port is not None and endpoint_answers(endpoint_port):
                return cls._via_endpoint(target, endpoint_port)
            raise

    @classmethod
    def _via_endpoint(cls, target: ClickHouseTarget, port: int) -> QueryClient:
        client = clickhouse_connect.get_client(
            dsn=f"http://127.0.0.1:{port}",
            database=target.database,
            tz_mode="aware",
            compress=False,
        )
        return cls(client, f"the sink's query endpoint http://127.0.0.1:{port}")

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> QueryResult:
        """Run one read-only statement; rows come back as Python values."""
        statement = check_read_only(sql)
        return self._client.query(statement, parameters=dict(parameters or {}))

    def raw(self, sql: str, fmt: str, parameters: Mapping[str, Any] | None = None) -> bytes:
        """Run one read-only statement; ClickHouse renders the result in format ``fmt``."""
        statement = check_read_only(sql)
        return self._client.raw_query(statement, parameters=dict(parameters or {}), fmt=fmt)

    def close(self) -> None:
        """Release the connection."""
        self._client.close()

    def __enter__(self) -> QueryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def endpoint_answers(port: int) -> bool:
    """Whether a ClickHouse HTTP endpoint (the running sink's) answers on 127.0.0.1:``port``."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1.0) as response:
            return bool(response.read() == b"Ok.\n")
    except OSError:
        return False
