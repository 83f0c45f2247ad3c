"""``tracecode api``: the tracking service (public view, support view, OpenAPI)."""

from __future__ import annotations

import signal

import click
import uvicorn

from api.app import create_app
from tracecode.cli._output import console
from tracecode.services import API_NAME, ServiceKind, ServiceRegistry, local_url
from tracecode.settings import Settings


@click.command()
@click.option("--host", help="Address to listen on (TRACECODE_API_HOST).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (TRACECODE_API_PORT).")
@click.pass_obj
def api(settings: Settings, host: str | None, port: int | None) -> None:
    """Serve the tracking API until Ctrl-C or SIGTERM.

    GET /v1/track/{code} is public; GET /v1/shipments/{code} needs the bearer token
    TRACECODE_API_TOKEN. The OpenAPI document is at /openapi.json, its pages at /docs.
    """
    registry = ServiceRegistry.of(settings.data_dir)
    workers = [s.urls["web"] for s in registry.running(ServiceKind.WORKER) if "web" in s.urls]
    config = settings.api_config(workers, host, port)
    history = config.history.url if config.history else "none"
    console.print(
        f"Tracking API on [bold]http://{config.host}:{config.port}[/] (OpenAPI: /openapi.json): "
        f"live state from {', '.join(config.web_urls)}, history from {history}"
        f"{'' if config.token else '; support endpoints off (no TRACECODE_API_TOKEN)'}. "
        "Ctrl-C stops it."
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            host=config.host,
            port=config.port,
            log_config=None,  # tracecode's logging, configured by the CLI
            access_log=False,
            server_header=False,
        )
    )
    # uvicorn stops gracefully on SIGINT/SIGTERM, then raises the signal again for the handler
    # it found in place: make that one a no-op, so a requested stop exits 0 like the others.
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, lambda *_: None)
    url = local_url(config.host, config.port, "")
    with registry.registered(ServiceKind.API, API_NAME, {"http": url}):
        server.run()
    console.print("Tracking API stopped.")
