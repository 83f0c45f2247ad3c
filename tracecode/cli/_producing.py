"""Publishing from the command line: the producer, Ctrl-C that flushes, delivery reporting.

Shared by the commands that put events into Kafka (``simulate``, ``ingest``).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import TypeVar

from confluent_kafka import KafkaException
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from producers.core import DeliveryError, EventProducer, MissingTopicsError, ProducerStats
from tracecode.cli._output import err_console
from tracecode.errors import TracecodeError
from tracecode.settings import Settings

T = TypeVar("T")


@dataclass(slots=True)
class Stop:
    """Set by the first Ctrl-C (or SIGTERM): stop reading input, deliver what was sent."""

    event: threading.Event = field(default_factory=threading.Event)
    signal_number: int | None = None

    @property
    def requested(self) -> bool:
        return self.event.is_set()

    @property
    def exit_code(self) -> int:
        """The shell's convention for a run ended by a signal: 128 + its number."""
        return 128 + (self.signal_number or signal.SIGINT)


@contextmanager
def stop_on_signal() -> Iterator[Stop]:
    """While inside, the first SIGINT/SIGTERM asks to stop; a second Ctrl-C aborts at once
    (``KeyboardInterrupt``), leaving events in flight undelivered."""
    stop = Stop()

    def handle(number: int, frame: FrameType | None) -> None:
        if stop.requested and number == signal.SIGINT:
            raise KeyboardInterrupt
        stop.signal_number = number
        stop.event.set()
        err_console.print(
            "[yellow]stopping:[/] delivering the events already sent "
            "(Ctrl-C again to abort without waiting)"
        )

    previous = {number: signal.signal(number, handle) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def until_stopped(items: Iterable[T], stop: Stop, rate: float | None = None) -> Iterator[T]:
    """``items`` until a stop is requested, at most ``rate`` per second when given."""
    started = time.monotonic()
    for index, item in enumerate(items):
        if rate is not None:
            # Pace against the start, so short stalls are caught up and the mean rate holds.
            while not stop.requested and (wait := started + index / rate - time.monotonic()) > 0:
                time.sleep(min(wait, 0.1))
        if stop.requested:
            return
        yield item


def open_producer(settings: Settings, client_id: str) -> EventProducer:
    """The producer the settings describe, once both input topics are known to exist."""
    config = settings.producer_config(client_id=client_id)
    producer = EventProducer(config)
    try:
        producer.ensure_topics()
    except MissingTopicsError as error:
        raise TracecodeError(str(error), hint="run `tracecode topics apply`") from None
    except KafkaException as error:
        raise TracecodeError(
            f"cannot reach Kafka at {config.connection.bootstrap_servers}: {error}",
            hint="start the local broker with `tracecode broker up`, or check "
            "TRACECODE_KAFKA_* (`tracecode config`)",
        ) from None
    return producer


def delivery_progress() -> Progress:
    """Two bars on stderr: events handed to Kafka, and events Kafka acknowledged."""
    return Progress(
        TextColumn("{task.description:>12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=err_console,
    )


def finish(producer: EventProducer, on_progress: Callable[[ProducerStats], None]) -> ProducerStats:
    """Deliver everything sent; report the failures (each with its event id) on stderr."""
    try:
        return producer.close(on_progress=on_progress)
    except DeliveryError as error:
        stats = error.stats
        for failure in stats.failures[:20]:
            err_console.print(
                f"[red]not delivered:[/] {failure.kind} {escape(str(failure.event_id))} "
                f"(code {escape(failure.code)}): {escape(failure.error)}"
            )
        if stats.failed > 20:
            err_console.print(f"[red]... and {stats.failed - 20} more not delivered[/]")
        if stats.in_flight:
            err_console.print(f"[red]{stats.in_flight} events have no delivery report[/]")
        return stats


def rate_text(count: int, seconds: float) -> str:
    """``count`` per second over ``seconds``, for people."""
    return f"{count / seconds:,.0f}/s" if seconds > 0 else "-"
