"""``tracecode query``: read-only SQL and saved queries against the shipment history."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import click
from clickhouse_connect.driver.exceptions import ClickHouseError
from rich import box
from rich.markup import escape
from rich.table import Table

from schemas.codes import parse_code
from schemas.errors import InvalidCodeError
from sinks.clickhouse import StoreBusyError
from sinks.query import QueryClient, QueryError, SavedQuery, saved_queries
from sinks.sql import ReadOnlyViolation
from tracecode.cli._output import console
from tracecode.errors import TracecodeError
from tracecode.settings import Settings

_RAW_FORMATS = {"csv": "CSVWithNames", "json": "JSONEachRow"}


@click.command()
@click.argument("sql", required=False)
@click.option(
    "--saved",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="NAME",
    help="Run the saved query NAME; without NAME, list the saved queries.",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="Value of a {NAME:Type} placeholder, bound by ClickHouse (repeatable).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="table for people; csv (with a header) or json (one object per line) for programs.",
)
@click.pass_obj
def query(
    settings: Settings, sql: str | None, saved: str | None, params: tuple[str, ...], fmt: str
) -> None:
    """Run a read-only SQL statement, or a saved query, against the shipment history.

    Only SELECT, WITH ... SELECT, SHOW, DESCRIBE and EXPLAIN run. Tables: see docs/sink.md.

    \b
      tracecode query "SELECT status, count() FROM shipment_state FINAL GROUP BY status"
      tracecode query --saved
      tracecode query --saved timeline --param code=TC0000000001
    """
    if saved == "" and sql is None:
        _list_saved()
        return
    if (saved is None) == (sql is None):
        raise TracecodeError(
            "give either a SQL statement or --saved NAME",
            hint="`tracecode query --saved` lists the saved queries",
        )
    values = _parse_params(params)
    if saved:
        query_ = _saved(saved)
        try:
            values = query_.bind(_canonical_codes(query_, values))
        except QueryError as error:
            raise TracecodeError(str(error)) from None
        sql = query_.sql
    assert sql is not None
    config = settings.sink_config()
    try:
        with QueryClient.open(config.clickhouse, config.query_port) as client:
            if fmt in _RAW_FORMATS:
                sys.stdout.buffer.write(client.raw(sql, _RAW_FORMATS[fmt], values))
                sys.stdout.buffer.flush()
                return
            result = client.query(sql, values)
    except ReadOnlyViolation as error:
        raise TracecodeError(
            f"refused: {error}",
            hint="tracecode query only reads: SELECT, WITH ... SELECT, SHOW, DESCRIBE, EXPLAIN",
        ) from None
    except StoreBusyError as error:
        raise TracecodeError(
            str(error), hint="start the sink (its query endpoint serves queries while it runs)"
        ) from None
    except ClickHouseError as error:
        raise TracecodeError(f"ClickHouse: {_first_line(error)}") from None
    _print_table(result.column_names, result.result_rows)


def _list_saved() -> None:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("name", no_wrap=True)
    table.add_column("what it shows")
    table.add_column("parameters")
    for query_ in saved_queries().values():
        table.add_row(
            query_.name,
            escape(query_.description),
            escape(
                ", ".join(
                    f"{p.name} ({p.type}{f', default {p.default}' if p.default else ''})"
                    for p in query_.params
                )
            ),
        )
    console.print(table)


def _saved(name: str) -> SavedQuery:
    queries = saved_queries()
    if name not in queries:
        raise TracecodeError(
            f"no saved query {name!r}",
            hint=f"saved queries: {', '.join(queries)} (`tracecode query --saved` describes them)",
        )
    return queries[name]


def _parse_params(params: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    for param in params:
        name, sep, value = param.partition("=")
        if not sep or not name.strip():
            raise TracecodeError(f"--param {param!r} is not NAME=VALUE")
        values[name.strip()] = value
    return values


def _canonical_codes(query_: SavedQuery, values: dict[str, str]) -> dict[str, str]:
    # Tables hold canonical codes; accept any spelling a person may paste.
    if "code" not in values or not any(p.name == "code" for p in query_.params):
        return values
    try:
        return {**values, "code": parse_code(values["code"]).canonical}
    except InvalidCodeError as error:
        raise TracecodeError(f"--param code: {error}") from None


def _print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    if not rows:
        console.print("[dim](no rows)[/]")
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_cell(value) for value in row))
    console.print(table)
    console.print(f"[dim]{len(rows)} row{'s' if len(rows) != 1 else ''}[/]")


def _cell(value: Any) -> str:
    if value is None:
        return "[dim]-[/]"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="milliseconds")
    return escape(str(value))


def _first_line(error: Exception) -> str:
    text = str(error)
    start = text.find("Code: ")
    return (text[start:] if start >= 0 else text).splitlines()[0]
