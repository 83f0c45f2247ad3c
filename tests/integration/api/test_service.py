"""``tracecode api`` as a process: served by uvicorn, its OpenAPI document, its errors.

Nothing else runs: no worker, no sink. The views themselves are tested in tests/unit/api
against a stored history.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port, wait_for


@pytest.fixture
def service(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "TRACECODE_DATA_DIR": str(tmp_path),
        "TRACECODE_API_PORT": str(port),
        "TRACECODE_WORKER_WEB_PORT": str(free_port()),
        "TRACECODE_SINK_QUERY_PORT": str(free_port()),
    }
    log = tmp_path / "api.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tracecode", "api"], env=env, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool | None:
        assert process.poll() is None, log.read_text()
        try:
            return httpx.get(f"{url}/health", timeout=1).status_code == 200 or None
        except httpx.HTTPError:
            return None

    try:
        wait_for(healthy, 60, "the tracking service to answer")
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log.read_text()


def test_the_service_serves_its_openapi_document_and_says_what_is_wrong(service: str) -> None:
    document = httpx.get(f"{service}/openapi.json").json()
    assert "/v1/track/{code}" in document["paths"]

    malformed = httpx.get(f"{service}/v1/track/TC000000000001X")
    assert malformed.status_code == 400
    assert malformed.json()["rule"] == "marketplace-check-character"

    # No worker and no sink answer: unavailable, and when to come back.
    unavailable = httpx.get(f"{service}/v1/track/TC000000000001L", timeout=30)
    assert unavailable.status_code == 503
    assert unavailable.headers["Retry-After"] == "5"
    assert unavailable.headers["content-type"] == "application/json"

    support = httpx.get(f"{service}/v1/shipments/TC000000000001L")
    assert support.status_code == 503  # no TRACECODE_API_TOKEN: the support view is off
