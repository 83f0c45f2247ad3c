"""A ClickHouse store (chDB) holding known worker output, and a stand-in worker web view.

For the unit tests of ``tracecode track`` and the demo report: the store is written by the
sink's own writer from ``tests.sinkdata`` scenarios; the web view answers from the scenario's
final states as a worker would (``GET /shipments/{code}``: 200 with the state, 404).
"""

from __future__ import annotations

import json
import threading
import urllib.parse
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client

from schemas.records import ShipmentState, to_json
from schemas.topics import TopicNames
from sinks.batching import Batch
from sinks.clickhouse import connect, ensure_database
from sinks.config import ClickHouseTarget
from sinks.metrics import SinkMetrics
from sinks.migrations import migrate
from sinks.tables import tables
from sinks.writer import BatchWriter
from tests import sinkdata
from tests.sinkdata import Scenario


@contextmanager
def stored_scenario(chdb_folder: Path, scenario: Scenario) -> Iterator[ClickHouseTarget]:
    """A fresh database with the sink's schema holding ``scenario``; dropped afterwards."""
    target = ClickHouseTarget(dsn=f"chdb://{chdb_folder}", database=f"t_{uuid.uuid4().hex[:10]}")
    ensure_database(target)
    client = connect(target)
    try:
        migrate(client, ttl_days=0)
        _store(client, scenario)
        yield target
    finally:
        client.command(f"DROP DATABASE `{target.database}`")
        client.close()


def _store(client: Client, scenario: Scenario) -> None:
    """Write the scenario's history, status changes and alerts as the sink does."""
    topics = TopicNames()
    writer = BatchWriter(client, SinkMetrics())
    outputs = {
        topics.history: scenario.history,
        topics.status: scenario.status,
        topics.alerts: scenario.alerts,
    }
    for topic, table in tables(topics).items():
        records = outputs[topic]
        rows = sinkdata.batch_rows(table.record_type, records, 0)
        writer.write(Batch(topic, 0, 0, len(records) - 1, rows), table)


@contextmanager
def web_view(states: Mapping[str, ShipmentState], worker: str = "worker-9") -> Iterator[str]:
    """Serve ``states`` like a worker's web view; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            prefix = "/shipments/"
            code = urllib.parse.unquote(self.path[len(prefix) :])
            state = states.get(code) if self.path.startswith(prefix) else None
            status, body = (200, to_json(state)) if state else (404, {"error": "no shipment"})
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Tracecode-Worker", worker)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
