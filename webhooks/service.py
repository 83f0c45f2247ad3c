"""The webhooks service: one :class:`~webhooks.delivery.Subscriber` per subscription.

It reads the subscriptions topic to its end before delivering anything, then follows it:
an added subscription starts a subscriber, a changed one is updated in place, a removed one
stops (after its in-flight POSTs) and its consumer group is deleted. Several instances share
the work: each subscription's group spreads its partitions over them.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from schemas.framing import Framing, OutputFraming
from schemas.webhooks import Subscription
from webhooks.config import WebhooksConfig
from webhooks.delivery import Subscriber
from webhooks.metrics import WebhookMetrics, serve
from webhooks.subscriptions import SubscriptionFeed

log = logging.getLogger(__name__)


class SubscriberFailedError(RuntimeError):
    """A subscriber stopped on an error it cannot recover from (the service stops too)."""


@dataclass(slots=True)
class _Running:
    subscriber: Subscriber
    thread: threading.Thread


class WebhooksService:
    """Delivers every subscription until :meth:`stop`."""

    def __init__(self, config: WebhooksConfig, metrics: WebhookMetrics | None = None) -> None:
        self.config = config
        self.metrics = metrics or WebhookMetrics()
        self._stop = threading.Event()
        self._running: dict[str, _Running] = {}
        self.running = threading.Event()
        """Set once the subscriptions are read and their subscribers started."""
        self.metrics_port: int | None = None
        self._framings: tuple[Framing, OutputFraming] | None = None

    def stop(self) -> None:
        """Ask the service to finish: in-flight POSTs complete, progress is committed."""
        self._stop.set()

    def subscribers(self) -> dict[str, Subscriber]:
        """The subscribers running now, by subscription id."""
        return {sub_id: running.subscriber for sub_id, running in self._running.items()}

    def run(self) -> None:
        """Serve the metrics, deliver until :meth:`stop`, then stop every subscriber."""
        server = None
        if self.config.metrics_port is not None:
            server, _ = serve(self.metrics, self.config.metrics_port, self.config.metrics_host)
            self.metrics_port = server.server_port
        registry = self.config.schema_registry
        if registry is not None:
            framing = Framing(registry, self.config.topics)
            self._framings = (framing, framing.output([self.config.topics.webhook_dead_letters]))
        dead_letters = Producer(
            {**self.config.kafka.librdkafka_config(), "acks": "all", "enable.idempotence": True},
            logger=log,
        )
        try:
            topic = self.config.topics.webhook_subscriptions
            with SubscriptionFeed(self.config.kafka, topic) as feed:
                for subscription in feed.read_current().values():
                    self._start(subscription, dead_letters)
                log.info("webhooks service running", extra={"subscriptions": len(self._running)})
                self.running.set()
                while not self._stop.is_set():
                    change = feed.poll(self.config.poll_timeout)
                    if change is not None:
                        if change.subscription is None:
                            self._remove(change.id)
                        elif change.id in self._running:
                            self._running[change.id].subscriber.update(change.subscription)
                            log.info("subscription changed", extra={"subscription": change.id})
                        else:
                            self._start(change.subscription, dead_letters)
                    self._check_subscribers()
        finally:
            self.running.clear()
            for sub_id in list(self._running):
                self._halt(sub_id)
            dead_letters.flush(self.config.request_timeout)
            if server is not None:
                server.shutdown()
                server.server_close()

    def _start(self, subscription: Subscription, dead_letters: Producer) -> None:
        subscriber = Subscriber(
            self.config, subscription, dead_letters, self.metrics, framings=self._framings
        )
        thread = threading.Thread(
            target=subscriber.run, name=f"webhooks-{subscription.id}", daemon=True
        )
        self._running[subscription.id] = _Running(subscriber, thread)
        thread.start()
        self.metrics.subscriptions.set(len(self._running))
        log.info(
            "subscription started",
            extra={"subscription": subscription.id, "url": subscription.url},
        )

    def _halt(self, sub_id: str) -> None:
        running = self._running.pop(sub_id)
        running.subscriber.stop()
        running.thread.join()
        self.metrics.subscriptions.set(len(self._running))

    def _remove(self, sub_id: str) -> None:
        if sub_id not in self._running:
            return
        self._halt(sub_id)
        self.metrics.forget(sub_id)
        group = self.config.group_id(sub_id)
        admin = AdminClient(dict(self.config.kafka.librdkafka_config()))
        try:
            admin.delete_consumer_groups([group], request_timeout=30)[group].result()
        except Exception as error:  # the group only holds progress; it expires by itself
            log.warning(
                "could not delete a removed subscription's consumer group",
                extra={"group": group, "error": str(error)},
            )
        log.info("subscription removed", extra={"subscription": sub_id})

    def _check_subscribers(self) -> None:
        for sub_id, running in self._running.items():
            if not running.thread.is_alive() and not self._stop.is_set():
                raise SubscriberFailedError(
                    f"the subscriber of {sub_id} stopped: {running.subscriber.error!r}"
                ) from running.subscriber.error
