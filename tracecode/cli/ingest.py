"""``tracecode ingest``: publish events from files (docs/ingest.md)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import TextIO

import click
from rich.markup import escape

from producers.core import EventProducer, ProducerStats
from producers.events import EventKind, InputRecord, encode_event
from producers.files import FileItem, InputFormat, read_events
from producers.replay import ReplayReport, replay
from tracecode.cli._output import console, err_console
from tracecode.cli._producing import (
    Stop,
    delivery_progress,
    finish,
    open_producer,
    rate_text,
    stop_on_signal,
    until_stopped,
)
from tracecode.settings import Settings


@click.group()
def ingest() -> None:
    """Publish events from files: JSON lines of scans or dispatches, CSV of dispatches,
    EPCIS 2.0 documents.

    Each bad line is reported with its number and reason and skipped; the exit status is 1
    when any line was rejected. FILE may be - for stdin. docs/ingest.md describes the formats,
    docs/epcis.md the EPCIS capture (a document is taken or rejected as a whole).
    """


def _common(command: Callable[..., None]) -> Callable[..., None]:
    command = click.option("--dry-run", is_flag=True, help="Check every line, publish nothing.")(
        command
    )
    command = click.option(
        "--strict",
        is_flag=True,
        help="Stop at the first bad line: nothing after it is published (the lines before it are).",
    )(command)
    return click.argument("file", type=click.File("r", encoding="utf-8"))(command)


@ingest.command()
@_common
@click.pass_obj
def scans(settings: Settings, file: TextIO, strict: bool, dry_run: bool) -> None:
    """Publish carrier scans from JSON lines, such as `tracecode simulate --dry-run` writes."""
    _ingest(settings, file, EventKind.SCAN, InputFormat.JSONL, strict=strict, dry_run=dry_run)


@ingest.command()
@_common
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "jsonl", "csv"]),
    default="auto",
    show_default=True,
    help="Input format; auto: CSV for *.csv files, else JSON lines.",
)
@click.pass_obj
def dispatches(settings: Settings, file: TextIO, strict: bool, dry_run: bool, fmt: str) -> None:
    """Publish seller dispatches from JSON lines or CSV."""
    if fmt == "auto":
        fmt = "csv" if getattr(file, "name", "").lower().endswith(".csv") else "jsonl"
    _ingest(settings, file, EventKind.DISPATCH, InputFormat(fmt), strict=strict, dry_run=dry_run)


def _ingest(
    settings: Settings,
    file: TextIO,
    kind: EventKind,
    fmt: InputFormat,
    *,
    strict: bool,
    dry_run: bool,
) -> None:
    name = "stdin" if file.name == "<stdin>" else file.name
    producer = None if dry_run else open_producer(settings, f"tracecode-ingest-{kind.plural}")
    started = time.monotonic()
    stats: ProducerStats | None = None
    with stop_on_signal() as stop, delivery_progress() as progress:
        task = progress.add_task("published" if producer else "checked", total=None, rate="")
        shown = 0

        def on_line(report: ReplayReport) -> None:
            nonlocal shown
            for error in report.rejected[shown:]:
                # One rejected line per output line, never wrapped: people grep these.
                progress.console.print(
                    f"[red]{escape(name)}:{escape(str(error))}[/]", soft_wrap=True
                )
            shown = len(report.rejected)
            if report.published % 500 == 0:
                seconds = time.monotonic() - started
                progress.update(
                    task, completed=report.published, rate=rate_text(report.published, seconds)
                )

        send = _sender(kind, producer)
        try:
            report = replay(_lines(file, kind, fmt, stop), send, strict=strict, on_line=on_line)
        finally:
            if producer is not None:
                stats = finish(producer, lambda s: progress.update(task, completed=s.acknowledged))
        progress.update(task, completed=report.published)
    _summary(f"{name}: {kind.plural}", report, stats, time.monotonic() - started, stop)
    if stop.requested:
        sys.exit(stop.exit_code)
    if report.rejected or (stats is not None and (stats.failed or stats.in_flight)):
        sys.exit(1)


def _lines(file: TextIO, kind: EventKind, fmt: InputFormat, stop: Stop) -> Iterator[FileItem]:
    return until_stopped(read_events(file, kind, fmt), stop)


def _sender(kind: EventKind, producer: EventProducer | None) -> Callable[[InputRecord], None]:
    if producer is not None:
        return partial(producer.send, kind)

    def check(record: InputRecord) -> None:
        encode_event(kind, record)

    return check


def _summary(
    what: str,
    report: ReplayReport,
    stats: ProducerStats | None,
    elapsed: float,
    stop: Stop,
) -> None:
    verb = "checked" if stats is None else "published"
    parts = [f"{report.published:,} {verb}"]
    if stats is not None:
        parts.append(f"{stats.acknowledged:,} acknowledged")
        if stats.failed:
            parts.append(f"[red]{stats.failed:,} not delivered[/]")
    parts.append(
        f"[red]{len(report.rejected):,} lines rejected[/]" if report.rejected else "0 rejected"
    )
    if report.other_kind:
        parts.append(f"{report.other_kind:,} lines of the other kind skipped")
    console.print(
        f"{escape(what)}: " + ", ".join(parts) + f" in {elapsed:.1f} s "
        f"({rate_text(report.published, elapsed)})."
    )
    if report.stopped_at is not None:
        err_console.print(
            f"[yellow]stopped at line {report.stopped_at} (--strict):[/] the lines before it "
            f"were {verb}, nothing after it; fix the line and run the whole file again "
            "(events keep their ids, the join ignores the ones it has)."
        )
    elif stop.requested:
        err_console.print("[yellow]stopped early:[/] the rest of the file was not read.")
