"""The EPCIS 2.0 export of a shipment, read back by ``tracecode ingest epcis``.

Simulated shipments (every hard case) are stored in chDB and exported through the API; the
export must pass the capture validation (structure and rules) and give back the same scans.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import ApiConfig, HistoryTarget
from producers.events import EventKind
from producers.files import ParsedLine, read_events
from schemas.records import CarrierScan
from sinks.endpoint import QueryEndpoint
from tests import sinkdata
from tests.sinkdata import Scenario
from tests.stores import stored_scenario, web_view
from tracecode.cli import main

TOKEN = "support-token-0123456789"
STAFF = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return sinkdata.simulated(shipments=120, seed=8)


@pytest.fixture(scope="module")
def client(chdb_folder: Path, scenario: Scenario) -> Iterator[TestClient]:
    with stored_scenario(chdb_folder, scenario) as target:
        endpoint = QueryEndpoint(target, 0)
        endpoint.start()
        history = HistoryTarget(f"http://127.0.0.1:{endpoint.port}", target.database)
        try:
            with web_view(scenario.states) as url:
                config = ApiConfig(web_urls=(url,), history=history, token=TOKEN)
                with TestClient(create_app(config)) as test_client:
                    yield test_client
        finally:
            endpoint.shutdown()
            endpoint.server_close()


def standing_scans(scenario: Scenario, code: str) -> list[dict[str, Any]]:
    retracted = {r["retracts_event_id"] for r in scenario.history if r["code"] == code}
    return sorted(
        (
            r
            for r in scenario.history
            if r["code"] == code and r["kind"] == "SCAN" and r["event_id"] not in retracted
        ),
        key=lambda r: (r["event_time"], r["event_id"]),
    )


def read_point(location: dict[str, Any]) -> str | None:
    if location.get("facility_id"):
        return f"urn:tracecode:facility:{quote(location['facility_id'], safe='')}"
    if location.get("city") or location.get("country"):
        parts = (location.get("country") or "", location.get("city") or "")
        return "urn:tracecode:place:" + ":".join(quote(part, safe="") for part in parts)
    return None


def ingested(document: str) -> tuple[list[CarrierScan], str]:
    result = CliRunner().invoke(
        main, ["ingest", "epcis", "-", "--dry-run", "--carrier", "export"], input=document
    )
    assert result.exit_code == 0, result.stderr
    parsed = list(read_events(io.StringIO(result.stdout), EventKind.SCAN))
    return [item.record for item in parsed if isinstance(item, ParsedLine)], result.stderr


def test_gs1_shipments_go_out_as_epcis_and_come_back_as_the_same_scans(
    client: TestClient, scenario: Scenario
) -> None:
    codes = [
        code
        for code in scenario.states
        if code.startswith("(01)") and len(standing_scans(scenario, code)) >= 3
    ]
    assert len(codes) >= 5, "the simulation has GS1-coded shipments with several scans"
    compared = 0
    for code in codes[:8]:
        response = client.get(f"/v1/shipments/{code}/epcis", headers=STAFF)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/ld+json")
        document = response.json()
        assert document["type"] == "EPCISQueryDocument"
        scans, summary = ingested(response.text)
        expected = standing_scans(scenario, code)
        assert len(scans) == len(expected), summary
        for scan, record in zip(scans, expected, strict=True):
            location = record["location"] or {}
            assert scan["code"] == code
            assert scan["event_id"] == f"urn:uuid:{record['event_id']}"
            assert (scan["status"], scan["sub_status"]) == (
                record["event_status"],
                record["event_sub_status"],
            )
            assert scan["event_time"] == record["event_time"]
            assert scan["event_utc_offset_minutes"] == record["event_utc_offset_minutes"]
            assert scan["location"]["facility_id"] == read_point(location)
            assert (scan["location"]["city"], scan["location"]["country"]) == (
                location.get("city"),
                location.get("country"),
            )
            compared += 1
    assert compared >= 15


def test_a_marketplace_code_is_exported_under_a_private_uri(
    client: TestClient, scenario: Scenario
) -> None:
    code = next(c for c in scenario.states if c.startswith("TC") and standing_scans(scenario, c))
    response = client.get(f"/v1/shipments/{code}/epcis", headers=STAFF)
    events = response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert events and {e["epcList"][0] for e in events} == {f"urn:tracecode:code:{code}"}
    scans, summary = ingested(response.text)
    assert scans == []  # valid EPCIS, but no system reads a marketplace code from an EPC list
    assert "not a traceability code" in summary


def test_the_export_needs_the_token(client: TestClient, scenario: Scenario) -> None:
    code = next(iter(scenario.states))
    assert client.get(f"/v1/shipments/{code}/epcis").status_code == 401
