"""The webhook contracts: subscriptions, the JSON events POSTed to subscribers, their signature.

A :class:`Subscription` is a JSON value on the compacted subscriptions topic, keyed by its id
(a tombstone removes it); ``tracecode webhooks add`` writes it and the webhooks service reads
it. Each delivery is one :class:`WebhookEvent`, signed as the Standard Webhooks specification
says (https://www.standardwebhooks.com): headers ``webhook-id``, ``webhook-timestamp`` and
``webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``, with a secret
written ``whsec_<base64 key>``, so the verifiers of that specification, in many languages,
check our deliveries. docs/webhooks.md is the reader's guide.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from schemas.records import RecordType, to_json
from schemas.registry import AVRO_ROOT, default_registry
from schemas.status import Status

SECRET_PREFIX = "whsec_"
_MIN_KEY_BYTES = 24
_MAX_KEY_BYTES = 64


class SubscriptionError(ValueError):
    """A subscription (or a value on the subscriptions topic) is not usable."""


class EventType(StrEnum):
    """The ``type`` of a webhook event: which topic it comes from."""

    STATUS_CHANGED = "shipment.status_changed"
    """A record of the status topic (``io.tracecode.ShipmentStatusChanged``)."""
    ALERT = "shipment.alert"
    """A record of the alerts topic (``io.tracecode.ShipmentAlert``)."""


EVENT_TYPES: Mapping[RecordType, EventType] = {
    RecordType.SHIPMENT_STATUS_CHANGED: EventType.STATUS_CHANGED,
    RecordType.SHIPMENT_ALERT: EventType.ALERT,
}
"""The record types that become webhook events."""


@cache
def alert_kinds() -> frozenset[str]:
    """The alert kinds of the current release (``io.tracecode.AlertKind``)."""
    path = AVRO_ROOT / default_registry().current_release / "io.tracecode.AlertKind.avsc"
    return frozenset(json.loads(path.read_text())["symbols"]) - {"UNKNOWN"}


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One event as a subscriber receives it: the JSON body and what filters look at."""

    id: str
    """Stable across retries and redeliveries: the subscriber's de-duplication key."""
    type: EventType
    timestamp: datetime
    """When tracecode emitted the record."""
    subject: str
    """The shipment's new status (status changes) or the alert's kind (alerts)."""
    data: Mapping[str, Any]
    """The record, in the JSON form of ``schemas.records.to_json``."""

    def body(self) -> bytes:
        """The request body: ``{"id", "type", "timestamp", "data"}`` as compact JSON."""
        document = {
            "id": self.id,
            "type": self.type.value,
            "timestamp": self.timestamp.isoformat(),
            "data": self.data,
        }
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def event_of(record_type: RecordType, record: Mapping[str, Any]) -> WebhookEvent:
    """The webhook event of a decoded status change or alert."""
    if record_type is RecordType.SHIPMENT_STATUS_CHANGED:
        event_id, subject = f"status:{record['code']}:{record['version']}", record["status"]
    elif record_type is RecordType.SHIPMENT_ALERT:
        event_id, subject = f"alert:{record['alert_id']}", record["kind"]
    else:
        raise ValueError(f"{record_type} records are not webhook events")
    return WebhookEvent(
        id=event_id,
        type=EVENT_TYPES[record_type],
        timestamp=record["emitted_at"],
        subject=str(subject),
        data=to_json(record),
    )


def generate_secret() -> str:
    """A new signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret; :class:`SubscriptionError` when it is not one."""
    if not secret.startswith(SECRET_PREFIX):
        raise SubscriptionError(
            f"a signing secret starts with {SECRET_PREFIX!r} followed by base64 bytes; leave "
            "--secret out to have one generated"
        )
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error:
        raise SubscriptionError(
            f"the signing secret after {SECRET_PREFIX!r} is not valid base64"
        ) from None
    if not _MIN_KEY_BYTES <= len(key) <= _MAX_KEY_BYTES:
        raise SubscriptionError(
            f"the signing secret holds {len(key)} bytes; use {_MIN_KEY_BYTES} to "
            f"{_MAX_KEY_BYTES} (a generated secret has 32)"
        )
    return key


def signature(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value of one delivery (``timestamp``: Unix seconds)."""
    signed = f"{event_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(secret: str, event: WebhookEvent, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers of one delivery of ``event``: content type, id, timestamp, signature."""
    return {
        "content-type": "application/json",
        "webhook-id": event.id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, event.id, timestamp, body),
    }


def _choice(values: Iterable[str] | None, allowed: frozenset[str], what: str) -> frozenset[str]:
    if values is None:
        return allowed
    chosen = frozenset(value.upper() for value in values)
    if unknown := sorted(chosen - allowed):
        raise SubscriptionError(
            f"unknown {what} {', '.join(unknown)}: choose from {', '.join(sorted(allowed))}"
        )
    return chosen


