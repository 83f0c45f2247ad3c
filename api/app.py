"""The tracking service's HTTP API (FastAPI): the public view, the support view, health.

Endpoints are synchronous: FastAPI runs them in its thread pool, where the calls to the workers'
web views and to ClickHouse may block. Errors are JSON (``{"error": ..., ...}``), never a stack
trace: 400 for a malformed code (naming the rule it broke), 404 for a code no source knows, 401
and 403 for a missing or wrong token, 503 with ``Retry-After`` when no source answers.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from clickhouse_connect.driver.exceptions import ClickHouseError
from fastapi import Depends, FastAPI, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from api.config import ApiConfig
from api.epcis import MEDIA_TYPE as EPCIS_MEDIA_TYPE
from api.epcis import epcis_document
from api.estimate import TransitTimes, progress_of
from api.guards import RequestLimits
from api.history import ClickHouseHistory
from api.page import STATIC, TEMPLATES
from api.page import context as page_context
from api.texts import texts_for
from api.tracking import (
    HistoryStore,
    HistoryUnavailableError,
    Tracking,
    recent_alerts,
    track,
)
from api.views import public_view, support_view
from schemas.codes import parse_code
from schemas.errors import InvalidCodeError
from schemas.validation import COUNTRIES
from schemas.webhooks import alert_kinds

log = logging.getLogger(__name__)

ALERT_KINDS = tuple(sorted(alert_kinds()))
RETRY_AFTER_S = 5
"""What ``Retry-After`` says when no source answers."""

Tracker = Callable[[str], Tracking]
"""Looks one canonical code up in the live state and the history."""
History = Callable[[], HistoryStore]
"""Opens the history (raises :class:`HistoryUnavailableError` when it cannot)."""


class ApiError(Exception):
    """An error answer: HTTP status, message, extra fields and headers."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields
        self.headers = headers or {}


