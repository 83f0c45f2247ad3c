"""The webhook contract: event bodies, Standard Webhooks signatures, subscriptions and filters."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import jsonschema
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from schemas.records import RecordType
from schemas.webhooks import (
    EventType,
    Subscription,
    SubscriptionError,
    event_of,
    generate_secret,
    signed_headers,
    subscription_json_schema,
)
from tests.unit.schemas.samples import alert, status_changed

URL = "http://127.0.0.1:9/hooks"


def test_a_status_change_becomes_an_event_with_a_stable_id_and_json_data() -> None:
    record = status_changed()
    event = event_of(RecordType.SHIPMENT_STATUS_CHANGED, record)
    assert event.id == f"status:{record['code']}:3"
    assert event.type is EventType.STATUS_CHANGED
    assert event.subject == "IN_TRANSIT"
    body = json.loads(event.body())
    assert set(body) == {"id", "type", "timestamp", "data"}
    assert body["type"] == "shipment.status_changed"
    assert body["timestamp"] == record["emitted_at"].isoformat()
    assert body["data"]["changed_at"] == record["changed_at"].isoformat()
    assert body["data"]["version"] == 3
    assert event_of(RecordType.SHIPMENT_STATUS_CHANGED, record).body() == event.body()


def test_an_alert_becomes_an_event_keyed_by_its_alert_id() -> None:
    event = event_of(RecordType.SHIPMENT_ALERT, alert())
    assert (event.id, event.type, event.subject) == (
        "alert:alert-5f2c",
        EventType.ALERT,
        "SUSPECTED_CLONE",
    )
    with pytest.raises(ValueError, match="not webhook events"):
        event_of(RecordType.CARRIER_SCAN, alert())


def test_the_signature_verifies_with_the_standard_webhooks_library() -> None:
    secret = generate_secret()
    event = event_of(RecordType.SHIPMENT_STATUS_CHANGED, status_changed())
    body = event.body()
    headers = signed_headers(secret, event, body, int(time.time()))
    assert headers["webhook-id"] == event.id
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers)["id"] == event.id

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"IN_TRANSIT", b"DELIVERED"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(body, headers)


def test_secrets_are_checked_with_a_hint() -> None:
    with pytest.raises(SubscriptionError, match="starts with 'whsec_'"):
        Subscription.new(URL, secret="hunter2")
    short = "whsec_" + base64.b64encode(b"x" * 8).decode()
    with pytest.raises(SubscriptionError, match="holds 8 bytes"):
        Subscription.new(URL, secret=short)
    with pytest.raises(SubscriptionError, match="not valid base64"):
        Subscription.new(URL, secret="whsec_***")


@pytest.mark.parametrize("url", ["ftp://example.org/x", "127.0.0.1:8000/hooks", "http:///x"])
def test_a_url_must_be_absolute_http(url: str) -> None:
    with pytest.raises(SubscriptionError, match="absolute http"):
        Subscription.new(url)


def test_filters_select_statuses_and_alert_kinds() -> None:
    change = event_of(RecordType.SHIPMENT_STATUS_CHANGED, status_changed())
    delivered = event_of(
        RecordType.SHIPMENT_STATUS_CHANGED, {**status_changed(), "status": "DELIVERED"}
    )
    clone = event_of(RecordType.SHIPMENT_ALERT, alert())
    stalled = event_of(RecordType.SHIPMENT_ALERT, {**alert(), "kind": "STALLED"})

    everything = Subscription.new(URL)
    assert all(everything.wants(e) for e in (change, delivered, clone, stalled))
    only_delivered = Subscription.new(URL, statuses=["delivered"])
    assert [only_delivered.wants(e) for e in (change, delivered, clone, stalled)] == [
        False,
        True,
        False,
        False,
    ]
    clones = Subscription.new(URL, alerts=["SUSPECTED_CLONE"])
    assert [clones.wants(e) for e in (change, delivered, clone, stalled)] == [
        False,
        False,
        True,
        False,
    ]
    both = Subscription.new(URL, statuses=["IN_TRANSIT"], alerts=["STALLED"])
    assert [both.wants(e) for e in (change, delivered, clone, stalled)] == [
        True,
        False,
        False,
        True,
    ]
    with pytest.raises(SubscriptionError, match="unknown status SHIPPED: choose from"):
        Subscription.new(URL, statuses=["shipped"])


def test_a_subscription_round_trips_through_its_topic_value() -> None:
    subscription = Subscription.new(
        URL, statuses=["DELIVERED"], now=datetime(2026, 1, 2, tzinfo=UTC)
    )
    value = subscription.to_json()
    document = json.loads(value)
    jsonschema.validate(document, subscription_json_schema())
    assert document["alerts"] == [] and document["statuses"] == ["DELIVERED"]
    assert Subscription.from_json(value) == subscription

    everything = Subscription.new(URL)
    assert json.loads(everything.to_json())["statuses"] is None
    jsonschema.validate(json.loads(everything.to_json()), subscription_json_schema())
    assert Subscription.from_json(everything.to_json()) == everything
    assert "secret" not in everything.describe()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"{", "not a JSON subscription"),
        (b"[]", "a JSON object"),
        (b'{"id": "x"}', "lacks alerts, created_at, secret, statuses, url"),
    ],
)
def test_a_bad_topic_value_says_what_is_wrong(value: bytes, message: str) -> None:
    with pytest.raises(SubscriptionError, match=message):
        Subscription.from_json(value)


def test_a_bad_field_says_which() -> None:
    document = json.loads(Subscription.new(URL).to_json())
    with pytest.raises(SubscriptionError, match="'statuses' must be null"):
        Subscription.from_json(json.dumps({**document, "statuses": "DELIVERED"}).encode())
    with pytest.raises(SubscriptionError, match="not an ISO 8601 time"):
        Subscription.from_json(json.dumps({**document, "created_at": "yesterday"}).encode())