STATUSES = frozenset(status.value for status in Status) - {Status.UNKNOWN.value}
"""The statuses a subscription can select."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """A subscriber: where to POST, how to sign, which events it wants."""

    id: str
    url: str
    secret: str
    statuses: frozenset[str]
    """Status changes into these statuses are delivered (empty: none)."""
    alerts: frozenset[str]
    """Alerts of these kinds are delivered (empty: none)."""
    created_at: datetime
    """Delivery starts with the records emitted from this time on."""

    def __post_init__(self) -> None:
        if not self.id or not self.id.replace("-", "").replace("_", "").isalnum():
            raise SubscriptionError(
                f"subscription id {self.id!r}: use letters, digits, '-' and '_'"
            )
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SubscriptionError(
                f"webhook URL {self.url!r}: give an absolute http:// or https:// URL"
            )
        secret_key(self.secret)
        _choice(self.statuses, STATUSES, "status")
        _choice(self.alerts, alert_kinds(), "alert kind")
        if not self.statuses and not self.alerts:
            raise SubscriptionError("the subscription selects no events: no status, no alert")
        if self.created_at.tzinfo is None:
            raise SubscriptionError("created_at must be timezone-aware")

    @classmethod
    def new(
        cls,
        url: str,
        *,
        secret: str | None = None,
        statuses: Iterable[str] | None = None,
        alerts: Iterable[str] | None = None,
        now: datetime | None = None,
    ) -> Subscription:
        """A new subscription with a fresh id (and a generated secret when none is given).

        ``statuses`` and ``alerts`` filter the events; when both are ``None`` every status
        change and every alert is delivered, when one is given only what it names of its kind
        (and, unless the other is given too, nothing of the other kind).
        """
        everything = statuses is None and alerts is None
        return cls(
            id="sub_" + uuid.uuid4().hex[:16],
            url=url,
            secret=secret or generate_secret(),
            statuses=_choice(statuses, STATUSES, "status")
            if statuses is not None or everything
            else frozenset(),
            alerts=_choice(alerts, alert_kinds(), "alert kind")
            if alerts is not None or everything
            else frozenset(),
            created_at=now or datetime.now(UTC),
        )

    def wants(self, event: WebhookEvent) -> bool:
        """Whether ``event`` passes the subscription's filters."""
        chosen = self.statuses if event.type is EventType.STATUS_CHANGED else self.alerts
        return event.subject in chosen

    def to_json(self) -> bytes:
        """The value on the subscriptions topic."""
        return json.dumps(
            {
                "id": self.id,
                "url": self.url,
                "secret": self.secret,
                # null: every one, those of later releases included.
                "statuses": _listed(self.statuses, STATUSES),
                "alerts": _listed(self.alerts, alert_kinds()),
                "created_at": self.created_at.isoformat(),
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_json(cls, value: bytes) -> Subscription:
        """A subscription read from the topic; :class:`SubscriptionError` names what is wrong."""
        try:
            document = json.loads(value)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise SubscriptionError(f"not a JSON subscription: {error}") from None
        if not isinstance(document, dict):
            raise SubscriptionError("a subscription is a JSON object")
        fields = {"id", "url", "secret", "statuses", "alerts", "created_at"}
        if missing := sorted(fields - document.keys()):
            raise SubscriptionError(f"subscription lacks {', '.join(missing)}")
        for name in ("id", "url", "secret", "created_at"):
            if not isinstance(document[name], str):
                raise SubscriptionError(f"subscription field {name!r} must be a string")
        for name in ("statuses", "alerts"):
            items = document[name]
            if items is not None and (
                not isinstance(items, list) or not all(isinstance(v, str) for v in items)
            ):
                raise SubscriptionError(
                    f"subscription field {name!r} must be null (all) or a list of strings"
                )
        try:
            created_at = datetime.fromisoformat(document["created_at"])
        except ValueError:
            raise SubscriptionError(
                f"subscription created_at {document['created_at']!r} is not an ISO 8601 time"
            ) from None
        return cls(
            id=document["id"],
            url=document["url"],
            secret=document["secret"],
            statuses=STATUSES if document["statuses"] is None else frozenset(document["statuses"]),
            alerts=alert_kinds() if document["alerts"] is None else frozenset(document["alerts"]),
            created_at=created_at,
        )

    def describe(self) -> dict[str, str]:
        """The subscription for people: no secret."""
        return {
            "id": self.id,
            "url": self.url,
            "statuses": _summary(self.statuses, STATUSES),
            "alerts": _summary(self.alerts, alert_kinds()),
            "created_at": self.created_at.isoformat(timespec="seconds"),
        }


def subscription_json_schema() -> dict[str, Any]:
    """The JSON Schema of a value on the subscriptions topic (docs/asyncapi.yaml publishes it)."""

    def choice(allowed: frozenset[str], what: str) -> dict[str, Any]:
        return {
            "type": ["array", "null"],
            "items": {"type": "string", "enum": sorted(allowed)},
            "description": f"The {what} delivered; null: all of them, later releases' included.",
        }

    return {
        "type": "object",
        "required": ["id", "url", "secret", "statuses", "alerts", "created_at"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$", "description": "The key."},
            "url": {"type": "string", "format": "uri", "description": "Where events are POSTed."},
            "secret": {
                "type": "string",
                "pattern": f"^{SECRET_PREFIX}[A-Za-z0-9+/=]+$",
                "description": "Standard Webhooks signing secret: whsec_ and a base64 key.",
            },
            "statuses": choice(STATUSES, "status changes into these statuses"),
            "alerts": choice(alert_kinds(), "alerts of these kinds"),
            "created_at": {
                "type": "string",
                "format": "date-time",
                "description": "Records emitted from this time on are delivered.",
            },
        },
    }


def _listed(chosen: frozenset[str], allowed: frozenset[str]) -> list[str] | None:
    return None if chosen == allowed else sorted(chosen)


def _summary(chosen: frozenset[str], allowed: frozenset[str]) -> str:
    if chosen == allowed:
        return "all"
    return ", ".join(sorted(chosen)) or "none"