def create_app(config: ApiConfig, tracker: Tracker | None = None) -> FastAPI:
    """The service; ``tracker`` replaces the lookup (tests)."""
    open_history = _history(config)
    lookup = tracker or _tracker(config, open_history)
    transit = TransitTimes(open_history)
    app = FastAPI(
        title="tracecode tracking API",
        version="1",
        description="Track a parcel by its traceability code, check that the product is "
        "genuine, and give support staff everything about a shipment.",
    )

    app.middleware("http")(RequestLimits(config.rate_limit, config.max_body_bytes))
    if config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Accept-Language"],
        )

    @app.exception_handler(ApiError)
    def _api_error(_: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(
            {"error": error.message, **error.fields}, error.status, headers=error.headers
        )

    @app.exception_handler(RequestValidationError)
    def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": "invalid request", "details": error.errors()}, 400)

    def canonical(code: str) -> str:
        try:
            return parse_code(code, marketplace=config.marketplace).canonical
        except InvalidCodeError as error:
            raise ApiError(400, str(error), rule=error.rule, detail=error.detail) from None

    def found(code: str) -> Tracking:
        tracking = lookup(canonical(code))
        if not tracking.live.ok and not tracking.history.ok:
            raise _unavailable("the shipment data")
        if not tracking.seen:
            raise ApiError(404, f"no shipment is known by the code {tracking.code}")
        return tracking

    def staff(authorization: Annotated[str | None, Header()] = None) -> None:
        if config.token is None:
            raise ApiError(503, "the support endpoints are off: set TRACECODE_API_TOKEN")
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            raise ApiError(
                401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )
        if not hmac.compare_digest(given.encode(), config.token.encode()):
            raise ApiError(403, "the token is not valid")

    @app.get("/v1/track/{code}", summary="Track a parcel (public)")
    def track_public(
        code: str,
        response: Response,
        accept_language: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        """Status in plain words, the timeline (local times with their offsets, city and
        country), the verdict (genuine, suspicious with why and what to do, or unknown) and the
        estimated delivery, in the best language of ``Accept-Language`` (en, es, fr, de, pt,
        ru)."""
        tracking = found(code)
        words = texts_for(accept_language)
        response.headers["Content-Language"] = words.language
        response.headers["Vary"] = "Accept-Language"
        return {**public_view(tracking, words), "estimated_delivery": estimated(tracking)}

    def estimated(tracking: Tracking) -> dict[str, Any] | None:
        progress = progress_of(tracking.timeline, tracking.dispatch)
        if progress is None:
            return None
        try:
            window = transit.estimate(progress)
        except (HistoryUnavailableError, ClickHouseError, OSError) as error:
            log.warning("no delivery estimate", extra={"code": tracking.code, "error": str(error)})
            return None
        return None if window is None else window.to_json()

    @app.get(
        "/v1/shipments/{code}", summary="A shipment, for support", dependencies=[Depends(staff)]
    )
    def shipment(code: str) -> dict[str, Any]:
        """Everything known: status, dispatch (seller, order), every alert with its evidence,
        the timeline with ids, where each source stands, and what to do."""
        return support_view(found(code))

    @app.get(
        "/v1/shipments/{code}/epcis",
        summary="A shipment's history as EPCIS 2.0",
        dependencies=[Depends(staff)],
        response_class=JSONResponse,
        responses={200: {"content": {EPCIS_MEDIA_TYPE: {}}}},
    )
    def shipment_epcis(code: str) -> JSONResponse:
        """The standing carrier scans as an EPCIS 2.0 JSON-LD ``EPCISQueryDocument`` of
        ObjectEvents (docs/api.md); ``tracecode ingest epcis`` reads it back."""
        document = epcis_document(found(code), datetime.now(UTC))
        return JSONResponse(document, media_type=EPCIS_MEDIA_TYPE)

    @app.get("/v1/alerts", summary="Recent alerts, for support", dependencies=[Depends(staff)])
    def alerts(
        kind: Annotated[str | None, Query(description="e.g. SUSPECTED_CLONE, STALLED")] = None,
        since: Annotated[datetime | None, Query(description="ISO 8601, with an offset")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        """Alerts newest first, with their evidence: of one kind, detected since a time."""
        if kind is not None and kind not in ALERT_KINDS:
            raise ApiError(400, f"no alert kind {kind!r}; kinds: {', '.join(ALERT_KINDS)}")
        if since is not None and since.utcoffset() is None:
            raise ApiError(400, "since needs a UTC offset, e.g. 2026-12-01T00:00:00Z")
        try:
            with open_history() as store:
                found = recent_alerts(store, kind, since, limit)
        except (HistoryUnavailableError, ClickHouseError, OSError):
            raise _unavailable("the shipment history") from None
        return {"alerts": [alert.to_json() for alert in found]}

    @app.get("/v1/lanes/{origin}/{destination}", summary="Transit times of a lane")
    def lane_figures(origin: str, destination: str) -> dict[str, Any]:
        """For buyers before they order: p50 and p90 transit days from dispatch to delivery
        between two countries (ISO 3166-1 alpha-2), the share delivered by the promised date,
        and how many deliveries that rests on."""
        countries = [place.upper() for place in (origin, destination)]
        unknown = [place for place in countries if place not in COUNTRIES]
        if unknown:
            raise ApiError(400, f"not an ISO 3166-1 alpha-2 country code: {', '.join(unknown)}")
        try:
            return transit.lane(*countries).to_json()
        except (HistoryUnavailableError, ClickHouseError, OSError):
            raise _unavailable("the shipment history") from None

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def tracking_page(
        request: Request,
        code: str | None = None,
        accept_language: Annotated[str | None, Header()] = None,
    ) -> HTMLResponse:
        words = texts_for(accept_language)
        view, error_status = None, None
        if code is not None and code.strip():
            try:
                tracking = found(code)
            except ApiError as error:
                error_status = error.status
            else:
                view = {**public_view(tracking, words), "estimated_delivery": estimated(tracking)}
        response = TEMPLATES.TemplateResponse(
            request,
            "track.html",
            page_context(words, code, view, error_status),
            status_code=error_status or 200,
        )
        response.headers["Content-Language"] = words.language
        response.headers["Vary"] = "Accept-Language"
        return response

    @app.get("/health", summary="Liveness")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _unavailable(what: str) -> ApiError:
    return ApiError(
        503,
        f"{what} cannot be read right now; try again shortly",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def _history(config: ApiConfig) -> History:
    history = config.history

    def open_history() -> HistoryStore:
        if history is None:
            raise HistoryUnavailableError("no history is configured for the tracking service")
        return ClickHouseHistory.open(history)

    return open_history


def _tracker(config: ApiConfig, open_history: History) -> Tracker:
    def lookup(code: str) -> Tracking:
        return track(code, config.web_urls, open_history)

    return lookup
