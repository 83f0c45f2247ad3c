"""The tracking lookup (service, `tracecode track`, demo): verdicts, local-time timelines,
sources that do not answer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from api.tracking import (
    Alert,
    HistoryUnavailableError,
    VerdictKind,
    judge,
    read_history,
    track,
)
from sinks.config import ClickHouseTarget
from sinks.query import QueryClient
from tests import sinkdata
from tests.helpers import free_port
from tests.sinkdata import Scenario
from tests.stores import stored_scenario, web_view


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return sinkdata.build(delivered=6)


@pytest.fixture(scope="module")
def target(chdb_folder: Path, scenario: Scenario) -> Iterator[ClickHouseTarget]:
    with stored_scenario(chdb_folder, scenario) as target:
        yield target


def open_history(target: ClickHouseTarget) -> QueryClient:
    return QueryClient.open(target)


def test_a_delivered_shipment_is_genuine_with_its_live_status(
    target: ClickHouseTarget, scenario: Scenario
) -> None:
    code = scenario.delivered[0].code
    with web_view(scenario.states) as url:
        tracking = track(code, [url], lambda: open_history(target))

    assert tracking.live.ok and tracking.live.detail == "worker worker-9"
    assert tracking.history.ok
    assert tracking.status is not None
    assert (tracking.status.status, tracking.status.source) == ("DELIVERED", "live")
    assert tracking.verdict.kind is VerdictKind.GENUINE
    assert scenario.delivered[0].seller in tracking.verdict.reason
    events = [r for r in scenario.history if r["code"] == code]
    assert [e.event_id for e in tracking.timeline] == [
        r["event_id"] for r in sorted(events, key=lambda r: (r["event_time"], r["event_id"]))
    ]


def test_timeline_times_are_in_each_place_s_offset(
    target: ClickHouseTarget, scenario: Scenario
) -> None:
    code = scenario.delivered[0].code
    with open_history(target) as client:
        history = read_history(client, code)
    by_id = {r["event_id"]: r for r in scenario.history if r["code"] == code}
    for entry in history.timeline:
        record = by_id[entry.event_id]
        assert entry.time == record["event_time"]  # the same instant...
        offset = timedelta(minutes=record["event_utc_offset_minutes"])
        assert entry.time.utcoffset() == offset  # ...shown in local time
    dispatch = history.timeline[0]
    assert dispatch.kind == "DISPATCH"
    assert dispatch.seller_id == scenario.delivered[0].seller
    assert dispatch.city == "Shenzhen", "a dispatch is placed in its origin city"


def test_a_clone_is_suspicious_with_the_alerts_and_their_events_as_evidence(
    target: ClickHouseTarget, scenario: Scenario
) -> None:
    with web_view(scenario.states) as url:
        tracking = track(scenario.clone, [url], lambda: open_history(target))

    clone_alerts = [a for a in scenario.alerts if a["code"] == scenario.clone]
    assert clone_alerts, "the scenario's clone raised an alert"
    assert tracking.verdict.kind is VerdictKind.SUSPICIOUS
    assert [a.alert_id for a in tracking.verdict.evidence] == [
        a["alert_id"] for a in clone_alerts if a["kind"] == "SUSPECTED_CLONE"
    ]
    evidence = tracking.verdict.evidence[0].evidence
    assert {e["event_id"] for e in evidence} <= {e.event_id for e in tracking.timeline}
    document = tracking.to_json()
    assert document["verdict"]["verdict"] == "suspicious"
    assert document["verdict"]["evidence"][0]["evidence"]


def test_scanned_but_never_dispatched_is_unknown(
    target: ClickHouseTarget, scenario: Scenario
) -> None:
    with web_view(scenario.states) as url:
        tracking = track(scenario.unknown, [url], lambda: open_history(target))

    assert tracking.seen
    assert tracking.verdict.kind is VerdictKind.UNKNOWN
    assert "no seller dispatched" in tracking.verdict.reason


def test_a_code_nobody_knows(target: ClickHouseTarget, scenario: Scenario) -> None:
    with web_view(scenario.states) as url:
        tracking = track("TCNEVERSEEN01", [url], lambda: open_history(target))

    assert not tracking.seen
    assert tracking.verdict.kind is VerdictKind.UNKNOWN
    assert tracking.to_json()["found"] is False
    assert tracking.timeline == () and tracking.status is None


def test_without_a_worker_the_status_comes_from_the_history(
    target: ClickHouseTarget, scenario: Scenario
) -> None:
    code = scenario.delivered[1].code
    tracking = track(code, [f"http://127.0.0.1:{free_port()}"], lambda: open_history(target))

    assert not tracking.live.ok
    assert "tracecode worker" in tracking.live.detail
    assert tracking.status is not None
    assert (tracking.status.status, tracking.status.source) == ("DELIVERED", "history")
    assert tracking.verdict.kind is VerdictKind.GENUINE


def test_without_the_history_the_live_state_still_answers(scenario: Scenario) -> None:
    def busy() -> QueryClient:
        raise HistoryUnavailableError(
            "the chDB data folder is in use by another process; start the sink (`tracecode sink`)"
        )

    with web_view(scenario.states) as url:
        tracking = track(scenario.clone, [url], busy)

    assert not tracking.history.ok
    assert "tracecode sink" in tracking.history.detail
    assert tracking.timeline == ()
    # The live state knows the clone rules even without the alerts.
    assert tracking.verdict.kind is VerdictKind.SUSPICIOUS


def test_json_shape_is_stable(target: ClickHouseTarget, scenario: Scenario) -> None:
    with web_view(scenario.states) as url:
        document = track(scenario.delivered[0].code, [url], lambda: open_history(target)).to_json()

    assert document["version"] == 1
    assert set(document) == {
        "version", "code", "found", "status", "verdict", "dispatch", "alerts", "timeline",
        "sources",
    }  # fmt: skip
    assert set(document["timeline"][0]) == {
        "event_id", "kind", "time", "time_utc", "carrier", "tracking_number", "status",
        "sub_status", "location", "raw_event_code", "description", "late", "retracted",
        "seller_id", "seller_verified",
    }  # fmt: skip
    assert set(document["sources"]) == {"live", "history"}


def test_judge_prefers_clone_evidence_over_a_missing_dispatch() -> None:
    alert = Alert("a", "SUSPECTED_CLONE", "impossible_speed", "CRITICAL", None, "far", ())  # type: ignore[arg-type]

    verdict = judge(seen=True, dispatch=None, clone_alerts=[alert], clone_rules=[], scans=3)

    assert verdict.kind is VerdictKind.SUSPICIOUS
    assert verdict.evidence == (alert,)
