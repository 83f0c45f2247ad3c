"""``tracecode status``: what runs, how far behind each consumer group is, the dead letters."""

from __future__ import annotations

import click
from confluent_kafka import KafkaException
from rich import box
from rich.markup import escape
from rich.table import Table

from sinks.query import endpoint_answers
from tracecode.broker import LocalBroker
from tracecode.cli._output import console
from tracecode.endpoints import EndpointError, get, sink_health, worker_health
from tracecode.errors import TracecodeError
from tracecode.lag import GroupLag, KafkaOffsets
from tracecode.services import Service, ServiceKind, ServiceRegistry
from tracecode.settings import Settings


@click.command()
@click.pass_obj
def status(settings: Settings) -> None:
    """Show the broker, workers and sink of this data folder, consumer lag and dead letters.

    Lag is per consumer group and topic: the workers' group on the input topics, the sink's
    group on the worker's output topics. Exit status 1 when Kafka does not answer.
    """
    console.print(_services(settings))
    topics = settings.topic_names()
    connection = settings.kafka_connection()
    groups = [
        ("workers", settings.worker_config().app_id, [topics.scans, topics.dispatches]),
        ("sink", settings.sink_config().group_id, [topics.history, topics.status, topics.alerts]),
    ]
    offsets = KafkaOffsets(connection, timeout=5.0)
    try:
        with offsets:
            lags = [(who, offsets.group_lag(group, read)) for who, group, read in groups]
            console.print(_lag_table(offsets, lags))
            dead, exact = offsets.records([topics.dead_letters])
    except KafkaException as error:
        raise TracecodeError(
            f"Kafka at {connection.bootstrap_servers} did not answer: {error.args[0]}",
            hint="start the local broker with `tracecode broker up`, or check TRACECODE_KAFKA_* "
            "(a missing topic: `tracecode topics apply`)",
        ) from None
    count = f"{dead:,}" if exact else f"about {dead:,}"
    colour = "green" if dead == 0 else "red"
    console.print(f"dead letters: [{colour}]{count}[/] in {escape(topics.dead_letters)}")


def _services(settings: Settings) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left")
    for column in ("service", "state", "pid", "address", "detail"):
        table.add_column(column)
    broker = LocalBroker(settings.broker_config()).status()
    if settings.kafka.bootstrap_servers is not None:
        table.add_row("kafka", "external", "-", settings.kafka.bootstrap_servers, "")
    else:
        state = (
            "[green]running[/]"
            if broker.answering
            else "[red]not answering[/]"
            if broker.running
            else "[yellow]stopped[/]"
        )
        table.add_row(
            "broker",
            state,
            str(broker.pid or "-"),
            broker.bootstrap_servers,
            f"Apache Kafka {broker.kafka_version}",
        )
    registry = ServiceRegistry.of(settings.data_dir)
    workers = registry.running(ServiceKind.WORKER)
    for worker in workers:
        table.add_row(*_worker_row(worker))
    if not workers:
        table.add_row("worker", "[yellow]not running[/]", "-", "-", "start: tracecode worker")
    sinks = registry.running(ServiceKind.SINK)
    for sink in sinks:
        table.add_row(*_sink_row(sink))
    if not sinks:
        table.add_row("sink", "[yellow]not running[/]", "-", "-", "start: tracecode sink")
    for api in registry.running(ServiceKind.API):
        table.add_row(*_api_row(api))
    return table


def _worker_row(worker: Service) -> tuple[str, ...]:
    url = worker.urls.get("web", "")
    health = worker_health(url, timeout=2.0) if url else None
    if health is None:
        state, detail = "[red]not answering[/]", ""
    elif health.ready:
        partitions = ",".join(str(p) for p in health.partitions) or "none"
        state, detail = "[green]ready[/]", f"partitions {partitions}"
    else:
        state, detail = f"[yellow]{escape(health.phase)}[/]", "; ".join(health.reasons)
    return (escape(worker.name), state, str(worker.pid), escape(url), escape(detail))


def _sink_row(sink: Service) -> tuple[str, ...]:
    queries, metrics = sink.urls.get("queries"), sink.urls.get("metrics")
    health_url = sink.urls.get("health")
    health = sink_health(health_url, timeout=2.0) if health_url else None
    detail = f"metrics {metrics}" if queries and metrics else ""
    if health is not None and health.ready:
        state = "[green]ready[/]"
    elif health is not None:
        state, detail = f"[yellow]{escape(health.phase)}[/]", "; ".join(health.reasons)
    elif not health_url and queries and endpoint_answers(int(queries.rsplit(":", 1)[1])):
        state = "[green]running[/]"  # no monitoring endpoint (TRACECODE_SINK_METRICS_PORT=0)
    else:
        state = "[red]not answering[/]"
    address = queries or metrics or "-"
    return (escape(sink.name), state, str(sink.pid), escape(address), escape(detail))


def _api_row(api: Service) -> tuple[str, ...]:
    url = api.urls.get("http", "")
    try:
        answering = bool(url) and get(f"{url}/health", timeout=2.0).status == 200
    except EndpointError:
        answering = False
    state = "[green]ready[/]" if answering else "[red]not answering[/]"
    return ("tracking API", state, str(api.pid), escape(url), "OpenAPI at /docs")


def _lag_table(offsets: KafkaOffsets, lags: list[tuple[str, GroupLag]]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("consumer group", "of", "topic", "lag"):
        table.add_column(column, justify="right" if column == "lag" else "left")
    for who, lag in lags:
        # The outputs are transactional: offsets count markers too, so count what is left.
        exact = offsets.remaining(lag)
        for topic, estimate in lag.by_topic().items():
            figure = exact[topic] if exact is not None else estimate
            shown = f"{figure:,}" if exact is not None else f"about {figure:,}"
            table.add_row(escape(lag.group), who, escape(topic), shown)
    return table
