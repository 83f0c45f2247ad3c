"""Calls to the services' HTTP endpoints: worker and sink health, web view, Prometheus metrics.

Everything here answers ``None`` (or raises :class:`EndpointError`) when nothing listens,
so callers can say which service to start.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

_TIMEOUT = 5.0


class EndpointError(Exception):
    """Nothing answered at the URL (refused, timed out, not HTTP)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer: status and body (parsed when it is JSON)."""

    status: int
    body: Any
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class WorkerHealth:
    """A worker's ``/health``."""

    ready: bool
    phase: str
    """``ready``, or what it is doing instead (starting, rebalancing, recovering)."""
    worker: str
    partitions: tuple[int, ...]
    """Partitions it serves."""
    reasons: tuple[str, ...] = ()
    """Why it is not ready."""


@dataclass(frozen=True, slots=True)
class SinkHealth:
    """A sink's ``/health``."""

    ready: bool
    phase: str
    """``ready``, or what holds it (starting, assigning, loading, halted,
    clickhouse-unreachable, stalled)."""
    reasons: tuple[str, ...]


def get(url: str, timeout: float = _TIMEOUT) -> Answer:
    """GET ``url``; any HTTP status is an answer, no answer raises :class:`EndpointError`."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return _answer(response.status, response.read(), dict(response.headers))
    except urllib.error.HTTPError as error:
        return _answer(error.code, error.read(), dict(error.headers))
    except (OSError, ValueError, http.client.HTTPException) as error:  # refused, timeout, not HTTP
        raise EndpointError(f"no answer from {url}: {_reason(error)}") from None


def worker_health(web_url: str, timeout: float = _TIMEOUT) -> WorkerHealth | None:
    """The worker's health, or None when it does not answer (yet)."""
    try:
        answer = get(f"{web_url}/health", timeout)
    except EndpointError:
        return None
    body = answer.body if isinstance(answer.body, dict) else {}
    return WorkerHealth(
        ready=answer.status == 200,
        phase=str(body.get("status", f"HTTP {answer.status}")),
        worker=str(body.get("worker", "")),
        partitions=tuple(int(p) for p in body.get("partitions", [])),
        reasons=tuple(str(r) for r in body.get("reasons", [])),
    )


def sink_health(health_url: str, timeout: float = _TIMEOUT) -> SinkHealth | None:
    """The sink's health (``health_url`` ends in ``/health``), or None when it does not answer."""
    try:
        answer = get(health_url, timeout)
    except EndpointError:
        return None
    body = answer.body if isinstance(answer.body, dict) else {}
    return SinkHealth(
        ready=answer.status == 200,
        phase=str(body.get("status", f"HTTP {answer.status}")),
        reasons=tuple(str(r) for r in body.get("reasons", [])),
    )


def shipment_url(web_url: str, code: str) -> str:
    """The web view's URL of ``code``."""
    return f"{web_url}/shipments/{urllib.parse.quote(code, safe='')}"


@dataclass(frozen=True, slots=True)
class Sample:
    """One Prometheus sample."""

    name: str
    labels: Mapping[str, str]
    value: float


def scrape(url: str, timeout: float = _TIMEOUT) -> list[Sample]:
    """The samples of the Prometheus text at ``url``; :class:`EndpointError` when nothing
    answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            text = response.read().decode()
    except (OSError, ValueError, http.client.HTTPException) as error:
        raise EndpointError(f"no answer from {url}: {_reason(error)}") from None
    return [
        Sample(sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def total(samples: list[Sample], name: str) -> float:
    """The sum of the samples named ``name`` (over all labels)."""
    return sum(sample.value for sample in samples if sample.name == name)


def _answer(status: int, data: bytes, headers: Mapping[str, str]) -> Answer:
    try:
        body: Any = json.loads(data) if data else None
    except ValueError:
        body = data.decode(errors="replace")
    return Answer(status, body, headers)


def _reason(error: BaseException) -> str:
    reason = getattr(error, "reason", None)
    return str(reason if reason is not None else error)
