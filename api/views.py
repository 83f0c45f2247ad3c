"""The two views of a shipment: the public one (shoppers) and the support one (staff).

The public view carries no seller, buyer, order, facility or tracking-number ids: only what a
shopper needs (status in plain words, the timeline by city and country, the verdict). A test
holds every identifying field of the support view out of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api import texts
from api.texts import Texts
from api.tracking import Tracking, VerdictKind


def public_view(tracking: Tracking, words: Texts) -> dict[str, Any]:
    """What ``GET /v1/track/{code}`` answers, its sentences in ``words``' language."""
    status = tracking.status
    return {
        "code": tracking.code,
        "language": words.language,
        "status": None
        if status is None
        else {
            "status": status.status,
            "sub_status": status.sub_status,
            "description": words.describe(status.sub_status),
            "city": status.city,
            "country": status.country,
            "carrier": status.carrier,
        },
        "verdict": _public_verdict(tracking, words),
        "timeline": [
            {
                "time": entry.time.isoformat(),
                "utc_offset": _offset(entry.time),
                "city": entry.city,
                "country": entry.country,
                "status": entry.status,
                "sub_status": entry.sub_status,
                "description": _describe(entry.kind, entry.sub_status, words),
            }
            for entry in tracking.timeline
            if not entry.retracted and entry.kind != "RETRACTION"
        ],
    }


def support_view(tracking: Tracking) -> dict[str, Any]:
    """What ``GET /v1/shipments/{code}`` answers: everything, and what to do about it."""
    return {**tracking.to_json(), "advice": advice(tracking)}


def advice(tracking: Tracking) -> list[str]:
    """What went wrong and what to do, from the status and the alerts, for support staff."""
    notes: list[str] = []
    if tracking.verdict.kind is VerdictKind.SUSPICIOUS:
        notes.append(
            f"Suspected clone ({', '.join(tracking.verdict.rules) or 'clone rule'}): compare "
            "the scans in the alerts' evidence with the dispatch; the buyer should not use the "
            "product until the seller explains it."
        )
    elif tracking.verdict.kind is VerdictKind.UNKNOWN and tracking.seen:
        notes.append(
            "Scanned but never dispatched: ask the seller for the dispatch, or treat the code as "
            "unregistered."
        )
    for alert in tracking.alerts:
        if alert.kind != "SUSPECTED_CLONE":
            notes.append(f"{alert.kind} ({alert.rule}): {alert.message}")
    status = tracking.status
    if status is not None:
        if status.status == "DELIVERY_FAILED":
            notes.append(
                "A delivery attempt failed: confirm the address and the recipient's hours."
            )
        elif status.status == "EXCEPTION":
            notes.append(
                f"The carrier reports {status.sub_status.lower().replace('_', ' ')}: open a claim "
                "with the carrier if it does not move on."
            )
        elif status.status == "EXPIRED":
            notes.append("No news for a long time: ask the carrier for a trace.")
    if not tracking.live.ok:
        notes.append(f"Live state unavailable: {tracking.live.detail}")
    if not tracking.history.ok:
        notes.append(f"History unavailable: {tracking.history.detail}")
    return notes


def _public_verdict(tracking: Tracking, words: Texts) -> dict[str, Any]:
    verdict = tracking.verdict
    if verdict.kind is VerdictKind.SUSPICIOUS:
        return {
            "verdict": verdict.kind.value,
            "reason": words.clone_reason(list(verdict.rules)),
            "advice": words(texts.SUSPICIOUS_ADVICE),
        }
    if verdict.kind is VerdictKind.GENUINE:
        return {"verdict": verdict.kind.value, "reason": words(texts.GENUINE)}
    reason = texts.NEVER_DISPATCHED if tracking.seen else texts.NEVER_SEEN
    return {"verdict": verdict.kind.value, "reason": words(reason)}


def _describe(kind: str, sub_status: str | None, words: Texts) -> str | None:
    if sub_status:
        return words.describe(sub_status)
    return words.describe("DISPATCHED") if kind == "DISPATCH" else None


def _offset(moment: datetime) -> str:
    offset = moment.utcoffset()
    minutes = 0 if offset is None else int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
