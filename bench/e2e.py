"""The end-to-end benchmark: one input, every figure, in one run (docs/performance.md).

    .venv/bin/python -m bench.e2e [--quick] [--events N] [--only PHASE[,PHASE]] [--json PATH]
                                  [--keep-topics]

The broker must be up (``tracecode broker up``). A simulator run (every hard case) is encoded
once and published into fresh topic sets, one per measured process, so no run reads another's
output. Phases: ``ceilings`` (confluent-kafka consume of the input, raw and decoded),
``worker`` (one ``tracecode worker`` process, exactly-once and at-least-once), ``latency``
(a caught-up worker fed at fixed rates: send -> status record visible), ``sink``
(``tracecode sink`` rows/s, and event -> row queryable), ``scale`` (the worker with many
shipments preloaded in its table), ``peer`` (the same join on Quix Streams, bench/peers/);
then the ratios and the machine. Prints a Markdown table, writes every figure to a JSON file,
and exits non-zero only when a measurement failed; figures are never asserted.

A join's throughput is input events over the time from its first input record read to its
last output committed. The worker offers no observable of its first read; the start is the
earliest ``processed_time`` of the history records it wrote, which it stamps when it starts
processing a batch of input records it has just read (the output records' own timestamps come
seconds later under a backlog: they are sent when the batch's commit comes). The end is when
the group's committed offsets reach the end of both inputs and every output record is visible
``read_committed``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import NewTopic

from bench._kafka import (
    Event,
    GroupProgress,
    Reader,
    close,
    delete_everything,
    input_topics,
    output_topics,
    partitions,
    producer,
    provision,
    publish,
    stable_ends,
)
from bench._processes import CpuTrace, Failure, Process, Timeout, free_port, say, wait_until
from producers.core import EventProducer
from producers.events import EventKind, InputRecord, encode_event
from producers.simulator import SimulationConfig, simulate
from schemas.codec import codec_for
from schemas.codes import marketplace_code
from schemas.kafka import KafkaConnection
from schemas.records import CarrierScan, RecordType, SellerDispatch, ShipmentState
from schemas.status import Status
from schemas.topics import TopicNames
from streams.join.partition import PartitionJoin
from streams.join.stored import StoredStateCodec
from streams.join.transition import STALLABLE, Outcome, Rules, next_due, tick
from tracecode.compiled import compiled_modules
from tracecode.endpoints import EndpointError, scrape, total, worker_health
from tracecode.errors import TracecodeError
from tracecode.settings import Settings, load_settings
from tracecode.topics import admin_client

REPO = Path(__file__).resolve().parent.parent
PHASES = ("ceilings", "worker", "latency", "sink", "scale", "peer")
GUARANTEES = ("exactly_once", "at_least_once")

_SEED = 7
_UNTIL = datetime(2026, 11, 1, tzinfo=UTC)
_EVENTS_PER_SHIPMENT = 15.5
"""The simulator's mean, to size the first plan (planning is cheap, generating is not)."""
_GROUP = "bench"
_DRAIN_S = 15.0
"""After the last send at a fixed rate, a worker that keeps up commits everything within its
commit interval plus the arrival-order merge's wait (5 s): longer means it fell behind."""
_SINK_POLL_S = 0.2
_TEMPLATE_SHIPMENTS = 400
_TEMPLATE_SEED = 99
_TEMPLATE_SHIFTS = 8
"""Time placements per template state: preloaded shipments spread over weeks, not one instant."""
_CLONE_ISSUER = "BX"
"""Issuer letters of the preloaded codes: the simulator's are ``TC``, so none collides."""


@dataclass(frozen=True, slots=True)
class Plan:
    """How big each phase is."""

    quick: bool
    events: int
    rates: tuple[int, ...]
    rate_seconds: float
    scale_events: int
    scale_shipments: tuple[int, ...]
    drain_seconds: float = _DRAIN_S
    sink_poll_seconds: float = _SINK_POLL_S

    @classmethod
    def of(cls, quick: bool, events: int | None) -> Plan:
        if quick:
            return cls(True, events or 20_000, (500, 2_000), 10.0, 5_000, (1_000, 5_000, 10_000))
        return cls(
            False, events or 300_000, (1_000, 5_000), 60.0, 30_000, (10_000, 100_000, 1_000_000)
        )

    @property
    def simulated(self) -> int:
        """Events simulated: every phase takes a prefix of the same simulation, whichever
        phases run, so a phase's figures do not depend on ``--only``."""
        return max(self.events, round(max(self.rates) * self.rate_seconds), self.scale_events)


Result = dict[str, Any]


@dataclass
class Bench:
    """One run: its settings, input, topic sets, temp folder and results."""

    settings: Settings
    plan: Plan
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tracecode-e2e-")))
    events: list[Event] = field(default_factory=list)
    shipments: int = 0
    results: dict[str, Any] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sink_rows: Result | None = None
    """Event -> row queryable, measured during the latency run at the lowest rate."""
    _published: dict[str, TopicNames] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        """What every topic and consumer group of this run starts with."""
        return f"bench-e2e-{self.run}-"

    @property
    def kafka(self) -> KafkaConnection:
        return self.settings.kafka_connection()

    def topics(self, name: str) -> tuple[str, TopicNames]:
        """A fresh, empty topic set for the run ``name``: its prefix and names."""
        prefix = f"{self.prefix}{name}."
        return prefix, provision(self.settings, prefix)

    def published(self, name: str, count: int) -> tuple[str, TopicNames]:
        """The topic set ``name`` holding the first ``count`` input events (published once)."""
        prefix = f"{self.prefix}{name}."
        if name not in self._published:
            _, topics = self.topics(name)
            started = time.monotonic()
            publish(self.settings, topics, self.events[:count])
            say(f"  published {count:,} events to {prefix}* in {time.monotonic() - started:.1f} s")
            self._published[name] = topics
        return prefix, self._published[name]

    def workspace(self, name: str) -> Path:
        path = self.folder / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def measure(self, phase: str, key: str, measure: Callable[[], Result]) -> Result | None:
        """Run one measurement; a failure is recorded and the benchmark goes on."""
        say(f"{phase}: {key}")
        started = time.monotonic()
        try:
            result = measure()
        except Exception as error:
            if not isinstance(error, Failure):
                traceback.print_exc(file=sys.stderr)
            message = str(error) or type(error).__name__
            self.failures.append({"phase": phase, "measurement": key, "error": message})
            self.results.setdefault(phase, {})[key] = {"error": message}
            say(f"{phase}: {key} FAILED after {time.monotonic() - started:.0f} s: {message}")
            return None
        self.results.setdefault(phase, {})[key] = result
        say(f"{phase}: {key} done in {time.monotonic() - started:.0f} s")
        return result


