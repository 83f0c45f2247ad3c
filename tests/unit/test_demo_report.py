"""The demo's report: its figures are what the store holds, and the screen shows them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from sinks.query import QueryClient
from tests import sinkdata
from tests.sinkdata import Scenario
from tests.stores import stored_scenario, web_view
from tracecode.cli._demo_report import render_report
from tracecode.demo.report import Report, Run, Stage, build_report
from tracecode.settings import load_settings
from tracecode.stack import LocalStack


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return sinkdata.build(delivered=9)


@pytest.fixture(scope="module")
def report(chdb_folder: Path, scenario: Scenario) -> Iterator[Report]:
    run = Run(shipments=13, seed=0, until=datetime(2026, 11, 1, tzinfo=UTC), events=50,
              workers=2, seconds=12.5)  # fmt: skip
    stages = [Stage("produced", 50, "events", 1.0), Stage("joined", 50, "events", 2.5)]
    with (
        stored_scenario(chdb_folder, scenario) as target,
        web_view(scenario.states) as url,
        QueryClient.open(target) as queries,
    ):
        yield build_report(queries, [url], run, stages)


def test_statuses_and_alerts_are_the_worker_output(report: Report, scenario: Scenario) -> None:
    latest = {}
    for change in scenario.status:
        latest[change["code"]] = change
    assert report.by_status == dict(Counter(c["status"] for c in latest.values()))
    kinds = Counter(alert["kind"] for alert in scenario.alerts)
    assert {k.kind: k.alerts for k in report.alerts} == dict(kinds)
    examples = {(a["kind"], a["code"], a["rule"], a["message"]) for a in scenario.alerts}
    for kind in report.alerts:
        assert (kind.kind, kind.example_code, kind.example_rule, kind.example_message) in examples


def test_examples_are_a_clean_delivery_and_the_clone(report: Report, scenario: Scenario) -> None:
    assert report.delivered is not None and report.clone is not None
    assert report.delivered.code in {d.code for d in scenario.delivered}
    assert report.delivered.status is not None and report.delivered.status.source == "live"
    assert report.delivered.timeline
    assert report.clone.code == scenario.clone
    assert report.clone.verdict.evidence


def test_transit_by_lane_matches_the_deliveries(report: Report, scenario: Scenario) -> None:
    lanes = Counter(f"{d.origin}->{d.destination}" for d in scenario.delivered)
    assert {lane.lane: lane.delivered for lane in report.transit} == dict(lanes)
    for lane in report.transit:
        hours = [
            d.transit_hours
            for d in scenario.delivered
            if lane.lane == f"{d.origin}->{d.destination}"
        ]
        assert lane.p50_hours == pytest.approx(sinkdata.quantile_exact(hours, 0.5))
        assert lane.p90_hours == pytest.approx(sinkdata.quantile_exact(hours, 0.9))


def test_json_report_carries_the_figures(report: Report) -> None:
    document = report.to_json()

    assert document["shipments"]["by_status"] == report.by_status
    assert document["shipments"]["total"] == sum(report.by_status.values())
    assert document["alerts"]["by_kind"]["SUSPECTED_CLONE"]["alerts"] >= 1
    assert document["stages"]["joined"] == {
        "count": 50, "unit": "events", "seconds": 2.5, "per_second": 20.0
    }  # fmt: skip
    assert document["examples"]["suspected_clone"]["verdict"]["verdict"] == "suspicious"


def test_the_screen_shows_the_figures(report: Report, tmp_path: Path) -> None:
    console = Console(record=True, width=160)
    stack = LocalStack(load_settings().model_copy(update={"data_dir": tmp_path}))

    render_report(console, report, stack, kept=False)

    text = console.export_text()
    for status, count in report.by_status.items():
        assert f"{status} " in text and f" {count:,} " in text
    for kind in report.alerts:
        assert kind.kind in text and kind.example_code in text
    assert report.delivered is not None and report.clone is not None
    assert f"tracecode track {report.delivered.code}" in text
    assert f"tracecode track {report.clone.code} --json" in text
    assert "20 events/s" in text
