"""``tracecode track CODE``: one shipment's status, verdict and timeline."""

from __future__ import annotations

import json
from typing import Any

import click

from api.tracking import HistoryUnavailableError
from api.tracking import track as track_code
from schemas.codes import parse_code
from schemas.errors import InvalidCodeError
from sinks.clickhouse import StoreBusyError
from sinks.query import QueryClient
from tracecode.cli._output import console
from tracecode.cli._tracking import print_sources, tracking_view
from tracecode.errors import TracecodeError
from tracecode.services import ServiceKind, ServiceRegistry
from tracecode.settings import Settings

EXIT_NEVER_SEEN = 3
"""Exit status for a well-formed code that no source knows."""


def open_history(settings: Settings) -> QueryClient:
    """The shipment history through the running sink, or the store itself."""
    sink = settings.sink_config()
    try:
        return QueryClient.open(sink.clickhouse, sink.query_port)
    except StoreBusyError as error:
        raise HistoryUnavailableError(f"{error}; start the sink (`tracecode sink`)") from None


class TraceCodeParam(click.ParamType):
    """A traceability code in any accepted form; converted to its canonical form."""

    name = "CODE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return parse_code(str(value)).canonical
        except InvalidCodeError as error:
            self.fail(
                f"{error}. Codes are marketplace codes such as TC000000000001L, GS1 Digital "
                "Link URIs or EPC SGTIN URNs (docs/contracts.md)",
                param,
                ctx,
            )


@click.command()
@click.argument("code", type=TraceCodeParam())
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document (docs/track.md) instead."
)
@click.pass_obj
def track(settings: Settings, code: str, as_json: bool) -> None:
    """Show a shipment: current status, verdict (genuine, suspicious, unknown) and timeline.

    The live state comes from a worker's web view, the timeline and alerts from ClickHouse
    (through the running sink, or the store itself). Exit status: 0 for a known code, 3 for a
    code tracecode has never seen, 2 for a malformed code, 1 when neither source answers.
    """
    registry = ServiceRegistry.of(settings.data_dir)
    workers = [s.urls["web"] for s in registry.running(ServiceKind.WORKER) if "web" in s.urls]
    tracking = track_code(
        code, workers or [settings.worker_config().web_url], lambda: open_history(settings)
    )
    if not tracking.live.ok and not tracking.history.ok:
        raise TracecodeError(
            f"cannot look up {code}: neither a worker nor the shipment history answered",
            hint=f"{tracking.live.detail}\n{tracking.history.detail}\n"
            "`tracecode demo --keep-running` starts everything",
        )
    if as_json:
        click.echo(json.dumps(tracking.to_json(), indent=2, ensure_ascii=False))
    elif tracking.seen:
        console.print(tracking_view(tracking))
        print_sources(console, tracking)
    else:
        console.print(
            f"[yellow]unknown code[/] {code}: tracecode has never seen it (no event, no "
            "dispatch). Check it for typos; a marketplace code's last character is a check "
            "character, so most typos are caught as malformed instead."
        )
        print_sources(console, tracking)
    if not tracking.seen:
        raise SystemExit(EXIT_NEVER_SEEN)
