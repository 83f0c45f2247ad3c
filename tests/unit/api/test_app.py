"""The tracking API: public and support views, errors, tokens, what the public never sees.

The history is real (chDB holding a scenario, read over HTTP through the sink's query endpoint,
as the service reads it beside an embedded store); the worker's web view is a fake serving the
scenario's states.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import texts
from api.app import create_app
from api.config import ApiConfig, HistoryTarget
from api.texts import texts_for
from schemas.codes import MarketplaceFormat, marketplace_code
from sinks.endpoint import QueryEndpoint
from tests import sinkdata
from tests.helpers import free_port
from tests.sinkdata import Scenario
from tests.stores import stored_scenario, web_view

TOKEN = "support-token-0123456789"
ENGLISH = texts_for(None)
IDENTIFYING = ("seller_id", "order_id", "facility_id", "tracking_number", "event_id")
"""Fields of the support view that must never reach the public one."""
SCENARIO_CODES = MarketplaceFormat(check_character=False)
"""The hand-built scenario's codes (``TCCLONE00001``) carry no check character."""


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return sinkdata.build(delivered=4)


@pytest.fixture(scope="module")
def history(chdb_folder: Path, scenario: Scenario) -> Iterator[HistoryTarget]:
    with stored_scenario(chdb_folder, scenario) as target:
        endpoint = QueryEndpoint(target, 0)
        endpoint.start()
        try:
            yield HistoryTarget(f"http://127.0.0.1:{endpoint.port}", target.database)
        finally:
            endpoint.shutdown()
            endpoint.server_close()


@pytest.fixture(scope="module")
def client(history: HistoryTarget, scenario: Scenario) -> Iterator[TestClient]:
    with web_view(scenario.states) as url:
        config = ApiConfig(
            web_urls=(url,), history=history, token=TOKEN, marketplace=SCENARIO_CODES
        )
        with TestClient(create_app(config)) as test_client:
            yield test_client


