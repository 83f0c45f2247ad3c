"""The live state of a shipment, from the workers' web views (``GET /shipments/{code}``).

Faust routes a request to the worker that owns the code's partition, so any worker answers for
any code; a worker whose partitions are moving answers 503.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

_TIMEOUT_S = 5.0


class WorkerUnavailableError(Exception):
    """No worker web view answered; the message says which and why."""


def shipment_url(web_url: str, code: str) -> str:
    """The web view's URL of ``code`` (canonical)."""
    return f"{web_url.rstrip('/')}/shipments/{quote(code, safe='')}"


def get_shipment(web_url: str, code: str, timeout: float = _TIMEOUT_S) -> tuple[int, Any, str]:
    """The web view's answer about ``code``: HTTP status, JSON body (or text) and the worker
    that answered. Raises :class:`WorkerUnavailableError` when nothing answers."""
    url = shipment_url(web_url, code)
    try:
        response = httpx.get(url, timeout=timeout, headers={"Accept": "application/json"})
    except httpx.HTTPError as error:
        raise WorkerUnavailableError(f"no answer from {url}: {error}") from None
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    worker = response.headers.get("X-Tracecode-Worker") or web_url
    return response.status_code, body, str(worker)
