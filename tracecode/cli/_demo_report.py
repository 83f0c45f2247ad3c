"""The demo's closing report, for people."""

from __future__ import annotations

import shlex
from urllib.parse import quote

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from api.tracking import Tracking
from tracecode.cli._tracking import tracking_view
from tracecode.demo.report import Report
from tracecode.endpoints import shipment_url
from tracecode.stack import LocalStack


def render_report(console: Console, report: Report, stack: LocalStack, *, kept: bool) -> None:
    """Print ``report``; ``stack`` says what still runs (for the commands to try next)."""
    run = report.run
    console.print()
    console.rule("[bold]tracecode demo report")
    console.print(
        f"Simulated {run.shipments:,} shipments (seed {run.seed}, dispatched over the 60 days "
        f"before {run.until:%Y-%m-%d}): {run.events:,} events, published, joined and stored "
        f"in {run.seconds:.0f} s. ClickHouse now holds {report.shipments:,} shipments"
        + (" (earlier runs included)." if report.shipments != run.shipments else ".")
    )
    console.print(_status_table(report))
    console.print(_alerts_table(report))
    console.print(_transit_table(report))
    console.print(_stages_table(report))
    if report.delivered is not None:
        _example(console, "A delivered shipment", report.delivered)
    if report.clone is not None:
        _example(console, "A suspected clone", report.clone)
    _next_steps(console, report, stack, kept)


def _status_table(report: Report) -> Table:
    table = Table(title="Shipments by status", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("status")
    table.add_column("shipments", justify="right")
    table.add_column("share", justify="right")
    total = max(report.shipments, 1)
    for status, count in report.by_status.items():
        table.add_row(status, f"{count:,}", f"{count / total:.1%}")
    table.add_row("[bold]total[/]", f"[bold]{report.shipments:,}[/]", "")
    return table


def _alerts_table(report: Report) -> Table:
    table = Table(title="Alerts by kind", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("kind")
    table.add_column("alerts", justify="right")
    table.add_column("codes", justify="right")
    table.add_column("example")
    for kind in report.alerts:
        table.add_row(
            kind.kind,
            f"{kind.alerts:,}",
            f"{kind.codes:,}",
            f"{escape(kind.example_code)}: {escape(kind.example_message)}",
        )
    table.add_row("[bold]total[/]", f"[bold]{report.alert_count:,}[/]", "", "")
    return table


def _transit_table(report: Report) -> Table:
    table = Table(
        title="Transit time by lane (seller dispatch to delivery)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("lane")
    table.add_column("delivered", justify="right")
    table.add_column("p50", justify="right")
    table.add_column("p90", justify="right")
    for lane in report.transit:
        table.add_row(
            lane.lane, f"{lane.delivered:,}", _duration(lane.p50_hours), _duration(lane.p90_hours)
        )
    return table


def _stages_table(report: Report) -> Table:
    table = Table(
        title="Throughput of this run (from the first event published; every process shares "
        "this machine's cores)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("stage")
    table.add_column("count", justify="right")
    table.add_column("done after", justify="right")
    table.add_column("rate", justify="right")
    for stage in report.stages:
        table.add_row(
            stage.name,
            f"{stage.count:,} {stage.unit}",
            f"{stage.seconds:.1f} s",
            f"{stage.per_second:,.0f} {stage.unit}/s",
        )
    return table


def _duration(hours: float) -> str:
    return f"{hours:,.0f} h ({hours / 24:.1f} d)"


def _example(console: Console, title: str, tracking: Tracking) -> None:
    console.print()
    console.rule(f"[bold]{title}", align="left")
    console.print(tracking_view(tracking))
    if tracking.live.ok:
        status = f"the live state ({tracking.live.detail})"
    else:
        status = f"ClickHouse, as last stored (no live state: {tracking.live.detail})"
    console.print(
        f"[dim]status from {escape(status)}; timeline and alerts from "
        f"{escape(tracking.history.detail)}[/]"
    )


def _next_steps(console: Console, report: Report, stack: LocalStack, kept: bool) -> None:
    delivered = report.delivered.code if report.delivered else None
    clone = report.clone.code if report.clone else None
    workers = stack.workers
    commands: list[tuple[str, str]] = []
    if delivered:
        commands.append((f"tracecode track {shlex.quote(delivered)}", "the delivered shipment"))
    if clone:
        commands.append((f"tracecode track {shlex.quote(clone)} --json", "the clone, as JSON"))
    if delivered:
        commands.append(
            (
                f"tracecode query --saved timeline --param code={shlex.quote(delivered)}",
                "its events, straight from ClickHouse",
            )
        )
    commands += [
        ("tracecode query --saved", "the saved analyst queries"),
        (
            'tracecode query "SELECT status, count() FROM shipment_state FINAL GROUP BY status"',
            "any read-only SQL",
        ),
    ]
    api = stack.api
    if api is not None and delivered:
        public = f"{api.url}/v1/track/{quote(delivered, safe='')}"
        commands.append((f"curl {shlex.quote(public)}", "the tracking API's public view"))
        commands.append((f"open {api.url}/docs", "the tracking API's OpenAPI pages"))
    if delivered and workers:
        url = shipment_url(workers[0].url, delivered)
        commands.append((f"curl {shlex.quote(url)}", "the live state from a worker's web view"))
    commands.append(("tracecode status", "what runs, consumer lag, dead letters"))
    if kept:
        commands.append(("tracecode demo stop", "stop what the demo left running"))
    console.print()
    console.rule("[bold]Try next", align="left")
    for command, what in commands:
        console.print(f"  [cyan]{escape(command)}[/]  [dim]# {escape(what)}[/]", soft_wrap=True)
    if not kept and not workers:
        console.print(
            "The workers and the sink are stopped: track and query read the stored history. "
            "For live state and the web view: tracecode demo --keep-running"
        )
