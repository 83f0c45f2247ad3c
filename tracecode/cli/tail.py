"""``tracecode tail TOPIC``: follow a tracecode topic, decoded, as a downstream service sees it."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import click
from rich.markup import escape

from schemas.framing import Framing
from schemas.records import RecordType
from tracecode.cli._output import console, err_console
from tracecode.cli.track import TraceCodeParam
from tracecode.errors import TracecodeError
from tracecode.settings import Settings
from tracecode.tail import Tail, TailedRecord, UnknownTopicError, resolve_topic
from tracecode.topics import admin_client

_REACH_TIMEOUT_S = 5.0


@click.command()
@click.argument("topic")
@click.option("--from-beginning", is_flag=True, help="Start at the oldest retained record.")
@click.option(
    "--max",
    "max_records",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after this many records (shown ones, after --code).",
)
@click.option("--code", type=TraceCodeParam(), default=None, help="Only the records of CODE.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table: a line per record for people; json: one object per line for programs.",
)
@click.pass_obj
def tail(
    settings: Settings,
    topic: str,
    from_beginning: bool,
    max_records: int | None,
    code: str | None,
    fmt: str,
) -> None:
    """Follow TOPIC decoded, read_committed, until Ctrl-C or --max records.

    TOPIC is scans, dispatches, status, history, alerts, dead-letters or webhook-dead-letters
    (or the full name of one of them). New records only, unless --from-beginning.

    \b
      tracecode tail status
      tracecode tail history --from-beginning --code TC000000000001L
      tracecode tail alerts --from-beginning --max 10 --format json
    """
    connection = settings.kafka_connection()
    try:
        tailed = resolve_topic(topic, settings.topic_names())
        admin_client(connection, timeout=_REACH_TIMEOUT_S)  # no broker: say so, no traceback
        registry = settings.schema_registry_connection()
        framing = None if registry is None else Framing(registry, settings.topic_names())
        reader = Tail(connection, tailed, from_beginning, framing)
    except UnknownTopicError as error:
        raise TracecodeError(str(error)) from None
    summary = _SUMMARIES[tailed.record_type]

    def show(record: TailedRecord) -> None:
        if fmt == "json":
            click.echo(json.dumps(record.to_json(), ensure_ascii=False))
        else:
            _table_line(record, summary)

    shown = 0
    try:
        with reader:
            for record in reader.records():
                if code is not None and record.key != code:
                    continue
                show(record)
                shown += 1
                if max_records is not None and shown >= max_records:
                    break
    except KeyboardInterrupt:
        pass
    err_console.print(f"[dim]{shown:,} record(s) of {tailed.name}[/]")


def _table_line(record: TailedRecord, summarize: Callable[[Mapping[str, Any]], str]) -> None:
    stamp = record.timestamp.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if record.timestamp else "-"
    where = f"p{record.partition}@{record.offset}"
    if record.value is None:
        summary = f"[red]cannot decode:[/] {escape(record.error or '')}"
    else:
        summary = escape(summarize(record.value))
    console.print(f"{stamp}  {where:<10} {escape(record.key or '-')}  {summary}", soft_wrap=True)


def _place(location: Mapping[str, Any] | None) -> str:
    if not location:
        return "-"
    return ", ".join(part for part in (location.get("city"), location.get("country")) if part)


def _scan(v: Mapping[str, Any]) -> str:
    return (
        f"{v['status']}/{v['sub_status']} {v['carrier']} at {_place(v['location']) or '-'} "
        f"({v['event_time'].isoformat()})"
    )


def _dispatch(v: Mapping[str, Any]) -> str:
    return (
        f"dispatched by {v['seller_id']} (order {v['order_id']}) "
        f"{v['origin']['country']} -> {v['destination']['country']}"
    )


def _status(v: Mapping[str, Any]) -> str:
    before = f"{v['previous_status']}/{v['previous_sub_status']}" if v["previous_status"] else "-"
    after = f"{v['status']}/{v['sub_status']}"
    return f"v{v['version']} {before} -> {after} at {v['changed_at'].isoformat()}"


def _history(v: Mapping[str, Any]) -> str:
    event = f"{v['event_status']}/{v['event_sub_status']}" if v["event_status"] else v["kind"]
    late = " late" if v["late"] else ""
    return (
        f"{v['kind']} {event}{late} at {_place(v['location']) or '-'}; shipment "
        f"{v['shipment_status']}/{v['shipment_sub_status']} v{v['status_version']}"
    )


def _alert(v: Mapping[str, Any]) -> str:
    return f"{v['severity']} {v['kind']} ({v['rule']}): {v['message']}"


def _dead_letter(v: Mapping[str, Any]) -> str:
    return (
        f"{v['stage']} {v['error_class']}: {v['error_message']} "
        f"(from {v['topic']} p{v['partition']}@{v['offset']})"
    )


_SUMMARIES: dict[RecordType, Callable[[Mapping[str, Any]], str]] = {
    RecordType.SHIPMENT_STATUS_CHANGED: _status,
    RecordType.SHIPMENT_HISTORY_RECORD: _history,
    RecordType.SHIPMENT_ALERT: _alert,
    RecordType.DEAD_LETTER: _dead_letter,
    RecordType.SELLER_DISPATCH: _dispatch,
    RecordType.CARRIER_SCAN: _scan,
}