def staff(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_delivered_parcel_in_plain_words_and_local_times(
    client: TestClient, scenario: Scenario
) -> None:
    code = scenario.delivered[0].code
    response = client.get(f"/v1/track/{code}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"]["status"] == "DELIVERED"
    assert body["language"] == "en"
    assert body["status"]["description"] == ENGLISH.describe(body["status"]["sub_status"])
    assert body["verdict"] == {"verdict": "genuine", "reason": texts.GENUINE}
    assert body["estimated_delivery"] is None  # delivered already
    events = sorted(
        (r for r in scenario.history if r["code"] == code),
        key=lambda r: (r["event_time"], r["event_id"]),
    )
    assert len(body["timeline"]) == len(events)
    for shown, record in zip(body["timeline"], events, strict=True):
        moment = datetime.fromisoformat(shown["time"])
        assert moment == record["event_time"]
        offset = moment.utcoffset()
        assert offset is not None
        assert offset.total_seconds() == record["event_utc_offset_minutes"] * 60
        assert shown["time"].endswith(shown["utc_offset"])
        assert shown["description"]


def test_the_same_code_in_any_accepted_form(client: TestClient, scenario: Scenario) -> None:
    code = scenario.delivered[0].code
    loose = f" {code.lower()} "
    assert client.get(f"/v1/track/{loose}").json()["code"] == code


def test_a_clone_is_suspicious_with_a_reason_and_what_to_do(
    client: TestClient, scenario: Scenario
) -> None:
    body = client.get(f"/v1/track/{scenario.clone}").json()
    verdict = body["verdict"]
    assert verdict["verdict"] == "suspicious"
    assert verdict["reason"].startswith("This code may have been copied")
    assert verdict["advice"] == texts.SUSPICIOUS_ADVICE


def values_of(document: Any, names: tuple[str, ...]) -> set[str]:
    found: set[str] = set()
    if isinstance(document, dict):
        for key, value in document.items():
            if key in names and isinstance(value, str) and value:
                found.add(value)
            found |= values_of(value, names)
    elif isinstance(document, list):
        for item in document:
            found |= values_of(item, names)
    return found


def keys_of(document: Any) -> set[str]:
    if isinstance(document, dict):
        return set(document) | set().union(*(keys_of(v) for v in document.values()))
    if isinstance(document, list):
        return set().union(*(keys_of(item) for item in document))
    return set()


def test_no_identifying_field_of_the_support_view_reaches_the_public_one(
    client: TestClient, scenario: Scenario
) -> None:
    checked = 0
    for code in [*(s.code for s in scenario.delivered), scenario.clone, scenario.unknown]:
        support = client.get(f"/v1/shipments/{code}", headers=staff()).json()
        public = client.get(f"/v1/track/{code}")
        secrets = values_of(support, IDENTIFYING)
        assert secrets, f"the support view of {code} holds identifying values"
        leaked = {value for value in secrets if value in public.text}
        assert not leaked, (code, leaked)
        assert not keys_of(public.json()) & set(IDENTIFYING)
        checked += len(secrets)
    assert checked > 20


def test_the_support_view_has_everything_and_what_to_do(
    client: TestClient, scenario: Scenario
) -> None:
    response = client.get(f"/v1/shipments/{scenario.clone}", headers=staff())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dispatch"]["seller_id"]
    assert any(alert["kind"] == "SUSPECTED_CLONE" for alert in body["alerts"])
    assert body["advice"][0].startswith("Suspected clone")
    assert body["sources"]["history"]["ok"] and body["sources"]["live"]["ok"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Basic abc"}, 401), (staff("wrong-token-0123456789"), 403)],
)
def test_the_support_view_needs_the_token(
    client: TestClient, scenario: Scenario, headers: dict[str, str], status: int
) -> None:
    response = client.get(f"/v1/shipments/{scenario.clone}", headers=headers)
    assert response.status_code == status
    assert "error" in response.json()
    if status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_without_a_token_configured_the_support_view_is_off(history: HistoryTarget) -> None:
    with TestClient(create_app(ApiConfig(web_urls=(), history=history))) as off:
        response = off.get("/v1/shipments/TC000000000001L", headers=staff())
    assert response.status_code == 503
    assert "TRACECODE_API_TOKEN" in response.json()["error"]


def test_a_malformed_code_names_the_rule_it_broke() -> None:
    with TestClient(create_app(ApiConfig(web_urls=(), history=None))) as strict:
        response = strict.get("/v1/track/TC000000000001X")
    assert response.status_code == 400
    body = response.json()
    assert body["rule"] == "marketplace-check-character"
    assert "TC000000000001X" in body["error"]


def test_a_code_nobody_knows_is_404(client: TestClient) -> None:
    code = marketplace_code(987_654_321)
    response = client.get(f"/v1/track/{code}")
    assert response.status_code == 404, response.text
    assert code in response.json()["error"]


def test_no_source_answering_is_503_with_retry_after(tmp_path: Path) -> None:
    down = HistoryTarget(f"http://127.0.0.1:{free_port()}", "tracecode", timeout_s=1)
    config = ApiConfig(web_urls=(f"http://127.0.0.1:{free_port()}",), history=down)
    with TestClient(create_app(config), raise_server_exceptions=False) as unavailable:
        response = unavailable.get("/v1/track/TC000000000001L")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "Traceback" not in response.text and "error" in json.loads(response.text)


def test_the_openapi_document_lists_the_endpoints(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert {"/v1/track/{code}", "/v1/shipments/{code}", "/health"} <= set(document["paths"])


def test_the_config_refuses_a_short_token() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        ApiConfig(web_urls=(), history=None, token="short")


def test_the_public_endpoints_are_rate_limited_per_client() -> None:
    config = ApiConfig(web_urls=(), history=None, token=TOKEN, rate_limit="3/minute")
    with TestClient(create_app(config)) as limited:
        answers = [limited.get("/v1/track/TC000000000001X").status_code for _ in range(4)]
        assert answers == [400, 400, 400, 429]
        refused = limited.get("/v1/lanes/CN/ES")
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert "3 per 1 minute" in refused.json()["error"]
        # Support staff are not counted against the public rate.
        assert limited.get("/v1/shipments/TC000000000001L").status_code == 401


def test_a_large_body_is_refused_before_anything_reads_it() -> None:
    config = ApiConfig(web_urls=(), history=None, max_body_bytes=1024)
    with TestClient(create_app(config)) as small:
        response = small.post("/v1/track/TC000000000001L", content=b"x" * 2048)
    assert response.status_code == 413
    assert "1024 bytes" in response.json()["error"]


def test_cors_is_off_unless_origins_are_configured() -> None:
    preflight = {
        "Origin": "https://shop.example",
        "Access-Control-Request-Method": "GET",
    }
    with TestClient(create_app(ApiConfig(web_urls=(), history=None))) as closed:
        assert (
            "access-control-allow-origin"
            not in closed.options("/v1/track/TC000000000001L", headers=preflight).headers
        )
    config = ApiConfig(web_urls=(), history=None, cors_origins=("https://shop.example",))
    with TestClient(create_app(config)) as open_:
        answer = open_.options("/v1/track/TC000000000001L", headers=preflight)
    assert answer.headers["access-control-allow-origin"] == "https://shop.example"


def test_a_bad_rate_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="not a rate"):
        ApiConfig(web_urls=(), history=None, rate_limit="lots")


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("es-ES,es;q=0.9,en;q=0.5", "es"),
        ("de;q=0.2, ru", "ru"),
        ("fr-CA", "fr"),
        ("pt-BR;q=0.8, ja", "pt"),
        ("ja, zh-Hant", "en"),
        ("*", "en"),
    ],
)
def test_the_public_view_speaks_the_readers_language(
    client: TestClient, scenario: Scenario, header: str, language: str
) -> None:
    response = client.get(f"/v1/track/{scenario.clone}", headers={"Accept-Language": header})
    body = response.json()
    assert body["language"] == language
    assert response.headers["Content-Language"] == language
    words = texts.Texts(language, texts.catalog(language))
    assert body["verdict"]["advice"] == words(texts.SUSPICIOUS_ADVICE)
    assert body["status"]["description"] == words.describe(body["status"]["sub_status"])
    if language != "en":
        assert body["verdict"]["advice"] != texts.SUSPICIOUS_ADVICE


