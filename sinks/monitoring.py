"""The sink's HTTP endpoint for operators: ``/metrics``, ``/health`` and ``/health/live``.

One server, so Prometheus and the orchestrator's probes reach the same port. ``/health``
answers 200 when the sink is ready and 503 with the reasons when it is not;
``/health/live`` answers 503 only when the consume loop stalled (:mod:`sinks.health`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from sinks.health import SinkHealth
from sinks.metrics import SinkMetrics

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]


class MonitoringServer(ThreadingMixIn, WSGIServer):
    """The endpoint's server; each request in its own thread, so a slow scrape blocks no probe."""

    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("monitoring request", extra={"request": format % args})


def monitoring_app(metrics: SinkMetrics, health: SinkHealth) -> Callable[..., Iterable[bytes]]:
    """The WSGI application of the endpoint."""
    metrics_app = make_wsgi_app(metrics.registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path not in ("/health", "/health/live"):
            return metrics_app(environ, start_response)  # type: ignore[no-any-return]
        report = health.report()
        ok = report.ready if path == "/health" else report.live
        body = json.dumps(report.to_json()).encode()
        start_response(
            "200 OK" if ok else "503 Service Unavailable",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]

    return app


def serve(
    metrics: SinkMetrics, health: SinkHealth, port: int, host: str = "127.0.0.1"
) -> MonitoringServer:
    """Serve the endpoint on ``host``:``port`` (0: any free port) in a daemon thread."""
    server = make_server(
        host,
        port,
        monitoring_app(metrics, health),
        server_class=MonitoringServer,
        handler_class=_QuietHandler,
    )
    threading.Thread(target=server.serve_forever, name="sink-monitoring", daemon=True).start()
    return server
