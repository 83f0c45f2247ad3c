"""The tracking page at ``/``: one input, then the parcel, server-rendered (no script needed).

It shows what ``GET /v1/track/{code}`` answers, in the reader's language (Accept-Language), with
times and dates written the way that language writes them (Babel), the newest event first.
Every asset is served by the service itself (``/static``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from babel.dates import format_datetime, format_skeleton
from fastapi.templating import Jinja2Templates

from api import texts
from api.texts import Texts

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
STATIC = Path(__file__).parent / "static"

_ERRORS = {400: texts.NOT_A_CODE, 404: texts.NO_SUCH_CODE, 429: texts.TOO_MANY}


def context(
    words: Texts,
    code: str | None,
    view: dict[str, Any] | None = None,
    error_status: int | None = None,
) -> dict[str, Any]:
    """What the template needs: the view, its timeline and estimate as people read them."""
    found: dict[str, Any] = {
        "language": words.language,
        "t": words,
        "code": code,
        "view": view,
        "error": None,
        "timeline": [],
        "estimate": None,
    }
    if error_status is not None:
        found["error"] = words(_ERRORS.get(error_status, texts.UNAVAILABLE))
    if view is None:
        return found
    found["timeline"] = [
        {
            "status": entry["status"] or "PENDING",
            "description": entry["description"] or "",
            "when": _when(datetime.fromisoformat(entry["time"]), words.language),
            "place": ", ".join(part for part in (entry["city"], entry["country"]) if part),
        }
        for entry in reversed(view["timeline"])
    ]
    estimate = view.get("estimated_delivery")
    if estimate is not None:
        found["estimate"] = {
            "p50": _day(datetime.fromisoformat(estimate["p50"]), words.language),
            "p90": _day(datetime.fromisoformat(estimate["p90"]), words.language),
            "count": estimate["sample_size"],
        }
    return found


def _when(moment: datetime, language: str) -> str:
    offset = moment.isoformat()[-6:]
    local = format_datetime(moment, "medium", tzinfo=moment.tzinfo, locale=language)
    return f"{local} (UTC{offset})"


def _day(moment: datetime, language: str) -> str:
    return format_skeleton("MMMEd", moment, tzinfo=moment.tzinfo, locale=language)