def test_recent_alerts_for_support_newest_first_by_kind_and_time(
    client: TestClient, scenario: Scenario
) -> None:
    everything = client.get("/v1/alerts", params={"limit": 1000}, headers=staff())
    assert everything.status_code == 200, everything.text
    alerts = everything.json()["alerts"]
    assert {a["alert_id"] for a in alerts} == {a["alert_id"] for a in scenario.alerts}
    times = [datetime.fromisoformat(a["detected_at"]) for a in alerts]
    assert times == sorted(times, reverse=True)

    clones = client.get("/v1/alerts", params={"kind": "SUSPECTED_CLONE"}, headers=staff())
    assert {a["code"] for a in clones.json()["alerts"]} == {scenario.clone}
    assert all(a["evidence"] for a in clones.json()["alerts"])

    middle = times[len(times) // 2]
    since = client.get(
        "/v1/alerts", params={"since": middle.isoformat(), "limit": 1000}, headers=staff()
    ).json()["alerts"]
    assert {a["alert_id"] for a in since} == {
        a["alert_id"] for a, t in zip(alerts, times, strict=True) if t >= middle
    }
    assert len(client.get("/v1/alerts", params={"limit": 2}, headers=staff()).json()["alerts"]) == 2


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"kind": "PANIC"}, "no alert kind 'PANIC'"),
        ({"since": "2026-12-01T00:00:00"}, "needs a UTC offset"),
        ({"limit": 0}, "invalid request"),
    ],
)
def test_bad_alert_queries_say_what_is_wrong(
    client: TestClient, params: dict[str, Any], says: str
) -> None:
    response = client.get("/v1/alerts", params=params, headers=staff())
    assert response.status_code == 400
    assert says in response.json()["error"]


def test_alerts_need_the_token(client: TestClient) -> None:
    assert client.get("/v1/alerts").status_code == 401


def test_the_page_asks_for_a_code(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<input type="text" id="code" name="code"' in page.text
    assert "<script" not in page.text  # readable without JavaScript
    assert client.get("/static/tracecode.css").status_code == 200  # served here, no CDN
    assert "http://" not in page.text and "https://" not in page.text


def test_the_page_shows_a_delivered_parcel_newest_event_first(
    client: TestClient, scenario: Scenario
) -> None:
    code = scenario.delivered[0].code
    page = client.get("/", params={"code": code})
    assert page.status_code == 200
    assert 'class="card verdict verdict-genuine"' in page.text
    assert ">Genuine<" in page.text
    items = page.text.split('<ol class="timeline">')[1].split("</ol>")[0].count("<li>")
    assert items == len([r for r in scenario.history if r["code"] == code])
    first = page.text.split('<p class="what">')[1].split("</p>")[0]
    assert first == ENGLISH.describe("DELIVERED_TO_RECIPIENT") or "delivered" in first


def test_the_page_speaks_the_readers_language(client: TestClient, scenario: Scenario) -> None:
    page = client.get(
        "/", params={"code": scenario.clone}, headers={"Accept-Language": "de-DE,de;q=0.9"}
    )
    assert '<html lang="de">' in page.text
    assert ">Verdächtig<" in page.text and "Paket verfolgen" in page.text


@pytest.mark.parametrize(
    ("code", "status", "says"),
    [
        ("TC000000000001X", 400, "This is not a valid traceability code"),
        ("TC000000000002J", 404, "No parcel is known by this code."),
    ],
)
def test_the_page_says_what_is_wrong_with_a_code(
    code: str, status: int, says: str, history: HistoryTarget
) -> None:
    config = ApiConfig(web_urls=(), history=history)
    with TestClient(create_app(config)) as strict:
        page = strict.get("/", params={"code": code})
    assert page.status_code == status
    assert says in page.text
    assert f'value="{code}"' in page.text  # the code stays in the field, to correct it
