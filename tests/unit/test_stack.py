"""The demo's stack: when the services count as ready, and talking to their endpoints."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import free_port
from tracecode.endpoints import EndpointError, WorkerHealth, scrape, total, worker_health
from tracecode.settings import load_settings
from tracecode.stack import LocalStack, Readiness, StackError


def health(*partitions: int, ready: bool = True) -> WorkerHealth:
    return WorkerHealth(ready, "ready" if ready else "rebalancing", "w", partitions)


@pytest.mark.parametrize(
    ("workers", "ready"),
    [
        ({"w1": health(0, 1, 2), "w2": health(3, 4, 5)}, True),
        ({"w1": health(0, 1, 2, 3, 4, 5), "w2": health()}, True),  # an idle worker is fine
        ({"w1": health(0, 1, 2, 3, 4, 5), "w2": None}, False),  # w2 not answering yet
        ({"w1": health(0, 1, 2), "w2": health(3, 4, 5, ready=False)}, False),
        ({"w1": health(0, 1, 2), "w2": health(3, 4)}, False),  # partition 5 has no worker
        ({"w1": health(0, 1, 2, 3), "w2": health(3, 4, 5)}, False),  # 3 served twice
        ({}, False),
    ],
)
def test_workers_are_ready_when_every_partition_is_served_once(
    workers: dict[str, WorkerHealth | None], ready: bool
) -> None:
    readiness = Readiness(workers=workers, sink=True, partitions=6)

    assert readiness.workers_ready is ready
    assert readiness.ready is ready
    assert not Readiness(workers=workers, sink=False, partitions=6).ready


def test_readiness_says_what_is_missing() -> None:
    readiness = Readiness({"w1": health(0, 1, 2), "w2": None}, sink=False, partitions=6, api=False)

    assert readiness.describe() == (
        "w1 ready (3 partitions), w2 starting, sink starting, tracking API starting"
    )
    assert not readiness.ready


METRICS = """# HELP tracecode_streams_alerts_total Alerts emitted, by kind.
# TYPE tracecode_streams_alerts_total counter
tracecode_streams_alerts_total{kind="STALLED"} 3.0
tracecode_streams_alerts_total{kind="EXPIRED"} 2.0
"""


@pytest.fixture
def service() -> Iterator[str]:
    """/health answers 503 while rebalancing; /metrics in Prometheus' text format."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/health":
                body = json.dumps({"status": "rebalancing", "worker": "w1", "partitions": [2]})
                status, kind = 503, "application/json"
            else:
                body, status, kind = METRICS, 200, "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.end_headers()
            self.wfile.write(body.encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_worker_health_reads_the_phase(service: str) -> None:
    assert worker_health(service) == WorkerHealth(False, "rebalancing", "w1", (2,))
    assert worker_health(f"http://127.0.0.1:{free_port()}") is None


def test_metrics_are_summed_over_labels(service: str) -> None:
    samples = scrape(f"{service}/metrics")

    assert total(samples, "tracecode_streams_alerts_total") == 5.0
    assert {s.labels["kind"] for s in samples} == {"STALLED", "EXPIRED"}
    with pytest.raises(EndpointError):
        scrape(f"http://127.0.0.1:{free_port()}/metrics")


def test_the_demo_needs_the_sink_s_query_endpoint_for_the_embedded_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("TRACECODE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TRACECODE_SINK_QUERY_PORT", "0")
    stack = LocalStack(load_settings())

    with pytest.raises(StackError, match="query endpoint"):
        stack.start_sink()
    assert stack.services == []
