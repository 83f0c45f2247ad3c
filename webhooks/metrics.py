"""The webhooks service's Prometheus metrics, by subscription, served on ``/metrics``.

Each :class:`WebhookMetrics` has its own registry, so several services in one process (tests)
keep their figures apart. A removed subscription's series are removed with it.
"""

from __future__ import annotations

import contextlib
import threading
from enum import StrEnum
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


class Outcome(StrEnum):
    """What became of one delivery attempt (``outcome`` label)."""

    DELIVERED = "delivered"
    """The subscriber answered 2xx."""
    FAILED = "failed"
    """It did not (error status, timeout, refused connection); another attempt is scheduled."""
    DEAD_LETTERED = "dead_lettered"
    """It did not, past the horizon: the record went to the webhook dead-letter topic."""


class WebhookMetrics:
    """Counters and gauges of one webhooks service."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.attempts = Counter(
            "tracecode_webhooks_attempts",
            "Delivery attempts, by subscription and outcome.",
            ["subscription", "outcome"],
            registry=r,
        )
        self.filtered = Counter(
            "tracecode_webhooks_filtered",
            "Events the subscription's filters left out.",
            ["subscription"],
            registry=r,
        )
        self.undecodable = Counter(
            "tracecode_webhooks_undecodable",
            "Records that did not decode (dead-lettered, not delivered).",
            ["subscription"],
            registry=r,
        )
        self.attempt_seconds = Histogram(
            "tracecode_webhooks_attempt_seconds",
            "Duration of one POST, answered or not.",
            ["subscription"],
            registry=r,
        )
        self.pending = Gauge(
            "tracecode_webhooks_pending",
            "Events read and not yet delivered or given up (in flight or waiting to retry).",
            ["subscription"],
            registry=r,
        )
        self.oldest_pending_seconds = Gauge(
            "tracecode_webhooks_oldest_pending_seconds",
            "Age of the oldest pending event (since tracecode emitted it); 0 when none.",
            ["subscription"],
            registry=r,
        )
        self.subscriptions = Gauge(
            "tracecode_webhooks_subscriptions",
            "Subscriptions being served.",
            registry=r,
        )

    def forget(self, subscription: str) -> None:
        """Remove the series of a removed subscription."""
        for outcome in Outcome:
            _remove(self.attempts, subscription, outcome.value)
        for metric in (
            self.filtered,
            self.undecodable,
            self.attempt_seconds,
            self.pending,
            self.oldest_pending_seconds,
        ):
            _remove(metric, subscription)


def _remove(metric: Counter | Gauge | Histogram, *labels: str) -> None:
    with contextlib.suppress(KeyError):
        metric.remove(*labels)


def serve(metrics: WebhookMetrics, port: int, host: str) -> tuple[WSGIServer, threading.Thread]:
    """Serve ``/metrics`` on ``host``:``port`` (0: any free port) in a daemon thread."""
    return start_http_server(port, host, registry=metrics.registry)
