"""The webhooks service against the real broker and loopback HTTP receivers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from confluent_kafka import Consumer, Producer, TopicPartition
from standardwebhooks import Webhook

from schemas.codec import codec_for
from schemas.codes import marketplace_code
from schemas.framing import Framing, OutputFraming, SchemaRegistryConnection
from schemas.kafka import KafkaConnection
from schemas.records import RecordType
from schemas.topics import TopicNames
from schemas.webhooks import Subscription
from tests.helpers import unique, wait_for
from tests.unit.schemas.samples import alert, status_changed
from tracecode.cli import main
from tracecode.topics import TopicsConfig, admin_client, apply, topic_specs
from webhooks.config import Backoff, WebhooksConfig
from webhooks.progress import Progress
from webhooks.service import WebhooksService
from webhooks.subscriptions import SubscriptionStore

STATUS = codec_for(RecordType.SHIPMENT_STATUS_CHANGED)
ALERTS = codec_for(RecordType.SHIPMENT_ALERT)
DEAD_LETTERS = codec_for(RecordType.DEAD_LETTER)

Answer = Callable[[str, int], tuple[int, float]]
"""(event id, attempt number of that id) -> (HTTP status, seconds to wait before answering)."""


@dataclass
class Receiver:
    """A loopback HTTP server recording every POST."""

    answer: Answer
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    released: threading.Event = field(default_factory=threading.Event)
    delivered: set[str] = field(default_factory=set)
    """Event ids answered with a 2xx."""
    url: str = ""

    def attempts(self, event_id: str) -> int:
        with self.lock:
            return sum(1 for headers, _ in self.requests if headers["webhook-id"] == event_id)

    def ids(self) -> list[str]:
        with self.lock:
            return [headers["webhook-id"] for headers, _ in self.requests]


@pytest.fixture
def receivers() -> Iterator[Callable[[Answer], Receiver]]:
    servers: list[tuple[ThreadingHTTPServer, Receiver]] = []

    def start(answer: Answer) -> Receiver:
        receiver = Receiver(answer)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                headers = {key.lower(): value for key, value in self.headers.items()}
                with receiver.lock:
                    receiver.requests.append((headers, body))
                    attempt = sum(
                        1 for h, _ in receiver.requests if h["webhook-id"] == headers["webhook-id"]
                    )
                status, wait = receiver.answer(headers["webhook-id"], attempt)
                if wait:
                    receiver.released.wait(wait)
                if 200 <= status < 300:
                    with receiver.lock:
                        receiver.delivered.add(headers["webhook-id"])
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        receiver.url = f"http://127.0.0.1:{server.server_port}/hooks"
        servers.append((server, receiver))
        return receiver

    yield start
    for server, receiver in servers:
        receiver.released.set()
        server.shutdown()
        server.server_close()


def _ok(_: str, __: int) -> tuple[int, float]:
    return 204, 0.0


def _config(kafka: KafkaConnection, topics: TopicNames, **overrides: Any) -> WebhooksConfig:
    apply(admin_client(kafka), topic_specs(topics, TopicsConfig(partitions=2)))
    settings: dict[str, Any] = {
        "group_prefix": unique("hooks"),
        "request_timeout": 1.0,
        "backoff": Backoff(initial=0.1, maximum=0.4),
        "metrics_port": 0,
        "commit_interval": 0.2,
        "poll_timeout": 0.1,
        **overrides,
    }
    return WebhooksConfig(kafka=kafka, topics=topics, **settings)


def _publish(
    kafka: KafkaConnection,
    topics: TopicNames,
    codes: int,
    versions: int,
    framing: OutputFraming | None = None,
) -> list[str]:
    """Status changes (versions 1..n per code, the last DELIVERED) and one STALLED alert per
    code, in Confluent framing with ``framing``; returns their event ids."""
    producer = Producer(kafka.librdkafka_config())

    def framed(topic: str, value: bytes) -> bytes:
        return value if framing is None else framing.frame(topic, value)

    now = datetime.now(UTC)
    ids = []
    for number in range(codes):
        code = marketplace_code(9100 + number)
        for version in range(1, versions + 1):
            status = "DELIVERED" if version == versions else "IN_TRANSIT"
            record = {
                **status_changed(),
                "code": code,
                "version": version,
                "status": status,
                "emitted_at": now,
            }
            value = framed(topics.status, STATUS.encode(record))  # type: ignore[arg-type]
            producer.produce(topics.status, value, code.encode())
            ids.append(f"status:{code}:{version}")
        stalled = {
            **alert(),
            "alert_id": f"alert-{code}",
            "code": code,
            "kind": "STALLED",
            "emitted_at": now,
        }
        value = framed(topics.alerts, ALERTS.encode(stalled))  # type: ignore[arg-type]
        producer.produce(topics.alerts, value, code.encode())
        ids.append(f"alert:alert-{code}")
    assert producer.flush(30) == 0
    return ids


@dataclass
class Running:
    service: WebhooksService
    thread: threading.Thread

    def stop(self) -> None:
        self.service.stop()
        self.thread.join(60)
        assert not self.thread.is_alive()


@pytest.fixture
def start_service() -> Iterator[Callable[[WebhooksConfig], Running]]:
    started: list[Running] = []

    def start(config: WebhooksConfig) -> Running:
        service = WebhooksService(config)
        thread = threading.Thread(target=service.run, daemon=True)
        thread.start()
        wait_for(lambda: service.running.is_set() or None, 60, "the webhooks service")
        running = Running(service, thread)
        started.append(running)
        return running

    yield start
    for running in started:
        if running.thread.is_alive():
            running.stop()


def _subscribe(
    kafka: KafkaConnection, topics: TopicNames, url: str, **filters: Any
) -> Subscription:
    subscription = Subscription.new(url, now=datetime.now(UTC) - timedelta(seconds=1), **filters)
    SubscriptionStore(kafka, topics.webhook_subscriptions).add(subscription)
    return subscription


def test_deliveries_are_signed_filtered_and_in_order_per_code(
    kafka: KafkaConnection,
    topic_names: TopicNames,
    receivers: Callable[[Answer], Receiver],
    start_service: Callable[[WebhooksConfig], Running],
) -> None:
    config = _config(kafka, topic_names)
    everything, delivered_only = receivers(_ok), receivers(_ok)
    all_sub = _subscribe(kafka, topic_names, everything.url)
    running = start_service(config)
    # Added while the service runs: picked up from the subscriptions topic.
    some_sub = _subscribe(kafka, topic_names, delivered_only.url, statuses=["DELIVERED"])
    wait_for(lambda: some_sub.id in running.service.subscribers() or None, 30, "the new one")
    wait_for(
        lambda: all(s.running.is_set() for s in running.service.subscribers().values()) or None,
        60,
        "both subscribers assigned",
    )
    ids = _publish(kafka, topic_names, codes=4, versions=5)

    wait_for(lambda: set(everything.ids()) == set(ids) or None, 60, "every event delivered")
    expected = {i for i in ids if i.endswith(":5")}
    wait_for(lambda: set(delivered_only.ids()) == expected or None, 60, "DELIVERED only")
    for receiver, subscription in ((everything, all_sub), (delivered_only, some_sub)):
        for headers, body in receiver.requests:
            assert Webhook(subscription.secret).verify(body, headers)["id"] == headers["webhook-id"]
    for number in range(4):
        code = marketplace_code(9100 + number)
        versions = [
            int(i.rsplit(":", 1)[1]) for i in everything.ids() if i.startswith(f"status:{code}")
        ]
        assert versions == [1, 2, 3, 4, 5]

    port = running.service.metrics_port
    scraped = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert (
        f'tracecode_webhooks_attempts_total{{outcome="delivered",subscription="{all_sub.id}"}} '
        f"{len(ids)}.0"
    ) in scraped
    assert f'tracecode_webhooks_filtered_total{{subscription="{some_sub.id}"}} 20.0' in scraped


def test_retries_after_500s_and_timeouts_then_gives_up_past_the_horizon(
    kafka: KafkaConnection,
    topic_names: TopicNames,
    receivers: Callable[[Answer], Receiver],
    start_service: Callable[[WebhooksConfig], Running],
) -> None:
    config = _config(kafka, topic_names, request_timeout=0.5, horizon=4.0)

    def flaky(event_id: str, attempt: int) -> tuple[int, float]:
        if event_id.startswith("alert:"):
            return 500, 0.0  # never accepted: given up at the horizon
        return {1: (500, 0.0), 2: (503, 0.0), 3: (204, 2.0)}.get(attempt, (204, 0.0))

    receiver = receivers(flaky)
    subscription = _subscribe(kafka, topic_names, receiver.url)
    producer = Producer(kafka.librdkafka_config())
    producer.produce(topic_names.status, b"not avro", b"garbage")
    assert producer.flush(30) == 0
    start_service(config)
    ids = _publish(kafka, topic_names, codes=2, versions=2)
    statuses = [i for i in ids if i.startswith("status:")]
    alerts = [i for i in ids if i.startswith("alert:")]

    wait_for(
        lambda: all(receiver.attempts(i) >= 4 for i in statuses) or None, 60, "retried deliveries"
    )
    letters = _read_dead_letters(kafka, topic_names.webhook_dead_letters, len(alerts) + 1)
    by_stage = {letter["stage"]: letter for _, letter in letters}
    assert by_stage["decode"]["value"] == b"not avro"
    given_up = [letter for _, letter in letters if letter["stage"] == "process"]
    assert len(given_up) == len(alerts)
    assert all(letter["error_class"] == "DeliveryGivenUp" for letter in given_up)
    assert all("HTTP 500 from" in letter["error_message"] for letter in given_up)
    assert {key for key, _ in letters} == {subscription.id.encode()}
    assert all(receiver.attempts(i) >= 2 for i in alerts)


def test_in_registry_mode_framed_events_are_delivered_and_dead_letters_are_framed(
    kafka: KafkaConnection,
    topic_names: TopicNames,
    receivers: Callable[[Answer], Receiver],
    start_service: Callable[[WebhooksConfig], Running],
) -> None:
    registry = SchemaRegistryConnection("mock://webhooks-integration")
    framing = Framing(registry, topic_names)
    config = _config(kafka, topic_names, schema_registry=registry, horizon=2.0)
    receiver = receivers(lambda event_id, _: (500 if event_id.startswith("alert:") else 204, 0.0))
    _subscribe(kafka, topic_names, receiver.url)
    start_service(config)
    inputs = framing.output([topic_names.status, topic_names.alerts])
    ids = _publish(kafka, topic_names, codes=2, versions=3, framing=inputs)
    statuses = {i for i in ids if i.startswith("status:")}
    wait_for(lambda: statuses <= set(receiver.ids()) or None, 60, "the framed events delivered")

    topic = topic_names.webhook_dead_letters
    raw = _read_dead_letters(kafka, topic, len(ids) - len(statuses), decode=False)
    schema_id = framing.output([topic]).schema_id(topic)
    assert {int.from_bytes(value[1:5], "big") for _, value in raw if value[:1] == b"\x00"} == {
        schema_id
    }
    assert all(value[:1] == b"\x00" for _, value in raw)
    letters = [DEAD_LETTERS.decode(framing.single_object(value)) for _, value in raw]
    assert {letter["error_class"] for letter in letters} == {"DeliveryGivenUp"}


def _read_dead_letters(
    kafka: KafkaConnection, topic: str, count: int, *, decode: bool = True
) -> list[tuple[bytes, Any]]:
    consumer = Consumer(
        {**kafka.librdkafka_config(), "group.id": unique("dlq"), "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    found: list[tuple[bytes, Any]] = []
    deadline = time.monotonic() + 60
    try:
        while len(found) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                value = message.value()
                found.append((message.key(), dict(DEAD_LETTERS.decode(value)) if decode else value))
    finally:
        consumer.close()
    assert len(found) == count, found
    return found


def test_a_dead_subscriber_does_not_hold_back_a_live_one(
    kafka: KafkaConnection,
    topic_names: TopicNames,
    receivers: Callable[[Answer], Receiver],
    start_service: Callable[[WebhooksConfig], Running],
) -> None:
    config = _config(kafka, topic_names, request_timeout=30.0, in_flight=4)
    hanging = receivers(lambda _, __: (204, 3600.0))
    live = receivers(_ok)
    _subscribe(kafka, topic_names, hanging.url)
    _subscribe(kafka, topic_names, live.url)
    start_service(config)
    ids = _publish(kafka, topic_names, codes=10, versions=4)

    wait_for(lambda: set(live.ids()) == set(ids) or None, 60, "the live subscriber's events")
    # The hanging one has its window of 4 POSTs open and has read nothing further.
    assert 1 <= len(set(hanging.ids())) <= 4


def test_a_restart_mid_retry_continues_the_retries_and_loses_nothing(
    kafka: KafkaConnection,
    topic_names: TopicNames,
    receivers: Callable[[Answer], Receiver],
    start_service: Callable[[WebhooksConfig], Running],
) -> None:
    config = _config(kafka, topic_names)
    healthy = threading.Event()
    receiver = receivers(lambda _, __: (204, 0.0) if healthy.is_set() else (503, 0.0))
    subscription = _subscribe(kafka, topic_names, receiver.url)
    first = start_service(config)
    ids = _publish(kafka, topic_names, codes=3, versions=2)
    # A code's version 2 waits behind its failing version 1: only the heads are attempted.
    heads = [i for i in ids if not i.endswith(":2")]
    wait_for(lambda: all(receiver.attempts(i) >= 2 for i in heads) or None, 60, "failed attempts")
    first.stop()
    assert not any(receiver.attempts(i) for i in ids if i.endswith(":2"))

    pending = _committed_progress(kafka, config, subscription.id, topic_names)
    retries = sorted(retry.attempts for progress in pending for retry in progress.pending.values())
    assert len(retries) == len(ids)
    assert retries[: len(ids) - len(heads)] == [0] * (len(ids) - len(heads))
    assert all(attempts >= 2 for attempts in retries[len(ids) - len(heads) :])

    healthy.set()
    start_service(config)
    wait_for(lambda: receiver.delivered == set(ids) or None, 60, "every event after restart")


def test_a_killed_service_restarts_from_its_committed_retry_state_and_loses_nothing(
    kafka: KafkaConnection,
    topic_names: TopicNames,
    receivers: Callable[[Answer], Receiver],
    tmp_path: Path,
) -> None:
    """``tracecode webhooks`` killed with SIGKILL mid-retry: no graceful commit, no goodbye."""
    prefix = topic_names.status.removesuffix(TopicNames().status)
    group_prefix = unique("hooks")
    # The groups the process's settings name (topics prefix + group prefix), to read them here.
    config = _config(kafka, topic_names, group_prefix=prefix + group_prefix)
    healthy = threading.Event()
    receiver = receivers(lambda _, __: (204, 0.0) if healthy.is_set() else (503, 0.0))
    subscription = _subscribe(kafka, topic_names, receiver.url)
    env = {
        **os.environ,
        "TRACECODE_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "TRACECODE_TOPICS_PREFIX": prefix,
        "TRACECODE_WEBHOOKS_GROUP_PREFIX": group_prefix,
        "TRACECODE_WEBHOOKS_RETRY_INITIAL": "0.1",
        "TRACECODE_WEBHOOKS_RETRY_MAX": "0.4",
        "TRACECODE_WEBHOOKS_REQUEST_TIMEOUT": "1",
        "TRACECODE_WEBHOOKS_METRICS_PORT": "0",
        "TRACECODE_DATA_DIR": str(tmp_path),
        "TRACECODE_LOG_LEVEL": "INFO",
    }
    log = tmp_path / "webhooks.log"

    def start() -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "tracecode", "webhooks"], env=env, stdout=out, stderr=out
            )

    service = start()
    try:
        ids = _publish(kafka, topic_names, codes=3, versions=2)
        heads = [i for i in ids if not i.endswith(":2")]
        wait_for(lambda: all(receiver.attempts(i) >= 2 for i in heads) or None, 90, "retries")

        def retried_and_committed() -> bool | None:
            progress = _committed_progress(kafka, config, subscription.id, topic_names)
            attempts = [r.attempts for p in progress for r in p.pending.values()]
            return (len(attempts) == len(ids) and sum(attempts) >= len(heads)) or None

        wait_for(retried_and_committed, 60, "the retry state committed")
        service.send_signal(signal.SIGKILL)
        assert service.wait(30) == -signal.SIGKILL
        assert not receiver.delivered

        healthy.set()
        service = start()
        wait_for(
            lambda: receiver.delivered == set(ids) or None,
            90,
            f"every event after the restart; log:\n{log.read_text()[-3000:]}",
        )
    finally:
        service.kill()
        service.wait(30)


def _committed_progress(
    kafka: KafkaConnection, config: WebhooksConfig, sub_id: str, topics: TopicNames
) -> list[Progress]:
    consumer = Consumer({**kafka.librdkafka_config(), "group.id": config.group_id(sub_id)})
    try:
        committed = consumer.committed(
            [TopicPartition(topic, p) for topic in (topics.status, topics.alerts) for p in (0, 1)],
            timeout=30,
        )
    finally:
        consumer.close()
    return [Progress.restore(tp.offset, tp.metadata) for tp in committed if tp.offset >= 0]


def test_the_cli_adds_lists_and_removes_subscriptions(
    kafka: KafkaConnection, topic_names: TopicNames
) -> None:
    apply(admin_client(kafka), topic_specs(topic_names, TopicsConfig(partitions=1)))
    prefix = topic_names.status.removesuffix(TopicNames().status)
    env = {"TRACECODE_TOPICS_PREFIX": prefix}
    runner = CliRunner()

    added = runner.invoke(
        main,
        ["webhooks", "add", "http://127.0.0.1:9/x", "--status", "delivered", "--alert", "stalled"],
        env=env,
    )
    assert added.exit_code == 0, added.output
    assert "whsec_" in added.stdout
    sub_id = added.stdout.split(": ", 1)[1].split()[0]

    listed = runner.invoke(main, ["webhooks", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert sub_id in listed.stdout and "DELIVERED" in listed.stdout and "STALLED" in listed.stdout
    assert "whsec_" not in listed.stdout

    bad = runner.invoke(main, ["webhooks", "add", "http://x", "--secret", "s3cret"], env=env)
    assert bad.exit_code == 1 and "whsec_" in bad.output

    removed = runner.invoke(main, ["webhooks", "remove", sub_id], env=env)
    assert removed.exit_code == 0, removed.output
    assert runner.invoke(main, ["webhooks", "list", "--json"], env=env).stdout == ""
    again = runner.invoke(main, ["webhooks", "remove", sub_id], env=env)
    assert again.exit_code == 1 and "no subscription" in again.output