# -- input -----------------------------------------------------------------------------------


def _simulate(needed: int) -> tuple[list[Event], int]:
    """The first ``needed`` events of a simulation (in send order), encoded once; and its
    number of shipments."""
    shipments = math.ceil(needed / _EVENTS_PER_SHIPMENT)
    while True:
        simulation = simulate(SimulationConfig(shipments=shipments, until=_UNTIL, seed=_SEED))
        if simulation.event_count >= needed:
            break
        shipments = math.ceil(shipments * needed / max(simulation.event_count, 1) * 1.02)
    events = []
    for item in simulation.events():
        record = item.record
        at = _event_time(item.kind, record)
        value = encode_event(item.kind, record)
        events.append(Event(item.kind, record["code"], record["event_id"], at, value))
        if len(events) == needed:
            break
    return events, shipments


def _event_time(kind: EventKind, record: InputRecord) -> datetime:
    if kind is EventKind.SCAN:
        return cast(CarrierScan, record)["event_time"]
    return cast(SellerDispatch, record)["dispatch_time"]


# -- ceilings --------------------------------------------------------------------------------


def _ceiling(bench: Bench, topics: TopicNames, count: int, decode: bool) -> Result:
    """Events/s of one confluent-kafka consumer reading both input topics in batches, timed
    from the first record received to the last."""
    decoders = {
        topics.scans: codec_for(RecordType.CARRIER_SCAN).decode,
        topics.dispatches: codec_for(RecordType.SELLER_DISPATCH).decode,
    }
    kafka = bench.kafka
    consumer = Consumer(
        {
            **kafka.librdkafka_config(),
            "group.id": f"{bench.prefix}ceiling-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    consumer.assign(partitions(kafka, input_topics(topics)))
    deadline = time.monotonic() + 120 + count / 1_000
    seen = 0
    started = cpu = 0.0
    try:
        while seen < count:
            messages = consumer.consume(10_000, 1.0)
            if messages and not seen:
                started, cpu = time.perf_counter(), time.process_time()
            for message in messages:
                error = message.error()
                if error is not None:
                    raise KafkaException(error)
                if decode:
                    decoders[message.topic() or ""](message.value() or b"")
                seen += 1
            if time.monotonic() > deadline:
                raise Timeout(f"read {seen:,} of {count:,} events before the deadline")
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
    finally:
        consumer.close()
    return {
        "events": count,
        "seconds": elapsed,
        "events_per_s": count / elapsed,
        "cpu_seconds_per_1k_events": cpu / count * 1000,
    }


def ceilings(bench: Bench) -> None:
    _, topics = bench.published("worker-exactly-once", bench.plan.events)
    count = bench.plan.events
    bench.measure("ceilings", "raw_consume", lambda: _ceiling(bench, topics, count, False))
    bench.measure("ceilings", "consume_decode", lambda: _ceiling(bench, topics, count, True))


# -- the worker ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Started:
    """A join process just started, and how to tell it is ready."""

    process: Process
    group: str
    """Its consumer group (on the input topics)."""
    at: float
    ready: Callable[[], bool] | None
    """``None``: it has no readiness signal."""
    data: Path


def _start_worker(bench: Bench, name: str, prefix: str, guarantee: str) -> Started:
    folder = bench.workspace(name)
    port = free_port()
    env = {
        **os.environ,
        "TRACECODE_TOPICS_PREFIX": prefix,
        "TRACECODE_DATA_DIR": str(folder / "data"),
        "TRACECODE_WORKER_GROUP": _GROUP,
        "TRACECODE_WORKER_WEB_PORT": str(port),
        "TRACECODE_WORKER_PROCESSING_GUARANTEE": guarantee,
    }
    at = time.time()
    process = Process(
        f"worker {name}",
        [sys.executable, "-m", "tracecode", "worker"],
        env,
        folder / "worker.log",
    )

    def ready() -> bool:
        health = worker_health(f"http://127.0.0.1:{port}", timeout=2)
        return health is not None and health.ready

    return Started(process, prefix + _GROUP, at, ready, folder / "data")


def _measure_join(
    bench: Bench,
    started: Started,
    topics: TopicNames,
    events: int,
    ready_timeout: float = 180.0,
    work_timeout: float = 0.0,
) -> Result:
    """Throughput, CPU and peak memory of a join process over ``events`` input events that
    wait in its input topics (the method: the module's docstring).

    CPU is counted from the first event processed on, from a trace of the process's CPU time:
    ``/health`` is no baseline, as the worker can be busy with the input before it says ready.
    """
    kafka = bench.kafka
    outputs = output_topics(topics)
    with started.process as process:
        trace = CpuTrace(process)
        trace.start()
        reader = Reader(kafka, outputs, history=topics.history)
        reader.start()
        progress = GroupProgress(kafka, started.group, input_topics(topics))
        try:
            ready_at = None
            if started.ready is not None:
                ready_at = wait_until(
                    started.ready,
                    timeout=ready_timeout,
                    what=f"{process.name} to be ready",
                    watch=[process],
                    progress=lambda: f"not yet, {trace.sample():.0f} CPU s used",
                    interval=0.1,
                )
            done_at = wait_until(
                progress.caught_up,
                timeout=work_timeout or ready_timeout + 300 + events / 100,
                what=f"{process.name} to commit every input event",
                watch=[process],
                progress=lambda: f"{progress.consumed:,} / {events:,} events",
            )
            ends = stable_ends(kafka, outputs)
            wait_until(
                lambda: reader.reached(ends),
                timeout=60,
                what=f"the output of {process.name} to be readable",
                watch=[process],
            )
            cpu_end = trace.sample()
            peak_rss = process.peak_rss()
            status = process.stop()
        finally:
            trace.close()
            reader.close()
            progress.close()
    shutil.rmtree(started.data, ignore_errors=True)
    if status != 0 or process.killed:
        how = "killed after the SIGTERM timeout" if process.killed else f"exit status {status}"
        bench.warnings.append(f"{process.name} did not stop cleanly ({how}); log: {process.log}")
    first = reader.first_processed
    if first is None or reader.first_timestamp is None:
        raise Failure(f"{process.name} wrote no history")
    end = max(done_at, reader.last_arrival or done_at)
    cpu = cpu_end - trace.at(first)
    names = ("history", "status", "alerts", "dead_letters")
    return {
        "topics_prefix": topics.scans.removesuffix(TopicNames().scans),
        "events": events,
        "seconds": end - first,
        "events_per_s": events / (end - first),
        "cpu_seconds": cpu,
        "cpu_seconds_per_1k_events": cpu / events * 1000,
        "peak_rss_bytes": peak_rss,
        "first_processed_after_start_s": first - started.at,
        "ready_after_start_s": None if ready_at is None else ready_at - started.at,
        "first_output_after_first_processed_s": reader.first_timestamp - first,
        "outputs": {name: reader.counts[topic] for name, topic in zip(names, outputs, strict=True)},
        "exit_status": status,
    }


def _worker_run(bench: Bench, guarantee: str) -> Result:
    name = f"worker-{guarantee.replace('_', '-')}"
    prefix, topics = bench.published(name, bench.plan.events)
    started = _start_worker(bench, name, prefix, guarantee)
    return _measure_join(bench, started, topics, bench.plan.events)


def worker(bench: Bench) -> None:
    for guarantee in GUARANTEES:
        bench.measure("worker", guarantee, functools.partial(_worker_run, bench, guarantee))


# -- latency ---------------------------------------------------------------------------------


def _percentiles(seconds: Sequence[float]) -> Result:
    """p50/p95/p99/max in milliseconds (nearest rank), and the count."""
    ordered = sorted(seconds)
    if not ordered:
        return {"count": 0}

    def rank(q: float) -> float:
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000

    return {
        "count": len(ordered),
        "p50_ms": rank(0.50),
        "p95_ms": rank(0.95),
        "p99_ms": rank(0.99),
        "max_ms": ordered[-1] * 1000,
    }


def _paced(
    sender: EventProducer, events: Sequence[Event], rate: float, sent_at: dict[str, float]
) -> tuple[float, float]:
    """Send ``events`` at ``rate`` per second (paced against the start, in bursts of at most
    5 ms); note each event's send time. Returns the times of the first and the last send."""
    started = time.monotonic()
    first = time.time()
    report_at = started + 10
    sent = 0
    while sent < len(events):
        now = time.monotonic()
        due = min(len(events), int((now - started) * rate) + 1)
        while sent < due:
            event = events[sent]
            # A duplicate copy (a hard case) keeps the first send: the join applies that one.
            sent_at.setdefault(event.event_id, time.time())
            sender.send_encoded(event.kind, event.code, event.value)
            sent += 1
        sender.poll(0)
        if now >= report_at:
            say(f"  sending at {rate:,.0f} ev/s: {sent:,} / {len(events):,} events")
            report_at += 10
        time.sleep(max(0.0, min(0.005, started + sent / rate - time.monotonic())))
    return first, time.time()


def _start_sink(bench: Bench, name: str, prefix: str) -> tuple[Process, str, str]:
    """A ``tracecode sink`` on chDB in its own data folder: the process, its metrics URL and
    its query endpoint's URL."""
    folder = bench.workspace(name)
    metrics, queries = free_port(), free_port()
    env = {
        **os.environ,
        "TRACECODE_TOPICS_PREFIX": prefix,
        "TRACECODE_DATA_DIR": str(folder / "data"),
        "TRACECODE_SINK_DSN": f"chdb://{folder / 'data' / 'clickhouse'}",
        "TRACECODE_SINK_GROUP_ID": "bench-sink",
        "TRACECODE_SINK_METRICS_PORT": str(metrics),
        "TRACECODE_SINK_QUERY_PORT": str(queries),
    }
    process = Process(
        f"sink {name}", [sys.executable, "-m", "tracecode", "sink"], env, folder / "sink.log"
    )
    return process, f"http://127.0.0.1:{metrics}/metrics", f"http://127.0.0.1:{queries}/"


def _rows_stored(metrics: str) -> float | None:
    """Rows the sink has stored, from its metrics; ``None`` while it does not answer."""
    try:
        return total(scrape(metrics, timeout=2), "tracecode_sink_rows_inserted_total")
    except EndpointError:
        return None


class RowPoller(threading.Thread):
    """Asks the sink's query endpoint every ``interval`` seconds for the history rows stored
    since its last answer, and notes when each event's row first showed up."""

    def __init__(self, url: str, sent_at: Mapping[str, float], interval: float) -> None:
        super().__init__(name="row-poller", daemon=True)
        self._url = url
        self._sent_at = sent_at
        self._interval = interval
        self._stopping = threading.Event()
        self._last: dict[int, int] = {}
        """Per partition, the last offset seen: the sink stores each partition in order."""
        self.latencies: list[float] = []
        self.rows = 0
        self.failed_polls = 0

    def run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self._poll()
            except OSError:
                self.failed_polls += 1

    def _poll(self) -> None:
        newer = [f"(kafka_partition = {p} AND kafka_offset > {o})" for p, o in self._last.items()]
        if self._last:
            newer.append(f"kafka_partition NOT IN ({', '.join(map(str, self._last))})")
        where = " OR ".join(newer) or "1"
        query = (
            "SELECT kafka_partition, kafka_offset, event_id FROM shipment_events "
            f"WHERE {where} FORMAT TabSeparated"
        )
        request = urllib.request.Request(self._url, data=query.encode(), method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read().decode()
        now = time.time()
        for line in body.splitlines():
            partition, offset, event_id = line.split("\t")
            p = int(partition)
            self._last[p] = max(self._last.get(p, -1), int(offset))
            self.rows += 1
            sent = self._sent_at.get(event_id)
            if sent is not None:
                self.latencies.append(now - sent)

    def close(self) -> None:
        self._stopping.set()
        self.join(30)


def _latency_run(bench: Bench, rate: int, with_sink: bool) -> tuple[Result, Result | None]:
    """Send -> status record visible at ``rate`` events/s into a caught-up exactly-once
    worker; with ``with_sink``, also event -> history row queryable in a running sink."""
    plan = bench.plan
    name = f"latency-{rate}"
    prefix, topics = bench.topics(name)
    events = bench.events[: round(rate * plan.rate_seconds)]
    kafka = bench.kafka
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    causes = {"time_based": 0, "unmatched": 0}
    decode = codec_for(RecordType.SHIPMENT_STATUS_CHANGED).decode

    def on_status(value: bytes | None, arrived: float) -> None:
        if value is None:
            return
        cause = decode(value)["cause_event_id"]
        if cause is None:
            causes["time_based"] += 1
        elif (sent := sent_at.get(cause)) is None:
            causes["unmatched"] += 1
        else:
            latencies.append(arrived - sent)

    with contextlib.ExitStack() as stack:
        started = _start_worker(bench, name, prefix, "exactly_once")
        stack.callback(shutil.rmtree, started.data, True)
        stack.enter_context(started.process)
        watch = [started.process]
        assert started.ready is not None
        wait_until(started.ready, timeout=180, what="the worker to be ready", watch=watch)
        poller = None
        if with_sink:
            sink, metrics, queries = _start_sink(bench, f"{name}-sink", prefix)
            stack.enter_context(sink)
            watch.append(sink)
            wait_until(
                lambda: _rows_stored(metrics) is not None,
                timeout=180,
                what="the sink to be ready",
                watch=watch,
            )
            poller = RowPoller(queries, sent_at, plan.sink_poll_seconds)
            poller.start()
            stack.callback(poller.close)
        status_reader = Reader(kafka, [topics.status], on_status)
        status_reader.start()
        stack.callback(status_reader.close)
        history_reader = Reader(kafka, [topics.history])
        history_reader.start()
        stack.callback(history_reader.close)
        sender = producer(bench.settings, topics)
        first_send, last_send = _paced(sender, events, rate, sent_at)
        close(sender, len(events))
        progress = GroupProgress(kafka, started.group, input_topics(topics))
        stack.callback(progress.close)
        try:
            wait_until(
                progress.caught_up,
                timeout=plan.drain_seconds,
                what="the worker to catch up",
                watch=watch,
            )
            kept_up = True
        except Timeout:
            kept_up = False
        if kept_up:
            status_ends = stable_ends(kafka, [topics.status])
            history_ends = stable_ends(kafka, [topics.history])
            wait_until(
                lambda: status_reader.reached(status_ends) and history_reader.reached(history_ends),
                timeout=60,
                what="the status records to be readable",
                watch=watch,
            )
            if poller is not None:
                wait_until(
                    lambda: poller.rows >= history_reader.total,
                    timeout=60,
                    what="the sink to store every history row",
                    watch=watch,
                    progress=lambda: f"{poller.rows:,} / {history_reader.total:,} rows",
                )
        status_reader.check()
    result = {
        "rate": rate,
        "seconds": plan.rate_seconds,
        "events": len(events),
        "achieved_rate": (len(events) - 1) / max(last_send - first_send, 1e-9),
        "kept_up": kept_up,
        "lag_after_drain": 0 if kept_up else progress.lag,
        "drain_seconds": plan.drain_seconds,
        "sink_running": with_sink,
        "status_records": _percentiles(latencies),
        "time_based_status_records": causes["time_based"],
        "unmatched_status_records": causes["unmatched"],
    }
    rows = None
    if poller is not None:
        rows = {
            "rate": rate,
            "kept_up": kept_up,
            "rows": _percentiles(poller.latencies),
            "poll_interval_s": plan.sink_poll_seconds,
            "failed_polls": poller.failed_polls,
        }
    return result, rows


def latency(bench: Bench, with_sink: bool) -> None:
    lowest = min(bench.plan.rates)
    for rate in bench.plan.rates:
        sink_too = with_sink and rate == lowest

        def run(rate: int = rate, sink_too: bool = sink_too) -> Result:
            result, rows = _latency_run(bench, rate, sink_too)
            if rows is not None:
                bench.sink_rows = rows
            return result

        bench.measure("latency", f"{rate}", run)


# -- the sink --------------------------------------------------------------------------------


def _sink_throughput(bench: Bench, source: Result) -> Result:
    """Rows/s of a sink over the exactly-once worker's output: from its metrics answering
    (schema ready, about to subscribe) until it has stored every record."""
    outputs = source["outputs"]
    expected = int(outputs["history"] + outputs["status"] + outputs["alerts"])
    started = time.time()
    process, metrics, _ = _start_sink(bench, "sink", source["topics_prefix"])
    stored = 0.0

    def all_stored() -> bool:
        nonlocal stored
        stored = _rows_stored(metrics) or 0.0
        return stored >= expected

    with process:
        ready_at = wait_until(
            lambda: _rows_stored(metrics) is not None,
            timeout=180,
            what="the sink to be ready",
            watch=[process],
            interval=0.1,
        )
        cpu_ready = process.cpu_seconds()
        done_at = wait_until(
            all_stored,
            timeout=300 + expected / 500,
            what="the sink to store every record",
            watch=[process],
            progress=lambda: f"{stored:,.0f} / {expected:,} rows",
        )
        cpu = process.cpu_seconds() - cpu_ready
        peak_rss = process.peak_rss()
    return {
        "rows": expected,
        "seconds": done_at - ready_at,
        "rows_per_s": expected / (done_at - ready_at),
        "cpu_seconds_per_1k_rows": cpu / expected * 1000,
        "peak_rss_bytes": peak_rss,
        "ready_after_s": ready_at - started,
    }


def sink(bench: Bench, latency_ran: bool) -> None:
    source = bench.results.get("worker", {}).get("exactly_once")
    if source is None:
        say("sink: needs the exactly-once worker's output first")
        bench.measure("worker", "exactly_once", lambda: _worker_run(bench, "exactly_once"))
        source = bench.results["worker"]["exactly_once"]
    if "error" in source:
        bench.measure("sink", "throughput", _raise("no output: the exactly-once worker failed"))
    else:
        bench.measure("sink", "throughput", lambda: _sink_throughput(bench, source))
    lowest = min(bench.plan.rates)
    if not latency_ran:
        bench.measure("sink", "event_to_row", lambda: _latency_run(bench, lowest, True)[1] or {})
    elif bench.sink_rows is None:
        reason = f"not measured: the latency run at {lowest:,} events/s failed"
        bench.measure("sink", "event_to_row", _raise(reason))
    else:
        bench.measure("sink", "event_to_row", lambda: bench.sink_rows or {})


def _raise(message: str) -> Callable[[], Result]:
    def fail() -> Result:
        raise Failure(message)

    return fail


# -- scale -----------------------------------------------------------------------------------


def _shift(value: Any, delta: timedelta) -> Any:
    """``value`` (a decoded record) with every time moved by ``delta``."""
    if isinstance(value, datetime):
        return value + delta
    if isinstance(value, dict):
        return {key: _shift(item, delta) for key, item in value.items()}
    if isinstance(value, list):
        return [_shift(item, delta) for item in value]
    return value


def _recode(value: Any, old: str, new: str) -> Any:
    """``value`` with ``old`` replaced by ``new`` in every string: what patching the encoded
    bytes must decode to."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {key: _recode(item, old, new) for key, item in value.items()}
    if isinstance(value, list):
        return [_recode(item, old, new) for item in value]
    return value


def _fold(rules: Rules) -> dict[str, ShipmentState]:
    """The final states of a small simulation, folded by the worker's own join."""
    simulation = simulate(
        SimulationConfig(shipments=_TEMPLATE_SHIPMENTS, until=_UNTIL, seed=_TEMPLATE_SEED)
    )
    states: dict[str, ShipmentState] = {}
    join = PartitionJoin(rules, states.get)
    now = datetime.now(UTC)
    for item in simulation.events():
        # Through the codec, as the worker reads it, so the join sees the decoded types.
        record = codec_for(item.kind.record_type).decode(encode_event(item.kind, item.record))
        for code, state in join.process(record, now).writes.items():
            if state is None:
                states.pop(code, None)
            else:
                states[code] = state
    return states


def _passive(state: ShipmentState, rules: Rules, span: timedelta) -> ShipmentState | None:
    """``state``, ticked past its short rules (an in-transit parcel's stall alert), if it is
    then delivered or in transit with nothing due for longer than ``span``; else ``None``."""
    now = datetime.now(UTC)
    for _ in range(3):
        last, due = state["last_event_time"], next_due(state, rules)
        wanted = state["status"] == Status.DELIVERED or state["status"] in STALLABLE
        if last is None or not wanted:
            return None
        if due is None or due - last > span:
            return state
        fired = tick(state, due, rules, now)
        if fired.outcome is not Outcome.APPLIED:
            return None
        state = fired.state
    return None


def _templates(
    rules: Rules, start: datetime, end: datetime
) -> tuple[list[tuple[str, bytes]], Result]:
    """Encoded states to clone (with the code they hold), and their mix.

    Each is placed, all its times shifted, so that its last event falls before the input's
    first one and its next rule after the input's last one: the preloaded shipments stay
    passive and the clock moves as it would without them. What grows is the table.
    """
    margin = timedelta(hours=1)
    span = end - start + 2 * margin
    variants: list[tuple[str, bytes]] = []
    mix: dict[str, int] = {}
    # As the worker's table and changelog hold states: the worker's own encoder.
    stored = StoredStateCodec(rules)
    for code, folded in _fold(rules).items():
        # Marketplace codes only: a GS1 code is also spelled in the dispatch's product fields.
        if not code.startswith("TC"):
            continue
        state = _passive(folded, rules, span)
        if state is None:
            continue
        last, due = state["last_event_time"], next_due(state, rules)
        assert last is not None
        # Nothing ever due (forgetting off): spread them over three months all the same.
        room = (due - last - span) if due is not None else timedelta(days=90)
        mix[state["status"]] = mix.get(state["status"], 0) + 1
        clone = marketplace_code(0, prefix=_CLONE_ISSUER, width=len(code) - 3)
        for k in range(_TEMPLATE_SHIFTS):
            placed = start - margin - room * (k + 0.5) / _TEMPLATE_SHIFTS
            value = stored.encode(_shift(state, placed - last), {})
            # Avro strings are length-prefixed: an equal-length code keeps the layout.
            patched = value.replace(code.encode(), clone.encode())
            if stored.decode(patched, {}) != _recode(stored.decode(value, {}), code, clone):
                raise Failure(f"replacing the code in an encoded state of {code} breaks it")
            variants.append((code, value))
    if not variants:
        raise Failure("no simulated state can be preloaded (none stays passive long enough)")
    return variants, {"templates": sum(mix.values()), "by_status": mix}


def _preload(
    bench: Bench, changelog: str, shipments: int, variants: list[tuple[str, bytes]]
) -> float:
    """Write ``shipments`` states into the changelog, partitioned as the producers partition
    the inputs (murmur2 of the code), as if the worker had written them; the seconds taken."""
    kafka = bench.kafka
    admin = admin_client(kafka)
    topic = NewTopic(
        changelog,
        num_partitions=bench.settings.topics.partitions,
        replication_factor=bench.settings.topics.replication_factor,
        # What Faust gives a table's changelog.
        config={"cleanup.policy": "compact"},
    )
    for future in admin.create_topics([topic], operation_timeout=30).values():
        future.result()
    failed: list[str] = []

    def delivered(error: Any, _message: Any) -> None:
        if error is not None:
            failed.append(str(error))

    writer = Producer(
        {
            **kafka.librdkafka_config(),
            "partitioner": "murmur2_random",
            "enable.idempotence": True,
            "compression.type": "lz4",
            "linger.ms": 100,
            "batch.size": 1_000_000,
            "queue.buffering.max.messages": 1_000_000,
        }
    )
    started = time.monotonic()
    report_at = started + 10
    for i in range(shipments):
        code, value = variants[i % len(variants)]
        key = marketplace_code(i, prefix=_CLONE_ISSUER, width=len(code) - 3).encode()
        data = value.replace(code.encode(), key)
        while True:
            try:
                writer.produce(changelog, data, key, on_delivery=delivered)
                break
            except BufferError:
                writer.poll(0.1)
        if i % 10_000 == 0:
            writer.poll(0)
            if time.monotonic() >= report_at:
                say(f"  preloading: {i:,} / {shipments:,} states")
                report_at += 10
    left = writer.flush(120 + shipments / 2_000)
    if left or failed:
        raise Failure(f"preloading the changelog: {left} undelivered, {len(failed)} failed")
    return time.monotonic() - started


def _scale_run(bench: Bench, shipments: int, variants: list[tuple[str, bytes]]) -> Result:
    name = f"scale-{shipments}"
    prefix, topics = bench.published(name, bench.plan.scale_events)
    changelog = f"{prefix}{_GROUP}-shipments-changelog"
    preload = _preload(bench, changelog, shipments, variants)
    started = _start_worker(bench, name, prefix, "exactly_once")
    result = _measure_join(
        bench,
        started,
        topics,
        bench.plan.scale_events,
        ready_timeout=180 + shipments / 2_000,
        work_timeout=300 + bench.plan.scale_events / 100 + shipments / 1_000,
    )
    return {"shipments": shipments, "preload_seconds": preload, **result}


def scale(bench: Bench) -> None:
    inputs = bench.events[: bench.plan.scale_events]
    rules = bench.settings.worker_config().rules
    start, end = min(e.time for e in inputs), max(e.time for e in inputs)
    variants: list[tuple[str, bytes]] = []

    def templates() -> Result:
        found, mix = _templates(rules, start, end)
        variants.extend(found)
        return {**mix, "variants": len(found)}

    if bench.measure("scale", "templates", templates) is None:
        return
    for shipments in bench.plan.scale_shipments:
        run = functools.partial(_scale_run, bench, shipments, variants)
        bench.measure("scale", f"{shipments}", run)


# -- the peer --------------------------------------------------------------------------------


def _peer_run(bench: Bench) -> Result:
    # Imported by name: the peer is written beside this benchmark and may not exist yet.
    quix = importlib.import_module("bench.peers.quix")
    say("  preparing the peer's virtual environment (the first use installs it)")
    python = quix.ensure_venv()
    prefix, topics = bench.published("peer", bench.plan.events)
    folder = bench.workspace("peer")
    group = f"{prefix}peer"
    argv = [
        str(python),
        "-m",
        "bench.peers.quix_join",
        "--bootstrap",
        bench.kafka.bootstrap_servers,
        "--prefix",
        prefix,
        "--group",
        group,
        "--state-dir",
        str(folder / "data"),
    ]
    at = time.time()
    process = Process("peer (Quix Streams)", argv, os.environ, folder / "peer.log", cwd=REPO)
    started = Started(process, group, at, None, folder / "data")
    return _measure_join(bench, started, topics, bench.plan.events)


def peer(bench: Bench) -> None:
    missing = [
        path
        for path in ("bench/peers/quix.py", "bench/peers/quix_join.py")
        if not (REPO / path).exists()
    ]
    if missing:
        reason = f"peer not available: {', '.join(missing)} does not exist yet"
        say(f"peer: {reason}")
        bench.results["peer"] = {"skipped": reason}
        return
    bench.measure("peer", "quix_streams", lambda: _peer_run(bench))


# -- the machine, the ratios, the report -----------------------------------------------------


def _command(*argv: str) -> str:
    try:
        done = subprocess.run(
            argv, cwd=REPO, capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout


def machine() -> Result:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in cpuinfo.splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    meminfo = Path("/proc/meminfo").read_text().split()
    memory = int(meminfo[meminfo.index("MemTotal:") + 1]) * 1024
    status = _command(sys.executable, "-m", "tracecode", "broker", "status")
    kafka = next(
        (
            line.split(None, 1)[1].strip()
            for line in status.splitlines()
            if line.startswith("version")
        ),
        "unknown (tracecode broker status did not say)",
    )
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_bytes": memory,
        "python": platform.python_version(),
        "kafka": kafka,
        "commit": _command("git", "rev-parse", "--short", "HEAD").strip() or "unknown",
        # --no-optional-locks: looking must not rewrite the index another engineer uses.
        "dirty": bool(_command("git", "--no-optional-locks", "status", "--porcelain").strip()),
        # The workers run the same installation: its join is compiled (setup.py) or not.
        "compiled_modules": compiled_modules(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_at_start": float(Path("/proc/loadavg").read_text().split()[0]),
    }


def ratios(results: Mapping[str, Any]) -> Result:
    """Worker throughput next to the consume + decode ceiling and the peer (where both ran)."""

    def rate(phase: str, key: str) -> float | None:
        value = results.get(phase, {}).get(key, {}).get("events_per_s")
        return float(value) if value is not None else None

    found = {}
    ceiling, peer_rate = rate("ceilings", "consume_decode"), rate("peer", "quix_streams")
    for guarantee in GUARANTEES:
        worker_rate = rate("worker", guarantee)
        if worker_rate is not None and ceiling is not None:
            found[f"{guarantee}/consume_decode"] = worker_rate / ceiling
    eos = rate("worker", "exactly_once")
    if eos is not None and peer_rate is not None:
        found["exactly_once/peer"] = eos / peer_rate
    return found


Row = tuple[str, str, str, str]
"""phase, measurement, figure, notes"""


def _mib(size: float) -> str:
    return f"{size / 2**20:,.0f} MiB"


def _ms(stats: Result, keys: Sequence[str]) -> str:
    if not stats.get("count"):
        return "none"
    return " / ".join(f"{stats[key]:,.0f}" for key in keys) + " ms"


def _label(phase: str, key: str) -> str:
    labels = {
        "raw_consume": "raw consume (no decode)",
        "consume_decode": "consume + decode",
        "throughput": "rows/s (history, status, alerts)",
        "event_to_row": "event sent → row queryable, p50 / p99 / max",
        "templates": "preloaded states",
        "quix_streams": "Quix Streams, exactly_once",
    }
    if phase == "latency":
        return f"{int(key):,} ev/s: sent → status visible, p50 / p95 / p99 / max"
    if phase == "scale" and key != "templates":
        return f"{int(key):,} shipments in the table"
    return labels.get(key, key)


def _join(run: Result, started: str) -> tuple[str, str]:
    notes = (
        f"{started} · {run['cpu_seconds_per_1k_events']:.3g} CPU s/1k events · peak RSS "
        f"{_mib(run['peak_rss_bytes'])} · {run['events']:,} events in {run['seconds']:.3g} s"
    )
    return f"{run['events_per_s']:,.0f} events/s", notes


def _ceiling_cells(_key: str, run: Result) -> tuple[str, str]:
    notes = f"{run['cpu_seconds_per_1k_events']:.3g} CPU s/1k events · {run['seconds']:.3g} s"
    return f"{run['events_per_s']:,.0f} events/s", notes


def _worker_cells(_key: str, run: Result) -> tuple[str, str]:
    return _join(run, f"first event {run['first_processed_after_start_s']:.3g} s after start")


def _latency_cells(_key: str, run: Result) -> tuple[str, str]:
    stats = run["status_records"]
    notes = (
        f"{stats['count']:,} status records · achieved {run['achieved_rate']:,.0f} ev/s "
        f"for {run['seconds']:.0f} s" + (" · sink running" if run["sink_running"] else "")
    )
    if not run["kept_up"]:
        notes = (
            f"FELL BEHIND: {run['lag_after_drain']:,} events not committed "
            f"{run['drain_seconds']:.0f} s after the last send · {notes}"
        )
    return _ms(stats, ("p50_ms", "p95_ms", "p99_ms", "max_ms")), notes


def _sink_cells(key: str, run: Result) -> tuple[str, str]:
    if key == "throughput":
        notes = (
            f"{run['rows']:,} rows in {run['seconds']:.3g} s · "
            f"{run['cpu_seconds_per_1k_rows']:.3g} CPU s/1k rows · peak RSS "
            f"{_mib(run['peak_rss_bytes'])}"
        )
        return f"{run['rows_per_s']:,.0f} rows/s", notes
    stats = run["rows"]
    notes = (
        f"{stats['count']:,} rows at {run['rate']:,} ev/s · polled every "
        f"{run['poll_interval_s'] * 1000:.0f} ms (the resolution)"
    )
    if not run["kept_up"]:
        notes = f"FELL BEHIND (see latency) · {notes}"
    return _ms(stats, ("p50_ms", "p99_ms", "max_ms")), notes


def _scale_cells(key: str, run: Result) -> tuple[str, str]:
    if key == "templates":
        mix = ", ".join(f"{n} {s.lower().replace('_', ' ')}" for s, n in run["by_status"].items())
        return f"{run['variants']:,} variants", f"of {mix} simulated states"
    return _join(
        run,
        f"restore {run['ready_after_start_s']:.3g} s (start → ready) · "
        f"preload {run['preload_seconds']:.3g} s",
    )


_CELLS: dict[str, Callable[[str, Result], tuple[str, str]]] = {
    "ceilings": _ceiling_cells,
    "worker": _worker_cells,
    "latency": _latency_cells,
    "sink": _sink_cells,
    "scale": _scale_cells,
    "peer": _worker_cells,
}


def rows(results: Mapping[str, Any]) -> list[Row]:
    """The table's rows, phase by phase, from the results."""
    found: list[Row] = []
    for phase in PHASES:
        section = results.get(phase)
        if section is None:
            continue
        if "skipped" in section:
            found.append((phase, "", "skipped", section["skipped"]))
            continue
        for key, run in section.items():
            if "error" in run:
                figure, notes = "FAILED", run["error"].splitlines()[0]
            else:
                figure, notes = _CELLS[phase](key, run)
            found.append((phase, _label(phase, key), figure, notes))
    for key, value in results.get("ratios", {}).items():
        found.append(("ratios", key.replace("/", " / "), f"{value:.2f}", ""))
    return found


def table(bench: Bench) -> str:
    info = bench.results.get("machine", {})
    plan = bench.plan
    head = [
        "# tracecode end-to-end benchmark"
        + (" (quick)" if plan.quick else "")
        + f", {info.get('date', '')}",
        "",
        f"- machine: {info.get('cpus')} CPUs ({info.get('cpu_model')}), "
        f"{info.get('memory_bytes', 0) / 2**30:.1f} GiB, Python {info.get('python')}, "
        f"{info.get('kafka')}, load {info.get('load_average_at_start')} at start",
        f"- code: commit {info.get('commit')}"
        + (" (dirty tree)" if info.get("dirty") else "")
        + (
            f", per-event path compiled by mypyc ({len(info['compiled_modules'])} modules)"
            if info.get("compiled_modules")
            else ", interpreted (built with TRACECODE_BUILD_COMPILED=0)"
        ),
        f"- input: the first {plan.events:,} events (in send order) of a simulation of "
        f"{bench.shipments:,} shipments, every hard case (seed {_SEED}), "
        f"{bench.settings.topics.partitions} partitions; each run reads its own copy of it "
        f"(latency: the first rate times {plan.rate_seconds:.0f} s; scale: the first "
        f"{plan.scale_events:,})",
        "",
    ]
    header = ("phase", "measurement", "figure", "notes")
    body = rows(bench.results)
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(4)]

    def line(row: Sequence[str]) -> str:
        cells = [
            cell.rjust(width) if i == 2 else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        return "| " + " | ".join(cells) + " |"

    rule = (
        "| "
        + " | ".join("-" * (w - 1) + ":" if i == 2 else "-" * w for i, w in enumerate(widths))
        + " |"
    )
    return "\n".join([*head, line(header), rule, *map(line, body)])


# -- the command -----------------------------------------------------------------------------


def _phases(text: str | None) -> list[str]:
    if text is None:
        return list(PHASES)
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(PHASES))
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown phase(s) {', '.join(unknown)}; choose from {', '.join(PHASES)}"
        )
    return [name for name in PHASES if name in chosen]


@contextlib.contextmanager
def _terminate_is_exit() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so every subprocess is stopped and the topics deleted."""

    def leave(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, leave)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.e2e", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="the CI size: minutes, not an hour")
    parser.add_argument("--events", type=int, help="input events (default 300,000; quick 20,000)")
    parser.add_argument(
        "--only", type=_phases, default=_phases(None), help=f"phases: {','.join(PHASES)}"
    )
    parser.add_argument("--json", type=Path, default=Path("bench-e2e.json"), help="figures file")
    parser.add_argument("--keep-topics", action="store_true", help="leave the topics in Kafka")
    args = parser.parse_args(argv)
    phases: list[str] = args.only
    settings = load_settings()
    try:
        admin_client(settings.kafka_connection())
    except TracecodeError as error:
        print(f"{error.message}\nhint: {error.hint}", file=sys.stderr)
        return 2
    bench = Bench(settings, Plan.of(args.quick, args.events))
    with _terminate_is_exit():
        try:
            bench.results["machine"] = machine()
            say(f"simulating {bench.plan.simulated:,} events")
            started = time.monotonic()
            bench.events, bench.shipments = _simulate(bench.plan.simulated)
            say(
                f"simulated {len(bench.events):,} events of {bench.shipments:,} shipments in "
                f"{time.monotonic() - started:.0f} s"
            )
            steps: dict[str, Callable[[], None]] = {
                "ceilings": lambda: ceilings(bench),
                "worker": lambda: worker(bench),
                "latency": lambda: latency(bench, with_sink="sink" in phases),
                "sink": lambda: sink(bench, latency_ran="latency" in phases),
                "scale": lambda: scale(bench),
                "peer": lambda: peer(bench),
            }
            for phase in phases:
                say(f"== {phase}")
                started = time.monotonic()
                steps[phase]()
                say(f"== {phase} done in {time.monotonic() - started:.0f} s")
            bench.results["ratios"] = ratios(bench.results)
        except KeyboardInterrupt:
            say("interrupted: stopping what runs, deleting the topics")
            return 130
        finally:
            _finish(bench, args.json, args.keep_topics)
    print(table(bench))
    for failure in bench.failures:
        print(f"\nFAILED {failure['phase']} {failure['measurement']}:\n{failure['error']}")
    for warning in bench.warnings:
        print(f"\nwarning: {warning}")
    return 1 if bench.failures else 0


def _finish(bench: Bench, path: Path, keep_topics: bool) -> None:
    """Write the figures, delete the topics and groups, and the temp folder unless a
    measurement failed (its logs are in it)."""
    document = {
        **bench.results,
        "input": {
            "events": bench.plan.events,
            "simulated_events": len(bench.events),
            "shipments": bench.shipments,
            "seed": _SEED,
            "until": _UNTIL.isoformat(),
            "partitions": bench.settings.topics.partitions,
        },
        "plan": asdict(bench.plan),
        "failures": bench.failures,
        "warnings": bench.warnings,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    say(f"figures written to {path}")
    if keep_topics:
        say(f"topics kept: {bench.prefix}*")
    else:
        try:
            topics, groups = delete_everything(bench.kafka, bench.prefix)
            say(f"deleted {topics} topics and {groups} consumer groups ({bench.prefix}*)")
        except KafkaException as error:
            say(f"could not delete the topics {bench.prefix}*: {error}")
    if bench.failures:
        say(f"logs kept in {bench.folder}")
    else:
        shutil.rmtree(bench.folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
