"""``tracecode ingest epcis``: publish the scans of an EPCIS 2.0 document (docs/epcis.md)."""

from __future__ import annotations

import sys
import time
from typing import BinaryIO

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from producers.core import ProducerStats
from producers.epcis import Capture, InvalidDocumentError, capture
from producers.events import EventKind
from producers.files import to_json_line
from schemas.validation import is_carrier_slug
from tracecode.cli._output import console, err_console
from tracecode.cli._producing import (
    delivery_progress,
    finish,
    open_producer,
    rate_text,
    stop_on_signal,
    until_stopped,
)
from tracecode.settings import Settings


def _carrier(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not is_carrier_slug(value):
        raise click.BadParameter(f"{value!r} is not a lower-case slug like 'dhl-express'")
    return value


@click.command()
@click.argument("file", type=click.File("rb"))
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the scans as JSON lines (what `tracecode ingest scans` reads); publish nothing.",
)
@click.option(
    "--carrier",
    default="epcis",
    show_default=True,
    callback=_carrier,
    help="Who sent the document: the carrier slug written into every scan.",
)
@click.pass_obj
def epcis(settings: Settings, file: BinaryIO, dry_run: bool, carrier: str) -> None:
    """Publish the scans of an EPCIS 2.0 JSON / JSON-LD document (or single event).

    ObjectEvents and AggregationEvents become one scan per traceability code; error
    declarations retract earlier events; other events are counted and skipped. A document that
    is not valid EPCIS 2.0 is rejected whole, each problem named by event and field, and
    nothing is published (exit status 1). FILE may be - for stdin.
    """
    given = getattr(file, "name", "<stdin>")
    name = "stdin" if given == "<stdin>" else str(given)
    try:
        result = capture(file.read(), carrier=carrier)
    except InvalidDocumentError as error:
        err_console.print(f"[bold red]{escape(name)}: rejected[/], nothing published")
        err_console.print(escape(str(error)), soft_wrap=True)
        sys.exit(1)
    if dry_run:
        for record in result.records:
            click.echo(to_json_line(EventKind.SCAN, record))
        _summary(name, result, None, err_console)
        return
    stats, stopped = _publish(settings, result)
    _summary(name, result, stats, console)
    if stopped is not None:
        err_console.print(
            "[yellow]stopped early:[/] part of the document was not published; run it again "
            "(its events keep their ids, the join ignores the ones it has)."
        )
        sys.exit(stopped)
    if stats.failed or stats.in_flight:
        sys.exit(1)


def _publish(settings: Settings, result: Capture) -> tuple[ProducerStats, int | None]:
    producer = open_producer(settings, "tracecode-ingest-epcis")
    started = time.monotonic()
    with stop_on_signal() as stop, delivery_progress() as progress:
        task = progress.add_task("published", total=len(result.records), rate="")
        sent = 0
        try:
            for record in until_stopped(result.records, stop):
                producer.send_scan(record)
                sent += 1
                if sent % 500 == 0:
                    rate = rate_text(sent, time.monotonic() - started)
                    progress.update(task, completed=sent, rate=rate)
        finally:
            stats = finish(producer, lambda s: progress.update(task, completed=s.acknowledged))
    return stats, stop.exit_code if stop.requested else None


def _summary(name: str, result: Capture, stats: ProducerStats | None, out: Console) -> None:
    summary = result.summary
    types = ", ".join(f"{count:,} {kind}" for kind, count in sorted(summary.events.items()))
    out.print(f"{escape(name)}: {summary.events_read:,} EPCIS events read ({escape(types)}).")
    records = f"{summary.scans:,} scans and {summary.retractions:,} retractions"
    if stats is None:
        out.print(f"{records} printed (dry run), nothing published.")
    else:
        failed = f", [red]{stats.failed:,} not delivered[/]" if stats.failed else ""
        out.print(f"{records}: {stats.acknowledged:,} acknowledged{failed}.")
    if summary.content_hash_ids:
        out.print(
            f"[yellow]{summary.content_hash_ids:,} events without eventID got a content hash "
            "as id[/]: the standard event hash could not be computed (docs/epcis.md)."
        )
    skipped = [
        *(("event", reason, n) for reason, n in summary.skipped_events.items()),
        *(("identifier", reason, n) for reason, n in summary.skipped_identifiers.items()),
    ]
    if skipped:
        table = Table("skipped", "why", "count", box=None, pad_edge=False)
        for what, reason, count in sorted(skipped):
            table.add_row(what, escape(reason), f"{count:,}")
        out.print(table)
