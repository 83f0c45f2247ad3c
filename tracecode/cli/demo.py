"""``tracecode demo``: the whole pipeline on this machine, watched stage by stage, then a report.

``tracecode demo stop`` stops what a ``--keep-running`` demo left running.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as day_start
from pathlib import Path
from types import FrameType

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from producers.simulator import Simulation, SimulationConfig, simulate
from sinks.query import QueryClient
from tracecode.cli._demo_report import render_report
from tracecode.cli._output import console, err_console
from tracecode.cli._producing import open_producer
from tracecode.demo.publish import Publisher
from tracecode.demo.report import Report, Run, Stage, build_report
from tracecode.demo.runs import DemoRuns
from tracecode.demo.watch import JoinProgress, StoreProgress, Watcher
from tracecode.lag import KafkaOffsets
from tracecode.settings import Settings
from tracecode.stack import LocalStack, Readiness, ServiceProcess, StackError

_POLL_S = 0.5
_STOP_TIMEOUT_S = 45.0


@dataclass(frozen=True, slots=True)
class Options:
    shipments: int
    workers: int
    seed: int
    keep_running: bool
    json_report: Path | None
    timeout: float


@click.group(invoke_without_command=True)
@click.option(
    "-n",
    "--shipments",
    type=click.IntRange(min=1),
    default=3000,
    show_default=True,
    help="Shipments to simulate (50 or more include every hard case).",
)
@click.option(
    "-w",
    "--workers",
    type=click.IntRange(1, 32),
    default=2,
    show_default=True,
    help="Streams workers to run (one consumer group sharing the partitions).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Simulator seed.")
@click.option(
    "--keep-running",
    is_flag=True,
    help="Leave the broker, workers and sink running (stop them with `tracecode demo stop`).",
)
@click.option(
    "--json-report",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write the report as JSON (docs/demo.md) to this file.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=600.0,
    show_default=True,
    help="Seconds each stage (start-up, join, store) may take before the demo gives up.",
)
@click.pass_context
def demo(
    ctx: click.Context,
    shipments: int,
    workers: int,
    seed: int,
    keep_running: bool,
    json_report: Path | None,
    timeout: float,
) -> None:
    """Run the whole pipeline here and report what it made of simulated traffic.

    Brings up the local Kafka broker (unless one answers), the topics, the workers and the
    sink; publishes simulated shipments with every hard case; waits until the workers joined
    and the sink stored every event; then prints a report read from ClickHouse and the
    workers. Stops what it started unless --keep-running. The data stays: running it again
    with the same seed and size publishes the same events (the same simulated weeks, even on
    another day), which are all duplicates, and gives the same report; another simulation
    needs empty topics. See docs/demo.md.
    """
    if ctx.invoked_subcommand is not None:
        return
    options = Options(shipments, workers, seed, keep_running, json_report, timeout)
    _run(ctx.obj, options)


@demo.command()
@click.pass_obj
def stop(settings: Settings) -> None:
    """Stop the services (and the broker) a `tracecode demo --keep-running` left running."""
    stack = LocalStack.kept(settings)
    done = stack.stop(_STOP_TIMEOUT_S)
    if not done:
        console.print("Nothing to stop: no demo was left running from this data folder.")
        return
    console.print("Stopped: " + ", ".join(done) + ".")


def _run(settings: Settings, options: Options) -> None:
    stack = LocalStack(settings)
    try:
        with _signals_interrupt():
            report = _pipeline(settings, stack, options)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted:[/] stopping what the demo started")
        _shut_down(stack)
        err_console.print(f"Stopped. The data stays in {settings.data_dir}.")
        raise SystemExit(130) from None
    except BaseException:
        _shut_down(stack)
        raise
    if options.keep_running:
        stack.keep()
    else:
        with err_console.status("Stopping the services the demo started"):
            done = _shut_down(stack)
        if done:
            err_console.print(f"[green]✓[/] {', '.join(done)}")
    render_report(console, report, stack, kept=options.keep_running)


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP end the demo like Ctrl-C: everything it started is stopped."""

    def interrupt(number: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {n: signal.signal(n, interrupt) for n in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _shut_down(stack: LocalStack) -> list[str]:
    """Stop what the demo started; a second Ctrl-C kills instead of waiting."""
    hurry = threading.Event()

    def on_interrupt(number: int, frame: FrameType | None) -> None:
        hurry.set()
        err_console.print("[yellow]killing the services without waiting[/]")

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        return stack.stop(_STOP_TIMEOUT_S, hurry)
    finally:
        signal.signal(signal.SIGINT, previous)


def _pipeline(settings: Settings, stack: LocalStack, options: Options) -> Report:
    started = time.monotonic()
    err_console.print(
        f"[bold]tracecode demo[/]: {options.shipments:,} shipments, {options.workers} "
        f"worker{'s' if options.workers != 1 else ''}, seed {options.seed}; data in "
        f"{escape(str(settings.data_dir))}"
    )
    with err_console.status("Kafka") as status:
        broker = stack.start_broker(lambda step: status.update(f"{step}..."))
    _done(f"Kafka: {broker}")
    applied = stack.apply_topics()
    created = sum(1 for change in applied.changes if change.action == "created")
    _done(
        f"topics: {created} created" if created else f"topics: all {len(applied.unchanged)} there"
    )
    topics = settings.topic_names()
    runs = DemoRuns(settings.data_dir, settings.topics.prefix)
    plan = runs.plan(
        options.seed,
        options.shipments,
        datetime.combine(datetime.now(UTC).date(), day_start(), UTC),
        topics_hold_events=_hold_events(settings, [topics.scans, topics.dispatches]),
    )
    stack.start_workers(options.workers)
    stack.start_sink()
    stack.start_api()
    _wait_ready(stack, options.timeout)
    sink = settings.sink_config()
    worker_urls = [w.url for w in stack.workers]
    with (
        KafkaOffsets(settings.kafka_connection()) as offsets,
        QueryClient.open(sink.clickhouse, sink.query_port) as client,
    ):
        watcher = Watcher(
            offsets,
            topics,
            settings.worker_config().app_id,
            sink.group_id,
            worker_urls,
            client,
        )
        watcher.baseline()
        with err_console.status(f"Planning {options.shipments:,} shipments"):
            simulation = simulate(
                SimulationConfig(shipments=plan.shipments, until=plan.until, seed=plan.seed)
            )
        runs.record(plan)
        stages = _run_stages(settings, stack, watcher, simulation, options.timeout)
        with err_console.status("Reading the report from ClickHouse and the workers"):
            run = Run(
                shipments=plan.shipments,
                seed=plan.seed,
                until=plan.until,
                events=simulation.event_count,
                workers=len(stack.workers),
                seconds=time.monotonic() - started,
            )
            report = build_report(client, worker_urls, run, stages)
    if options.json_report is not None:
        options.json_report.write_text(json.dumps(report.to_json(), indent=2) + "\n")
        _done(f"report written to {escape(str(options.json_report))}")
    return report


def _hold_events(settings: Settings, topics: list[str]) -> bool:
    with KafkaOffsets(settings.kafka_connection()) as offsets:
        ends = offsets.ends(offsets.partitions(topics))
    return any(end > start for start, end in ends.values())


def _done(message: str) -> None:
    err_console.print(f"[green]✓[/] {message}")


def _wait_ready(stack: LocalStack, timeout: float) -> Readiness:
    started = time.monotonic()
    deadline = started + timeout
    with err_console.status("Starting the workers, the sink and the tracking API") as status:
        while True:
            stack.check_alive()
            readiness = stack.readiness()
            if readiness.ready:
                break
            if time.monotonic() > deadline:
                raise StackError(
                    f"the services were not ready within {timeout:.0f} s: {readiness.describe()}",
                    log_tail=_first_log_tail(stack.services),
                    hint=f"logs: {stack.log_dir}; raise --timeout on a loaded machine",
                )
            status.update(f"Starting: {readiness.describe()}")
            time.sleep(_POLL_S)
    for worker in stack.workers:
        health = readiness.workers[worker.name]
        partitions = ",".join(str(p) for p in health.partitions) if health else ""
        _done(
            f"{worker.name} (pid {worker.pid}) serves partitions {partitions or 'none'} at "
            f"{worker.url}{_origin(worker)}"
        )
    sink = stack.sink
    if sink is not None:
        _done(f"sink (pid {sink.pid}) serves queries at {sink.url}{_origin(sink)}")
    err_console.print(
        f"  ready after {time.monotonic() - started:.1f} s; logs in {escape(str(stack.log_dir))}"
    )
    return readiness


def _origin(service: ServiceProcess) -> str:
    return "" if service.owned else " [dim](already running)[/]"


def _first_log_tail(services: list[ServiceProcess]) -> list[str]:
    for service in services:
        tail = service.log_tail()
        if tail:
            return [f"{service.name}: {line}" for line in tail]
    return []


def _run_stages(
    settings: Settings,
    stack: LocalStack,
    watcher: Watcher,
    simulation: Simulation,
    timeout: float,
) -> list[Stage]:
    """Publish the simulation and wait until the workers joined and the sink stored it all."""
    halt = threading.Event()
    publisher = Publisher(open_producer(settings, "tracecode-demo"), simulation.events(), halt)
    clock = _Clock(time.monotonic(), timeout)
    join: JoinProgress | None = None
    store: StoreProgress | None = None
    publisher.start()
    try:
        with _stage_progress() as progress:
            produced = progress.add_task("produced", total=simulation.event_count, info="")
            joined = progress.add_task(
                "joined", total=simulation.event_count + watcher.backlog, info=""
            )
            stored = progress.add_task("stored", total=None, info="")
            while clock.stored_at is None:
                if publisher.is_alive():
                    publisher.join(_POLL_S)
                else:
                    time.sleep(_POLL_S)
                stack.check_alive()
                acknowledged = publisher.stats.acknowledged
                if clock.produced_at is None and publisher.finished_at is not None:
                    if publisher.error is not None:
                        raise StackError(f"publishing failed: {publisher.error}")
                    clock.produced(publisher.finished_at)
                progress.update(
                    produced,
                    completed=acknowledged,
                    info=clock.rate(acknowledged, clock.produced_at),
                )
                join = watcher.join()
                if clock.produced_at is not None and clock.joined_at is None and join.done:
                    clock.joined()
                progress.update(joined, completed=join.processed, info=_join_info(join, clock))
                store = watcher.store()
                if clock.joined_at is not None and store.done:
                    clock.stored()
                events = store.added.events
                progress.update(
                    stored,
                    completed=events,
                    total=events if clock.stored_at else events + store.lag,
                    info=_store_info(store, clock),
                )
                if clock.expired():
                    raise _stage_timeout(stack, timeout, clock, join, store)
    finally:
        publisher.stop()
        publisher.join()
    assert clock.produced_at is not None and clock.joined_at is not None
    assert clock.stored_at is not None and join is not None and store is not None
    return [
        Stage("produced", publisher.stats.acknowledged, "events", clock.produced_at - clock.start),
        Stage("joined", join.processed, "events", clock.joined_at - clock.start),
        Stage("stored", store.added.events, "events", clock.stored_at - clock.start),
    ]


class _Clock:
    """When each stage ended, and the deadline of the stage under way."""

    def __init__(self, start: float, timeout: float) -> None:
        self.start = start
        self.timeout = timeout
        self.deadline = start + timeout
        self.produced_at: float | None = None
        self.joined_at: float | None = None
        self.stored_at: float | None = None

    def produced(self, at: float) -> None:
        self.produced_at = at
        self.deadline = time.monotonic() + self.timeout

    def joined(self) -> None:
        self.joined_at = time.monotonic()
        self.deadline = self.joined_at + self.timeout

    def stored(self) -> None:
        self.stored_at = time.monotonic()

    def expired(self) -> bool:
        return self.stored_at is None and time.monotonic() > self.deadline

    def rate(self, count: int, ended_at: float | None) -> str:
        """``count`` per second of a stage so far (of the whole stage once it ended)."""
        seconds = (ended_at or time.monotonic()) - self.start
        return f"{count / seconds:,.0f}/s" if seconds > 0 else ""


def _stage_progress() -> Progress:
    return Progress(
        TextColumn("{task.description:>9}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=err_console,
    )


def _join_info(join: JoinProgress, clock: _Clock) -> str:
    info = f"{clock.rate(join.processed, clock.joined_at)} · lag {join.lag:,}"
    if join.alerts is not None and join.status_changes is not None:
        info += f" · {join.status_changes:,} status changes · {join.alerts:,} alerts"
    return info


def _store_info(store: StoreProgress, clock: _Clock) -> str:
    added = store.added
    return (
        f"{clock.rate(added.events, clock.stored_at)} · lag {store.lag:,} · "
        f"{added.shipments:,} new shipments, {added.alerts:,} alerts"
    )


def _stage_timeout(
    stack: LocalStack,
    timeout: float,
    clock: _Clock,
    join: JoinProgress | None,
    store: StoreProgress | None,
) -> StackError:
    if clock.produced_at is None:
        what, services = "publishing did not finish", []
    elif clock.joined_at is None:
        lag = f"{join.lag:,}" if join else "?"
        what, services = f"the workers did not process every event (lag {lag})", stack.workers
    else:
        lag = f"{store.lag:,}" if store else "?"
        sink = stack.sink
        what, services = f"the sink did not store everything (lag {lag})", [sink] if sink else []
    return StackError(
        f"{what} within {timeout:.0f} s",
        log_tail=_first_log_tail(services),
        hint=f"logs: {stack.log_dir}; `tracecode status` shows the lag; raise --timeout on a "
        "loaded machine",
    )
