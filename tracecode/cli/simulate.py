"""``tracecode simulate``: realistic marketplace traffic with hard cases, into Kafka or stdout."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from datetime import time as day_start
from typing import Any

import click
from rich import box
from rich.table import Table

from producers.core import ProducerStats
from producers.events import EventKind
from producers.files import to_json_line
from producers.simulator import (
    ALERTS,
    DELIVERY_CASES,
    JOURNEY_CASES,
    HardCase,
    Simulation,
    SimulationConfig,
    SimulationError,
    Tally,
    simulate,
)
from producers.simulator.simulation import MIN_DAYS
from schemas.topics import TopicNames
from tracecode.cli._output import console, err_console
from tracecode.cli._producing import (
    delivery_progress,
    finish,
    open_producer,
    rate_text,
    stop_on_signal,
    until_stopped,
)
from tracecode.errors import TracecodeError
from tracecode.settings import Settings

_PROGRESS_EVERY = 500


def _help() -> str:
    def rows(shares: Mapping[HardCase, float]) -> str:
        return "\n".join(
            f"  {case.value:<17} {share:>5.1%}  {ALERTS[case]}" for case, share in shares.items()
        )

    return (
        "Simulate cross-border marketplace traffic and publish it.\n\n"
        "Each shipment is dispatched by a seller in China or Turkey, picked up, sorted, cleared "
        "through export customs, flown, cleared through import customs and handed to the "
        "destination's post for delivery, with the carriers' own event codes. Shipments are "
        "dispatched over the --days days before --until; events are published in the order "
        "they reach tracecode (event time plus a short delay), none received after --until. "
        "The same --seed and --until give the same events, ids and order.\n\n"
        "\b\nHard cases (share of shipments, alerts the join must raise):\n"
        f"{rows(JOURNEY_CASES)}\n\n"
        "\b\nDelivery cases (share of shipments, alerts):\n"
        f"{rows(DELIVERY_CASES)}\n\n"
        "docs/simulator.md explains the model and the ground truth the tests use."
    )


class UtcDateTime(click.ParamType):
    """An ISO-8601 date or date-time; without an offset it is taken as UTC."""

    name = "ISO-8601"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an ISO-8601 date or date-time", param, ctx)
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@click.command(name="simulate", help=_help())
@click.option(
    "-n",
    "--shipments",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Shipments to simulate.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Events per second [default: as fast as Kafka takes them].",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--until",
    type=UtcDateTime(),
    default=None,
    help="End of the simulated window [default: the start of the current UTC day].",
)
@click.option(
    "--days",
    type=click.IntRange(min=MIN_DAYS),
    default=60,
    show_default=True,
    help="Days over which shipments are dispatched.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Write the events to stdout as JSON lines (one per line, with its kind) instead of "
    "publishing them; progress and summary go to stderr.",
)
@click.pass_obj
def simulate_command(
    settings: Settings,
    *,
    shipments: int,
    rate: float | None,
    seed: int,
    until: datetime | None,
    days: int,
    dry_run: bool,
) -> None:
    end = until or datetime.combine(datetime.now(UTC).date(), day_start(), UTC)
    try:
        config = SimulationConfig(shipments=shipments, until=end, seed=seed, days=days)
    except SimulationError as error:
        raise TracecodeError(str(error)) from None
    with err_console.status(f"planning {shipments:,} shipments"):
        simulation = simulate(config)
    tally = Tally(simulation)
    if dry_run:
        started, stop_code, stats = _write_json_lines(simulation, tally, rate)
    else:
        started, stop_code, stats = _publish(settings, simulation, tally, rate)
    elapsed = time.monotonic() - started
    _summary(simulation, tally, stats, elapsed, settings.topic_names())
    if stop_code is not None:
        sys.exit(stop_code)
    if stats is not None and (stats.failed or stats.in_flight):
        sys.exit(1)


def _write_json_lines(
    simulation: Simulation, tally: Tally, rate: float | None
) -> tuple[float, int | None, None]:
    out = click.get_text_stream("stdout")
    started = time.monotonic()
    with stop_on_signal() as stop, delivery_progress() as progress:
        written = progress.add_task("written", total=simulation.event_count, rate="")
        for event in until_stopped(simulation.events(), stop, rate):
            out.write(to_json_line(event.kind, event.record) + "\n")
            tally.add(event)
            if tally.events % _PROGRESS_EVERY == 0:
                progress.update(
                    written,
                    completed=tally.events,
                    rate=rate_text(tally.events, time.monotonic() - started),
                )
        out.flush()
        progress.update(
            written,
            completed=tally.events,
            rate=rate_text(tally.events, time.monotonic() - started),
        )
    return started, stop.exit_code if stop.requested else None, None


def _publish(
    settings: Settings, simulation: Simulation, tally: Tally, rate: float | None
) -> tuple[float, int | None, ProducerStats]:
    producer = open_producer(settings, "tracecode-simulate")
    started = time.monotonic()
    with stop_on_signal() as stop, delivery_progress() as progress:
        total = simulation.event_count
        sent = progress.add_task("produced", total=total, rate="")
        acked = progress.add_task("acknowledged", total=total, rate="")

        def show(stats: ProducerStats) -> None:
            seconds = time.monotonic() - started
            progress.update(sent, completed=stats.sent, rate=rate_text(stats.sent, seconds))
            progress.update(
                acked, completed=stats.acknowledged, rate=rate_text(stats.acknowledged, seconds)
            )

        try:
            for event in until_stopped(simulation.events(), stop, rate):
                producer.send(event.kind, event.record)
                tally.add(event)
                if tally.events % _PROGRESS_EVERY == 0:
                    show(producer.stats)
        finally:
            # Also on an error or a second Ctrl-C: what was sent is still delivered (or reported).
            stats = finish(producer, show)
        show(stats)
    return started, stop.exit_code if stop.requested else None, stats


def _summary(
    simulation: Simulation,
    tally: Tally,
    stats: ProducerStats | None,
    elapsed: float,
    topics: TopicNames,
) -> None:
    # A dry run's stdout carries the events: everything else goes to stderr.
    out = err_console if stats is None else console
    config = simulation.config
    start, end = config.window
    complete = tally.events == simulation.event_count
    out.print(
        f"Simulated {config.shipments:,} shipments (seed {config.seed}, dispatched "
        f"{start:%Y-%m-%d} to {end:%Y-%m-%d %H:%M} UTC): {tally.events:,} of "
        f"{simulation.event_count:,} events" + ("" if complete else " [yellow](stopped early)[/]")
    )
    out.print(
        f"  by kind: {tally.by_kind[EventKind.SCAN]:,} scans, "
        f"{tally.by_kind[EventKind.DISPATCH]:,} dispatches"
    )
    out.print(_cases_table(simulation, tally))
    expected = Counter(kind for truth in simulation.shipments for kind in truth.expected_alerts)
    out.print(
        "  alerts the join must raise: "
        + (", ".join(f"{kind} {n:,}" for kind, n in sorted(expected.items())) or "none")
    )
    if stats is None:
        rate = rate_text(tally.events, elapsed)
        out.print(f"Wrote {tally.events:,} JSON lines in {elapsed:.1f} s ({rate}).")
        return
    out.print(
        f"Published {stats.sent:,} events to {topics.scans} and {topics.dispatches}: "
        f"[green]{stats.acknowledged:,} acknowledged[/], "
        + (f"[red]{stats.failed:,} failed[/]" if stats.failed else "0 failed")
        + f", {rate_text(stats.acknowledged, elapsed)} over {elapsed:.1f} s."
    )


def _cases_table(simulation: Simulation, tally: Tally) -> Table:
    counts = simulation.case_counts()
    shipments = max(simulation.config.shipments, 1)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("case")
    table.add_column("shipments", justify="right")
    table.add_column("share", justify="right")
    table.add_column("events", justify="right")
    table.add_column("alerts the join must raise")
    rows: list[HardCase | None] = [None, *JOURNEY_CASES]
    for case in rows:
        table.add_row(
            case.value if case is not None else "clean",
            f"{counts[case]:,}",
            f"{counts[case] / shipments:.1%}",
            f"{tally.by_journey[case]:,}",
            ALERTS[case],
        )
    for case in DELIVERY_CASES:
        table.add_row(
            f"{case.value} (delivery)",
            f"{counts[case]:,}",
            f"{counts[case] / shipments:.1%}",
            f"{tally.by_delivery[case]:,}",
            ALERTS[case],
        )
    return table
