"""Showing one shipment to people: status, verdict, alerts and timeline (``track``, ``demo``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from api.tracking import (
    Alert,
    CurrentStatus,
    TimelineEntry,
    Tracking,
    Verdict,
    VerdictKind,
)

_VERDICT_STYLE = {
    VerdictKind.GENUINE: "bold green",
    VerdictKind.SUSPICIOUS: "bold red",
    VerdictKind.UNKNOWN: "bold yellow",
}


def local_time(moment: datetime) -> str:
    """``2026-10-03 14:05 +08:00``: the time as it was where the event happened."""
    minutes = int((moment.utcoffset() or timedelta(0)).total_seconds()) // 60
    hours, rest = divmod(abs(minutes), 60)
    return f"{moment:%Y-%m-%d %H:%M} {'-' if minutes < 0 else '+'}{hours:02d}:{rest:02d}"


def status_line(status: CurrentStatus | None) -> str:
    """The current status, where and by whom, in rich markup."""
    if status is None:
        return "[dim]no status[/]"
    parts = [f"[bold]{status.status}[/] ({status.sub_status.lower().replace('_', ' ')})"]
    place = ", ".join(p for p in (status.city, status.country) if p)
    if place:
        parts.append(f"at {escape(place)}")
    if status.carrier:
        carrier = status.carrier + (f" {status.tracking_number}" if status.tracking_number else "")
        parts.append(f"with {escape(carrier)}")
    return " ".join(parts)


def verdict_line(verdict: Verdict) -> str:
    style = _VERDICT_STYLE[verdict.kind]
    return f"[{style}]{verdict.kind.value}[/]: {escape(verdict.reason)}"


def timeline_table(entries: Iterable[TimelineEntry]) -> Table:
    """One row per event: local time, place, carrier, status, the carrier's own words."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("local time", no_wrap=True)
    table.add_column("location")
    table.add_column("carrier")
    table.add_column("status")
    table.add_column("description")
    for entry in entries:
        description = entry.description or ""
        if entry.kind == "DISPATCH":
            description = f"dispatched by seller {entry.seller_id or '?'}"
        notes = [note for note, on in (("late", entry.late), ("retracted", entry.retracted)) if on]
        cells = [
            local_time(entry.time),
            escape(entry.place()),
            escape(entry.carrier or "-"),
            escape(entry.sub_status or entry.kind),
            escape(description) + (f" [yellow]({', '.join(notes)})[/]" if notes else ""),
        ]
        table.add_row(*cells, style="dim" if entry.retracted else None)
    return table


def alerts_table(alerts: Iterable[Alert]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("detected (UTC)", no_wrap=True)
    table.add_column("kind")
    table.add_column("rule")
    table.add_column("message")
    for alert in alerts:
        table.add_row(
            alert.detected_at.strftime("%Y-%m-%d %H:%M"),
            alert.kind,
            escape(alert.rule),
            escape(alert.message),
        )
    return table


def evidence_table(alert: Alert, timeline: Iterable[TimelineEntry]) -> Table:
    """The events behind an alert, in their local time when the timeline has them."""
    local = {entry.event_id: entry.time for entry in timeline}
    table = Table(box=None, pad_edge=False, show_header=False)
    for column in ("time", "place", "carrier", "status"):
        table.add_column(column)
    for event in alert.evidence:
        table.add_row(
            _evidence_time(event, local),
            escape(_evidence_place(event)),
            escape(
                " ".join(
                    str(part)
                    for part in (event.get("carrier"), event.get("tracking_number"))
                    if part
                )
                or "-"
            ),
            escape(str(event.get("sub_status") or event.get("kind") or "-")),
        )
    return table


def tracking_view(tracking: Tracking) -> RenderableType:
    """Everything about one shipment, for ``tracecode track``."""
    parts: list[RenderableType] = [
        Text.from_markup(f"[bold]{escape(tracking.code)}[/]  {status_line(tracking.status)}"),
        Text.from_markup(f"verdict  {verdict_line(tracking.verdict)}"),
    ]
    for alert in tracking.verdict.evidence:
        parts.append(Text.from_markup(f"  [red]evidence[/] {escape(alert.message)}"))
        parts.append(evidence_table(alert, tracking.timeline))
    if tracking.alerts:
        parts += [Text(""), Text.from_markup(f"[bold]alerts[/] ({len(tracking.alerts)})")]
        parts.append(alerts_table(tracking.alerts))
    if tracking.timeline:
        parts += [
            Text(""),
            Text.from_markup(
                f"[bold]timeline[/] ({len(tracking.timeline)} events, local time of each place)"
            ),
            timeline_table(tracking.timeline),
        ]
    return Group(*parts)


def print_sources(console: Console, tracking: Tracking) -> None:
    """Say which source could not answer and what to start."""
    for name, source in (("live state", tracking.live), ("history", tracking.history)):
        if not source.ok:
            console.print(f"[yellow]{name} unavailable:[/] {escape(source.detail)}")


def _evidence_time(event: Mapping[str, Any], local: Mapping[str, datetime]) -> str:
    moment = local.get(str(event.get("event_id")))
    if moment is not None:
        return local_time(moment)
    raw = str(event.get("event_time") or "")
    try:
        return datetime.fromisoformat(raw).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return raw or "-"


def _evidence_place(event: Mapping[str, Any]) -> str:
    location = event.get("location") or {}
    return _joined(location.get("city"), location.get("country"), separator=", ")


def _joined(*parts: object, separator: str = " ") -> str:
    return separator.join(str(part) for part in parts if part) or "-"
