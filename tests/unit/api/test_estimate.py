"""The delivery estimate against simulated lanes: does the window hold what it claims?

Simulated shipments are stored in chDB. A fifth of the delivered ones is held out: only the
part of its history before a random point on its way is stored, as if it were still in
transit. Each held-out parcel is estimated from the others, and its true delivery time (known
to the test) is compared with the window.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import ApiConfig, HistoryTarget
from api.estimate import (
    DELIVERED,
    MIN_SAMPLES,
    Progress,
    TransitTimes,
    estimate,
    progress_of,
)
from api.tracking import read_history
from schemas.status import SubStatus
from sinks.config import ClickHouseTarget
from sinks.endpoint import QueryEndpoint
from sinks.query import QueryClient
from tests import sinkdata
from tests.sinkdata import Scenario
from tests.stores import stored_scenario, web_view


@pytest.fixture(scope="module")
def full() -> Scenario:
    return sinkdata.simulated(shipments=1500, seed=21)


def delivered_at(scenario: Scenario, code: str) -> datetime | None:
    times = [
        r["event_time"]
        for r in scenario.history
        if r["code"] == code and r["event_sub_status"] in DELIVERED
    ]
    return min(times) if times else None


@pytest.fixture(scope="module")
def held_out(full: Scenario) -> dict[str, tuple[datetime, datetime]]:
    """Held-out code -> (the cut: history stored before it, its true delivery time)."""
    rng = random.Random(4)
    codes = sorted(code for code in full.states if delivered_at(full, code) is not None)
    chosen: dict[str, tuple[datetime, datetime]] = {}
    for code in codes[::5]:
        scans = sorted(
            r["event_time"] for r in full.history if r["code"] == code and r["kind"] == "SCAN"
        )
        delivered = delivered_at(full, code)
        assert delivered is not None
        before = [moment for moment in scans if moment < delivered]
        if len(before) >= 2:
            chosen[code] = (rng.choice(before[1:]), delivered)
    return chosen


@pytest.fixture(scope="module")
def target(
    chdb_folder: Path, full: Scenario, held_out: dict[str, tuple[datetime, datetime]]
) -> Iterator[ClickHouseTarget]:
    def kept(record: Any) -> bool:
        cut = held_out.get(record["code"])
        return cut is None or record["event_time"] <= cut[0]

    partial = replace(
        full,
        history=[r for r in full.history if kept(r)],
        status=[r for r in full.status if r["code"] not in held_out],
        alerts=[r for r in full.alerts if r["code"] not in held_out],
    )
    with stored_scenario(chdb_folder, partial) as stored:
        yield stored


def dispatch_of(scenario: Scenario, code: str) -> dict[str, Any] | None:
    """The dispatch as the live state gives it (``None``: never dispatched)."""
    for event in scenario.events:
        found: Any = event
        if found["code"] == code and "dispatch_time" in found:
            return {
                "origin": found["origin"]["country"],
                "destination": found["destination"]["country"],
                "dispatched_at": found["dispatch_time"],
            }
    return None


def test_the_window_holds_the_deliveries_it_claims(
    target: ClickHouseTarget, full: Scenario, held_out: dict[str, tuple[datetime, datetime]]
) -> None:
    by_p50 = by_p90 = estimated = 0
    samples = []
    with QueryClient.open(target) as client:
        for code, (_, truth) in held_out.items():
            progress = progress_of(read_history(client, code).timeline, dispatch_of(full, code))
            if progress is None:
                continue  # e.g. held at customs: off its normal course
            window = estimate(client, progress)
            if window is None:
                continue
            assert window.reached_at <= window.p50 <= window.p90
            estimated += 1
            by_p50 += truth <= window.p50
            by_p90 += truth <= window.p90
            samples.append(window.sample_size)
    assert estimated >= 100, f"only {estimated} held-out parcels could be estimated"
    assert min(samples) >= MIN_SAMPLES
    # The window claims one in two by p50 and nine in ten by p90.
    assert 0.35 <= by_p50 / estimated <= 0.65, (by_p50, estimated)
    assert 0.80 <= by_p90 / estimated <= 0.97, (by_p90, estimated)


def test_a_later_milestone_leaves_less_time_to_wait(
    target: ClickHouseTarget, full: Scenario, held_out: dict[str, tuple[datetime, datetime]]
) -> None:
    code = next(iter(held_out))
    with QueryClient.open(target) as client:
        progress = progress_of(read_history(client, code).timeline, dispatch_of(full, code))
        assert progress is not None
        early = replace(progress, milestone=SubStatus.DISPATCHED)
        late = replace(progress, milestone=SubStatus.OUT_FOR_DELIVERY)
        from_dispatch, from_van = estimate(client, early), estimate(client, late)
    assert from_dispatch is not None and from_van is not None
    assert from_van.p50 - from_van.reached_at < from_dispatch.p50 - from_dispatch.reached_at
    assert from_van.p90 - from_van.reached_at < from_dispatch.p90 - from_dispatch.reached_at


def test_a_lane_without_enough_deliveries_gives_no_estimate(target: ClickHouseTarget) -> None:
    nowhere = Progress("AQ", "AQ", "penguin-post", SubStatus.PICKED_UP, datetime(2026, 10, 1))
    with QueryClient.open(target) as client:
        assert estimate(client, nowhere) is None


@pytest.fixture(scope="module")
def api(target: ClickHouseTarget, full: Scenario) -> Iterator[TestClient]:
    endpoint = QueryEndpoint(target, 0)
    endpoint.start()
    history = HistoryTarget(f"http://127.0.0.1:{endpoint.port}", target.database)
    try:
        with web_view(full.states) as url:
            config = ApiConfig(web_urls=(url,), history=history)
            with TestClient(create_app(config)) as client:
                yield client
    finally:
        endpoint.shutdown()
        endpoint.server_close()


def test_the_public_view_shows_the_window_of_a_parcel_on_its_way(
    api: TestClient, held_out: dict[str, tuple[datetime, datetime]]
) -> None:
    shown = 0
    for code in list(held_out)[:20]:
        body = api.get(f"/v1/track/{code}").json()
        window = body["estimated_delivery"]
        if window is None:
            continue
        assert window["sample_size"] >= MIN_SAMPLES
        assert window["milestone_reached_at"] <= window["p50"] <= window["p90"]
        shown += 1
    assert shown >= 10


def test_a_lane_says_its_transit_days_and_on_time_share(api: TestClient, full: Scenario) -> None:
    dispatch = next(d for code in full.states if (d := dispatch_of(full, code)))
    response = api.get(f"/v1/lanes/{dispatch['origin'].lower()}/{dispatch['destination']}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["enough"] and body["sample_size"] >= MIN_SAMPLES
    assert 0 < body["transit_days"]["p50"] <= body["transit_days"]["p90"] < 90
    assert 0.0 <= body["on_time_share"] <= 1.0


def test_a_lane_of_unknown_countries_is_400(api: TestClient) -> None:
    response = api.get("/v1/lanes/XX/CN")
    assert response.status_code == 400
    assert "XX" in response.json()["error"]


def test_lane_figures_are_kept_for_a_while_not_queried_per_view(
    target: ClickHouseTarget, full: Scenario, held_out: dict[str, tuple[datetime, datetime]]
) -> None:
    opened: list[QueryClient] = []
    now = [0.0]

    def open_history() -> QueryClient:
        opened.append(QueryClient.open(target))
        return opened[-1]

    transit = TransitTimes(open_history, ttl_s=60.0, timer=lambda: now[0])
    code = next(iter(held_out))
    with QueryClient.open(target) as client:
        progress = progress_of(read_history(client, code).timeline, dispatch_of(full, code))
        assert progress is not None
        direct = estimate(client, progress)
    first, again = transit.estimate(progress), transit.estimate(progress)
    assert first == again == direct
    assert len(opened) == 1
    later = replace(progress, reached_at=progress.reached_at + timedelta(hours=5))
    moved = transit.estimate(later)  # the same lane and milestone: the same figures
    assert moved is not None and first is not None
    assert moved.p50 - first.p50 == timedelta(hours=5)
    assert len(opened) == 1
    now[0] = 61.0
    transit.estimate(progress)
    assert len(opened) == 2
