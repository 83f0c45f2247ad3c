"""``tracecode sink``: the ClickHouse sink, and ``tracecode sink migrate`` for its schema."""

from __future__ import annotations

import signal
from types import FrameType

import click
from confluent_kafka import KafkaException

from sinks.clickhouse import StoreBusyError, connect, ensure_database
from sinks.migrations import SchemaError, migrate
from sinks.service import Sink
from tracecode.cli._output import console
from tracecode.errors import TracecodeError
from tracecode.services import SINK_NAME, ServiceKind, ServiceRegistry, local_url
from tracecode.settings import Settings

_BUSY_HINT = "stop the process that holds it, or query the running sink (`tracecode query`)"


@click.group(invoke_without_command=True)
@click.pass_context
def sink(ctx: click.Context) -> None:
    """Write the shipment history, state and alerts to ClickHouse, exactly once.

    Runs until Ctrl-C or SIGTERM, then writes what it holds. While it runs, `tracecode query`
    reads the embedded store through the sink's read-only query endpoint. See docs/sink.md.
    """
    if ctx.invoked_subcommand is None:
        _run(ctx.obj)


def _run(settings: Settings) -> None:
    config = settings.sink_config()
    service = Sink(config)

    def stop(signum: int, _frame: FrameType | None) -> None:
        console.print(f"{signal.Signals(signum).name}: writing what is buffered, then stopping")
        service.stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    target = config.clickhouse.describe()
    console.print(
        f"sink: {', '.join((config.topics.history, config.topics.status, config.topics.alerts))}"
    )
    console.print(f"  -> {target}")
    urls = {}
    if config.clickhouse.embedded and config.query_port:
        urls["queries"] = f"http://127.0.0.1:{config.query_port}"
        console.print(f"  queries: {urls['queries']} (read-only)")
    if config.metrics_port:
        urls["metrics"] = local_url(config.metrics_host, config.metrics_port, "/metrics")
        urls["health"] = local_url(config.metrics_host, config.metrics_port, "/health")
        console.print(f"  metrics: {urls['metrics']}")
        console.print(f"  health:  {urls['health']}")
    registry = ServiceRegistry.of(settings.data_dir)
    announcement = registry.registered(ServiceKind.SINK, SINK_NAME, urls)
    try:
        with announcement:
            service.run()
    except StoreBusyError as error:
        raise TracecodeError(str(error), hint=_BUSY_HINT) from None
    except SchemaError as error:
        raise TracecodeError(str(error)) from None
    except KafkaException as error:
        raise TracecodeError(
            f"Kafka: {error}", hint="is the broker up? (`tracecode broker up`)"
        ) from None
    except OSError as error:
        raise TracecodeError(
            f"cannot serve the sink's endpoints: {error}",
            hint="another sink may be running; or change TRACECODE_SINK_QUERY_PORT / "
            "TRACECODE_SINK_METRICS_PORT",
        ) from None
    console.print("sink stopped")


@sink.command(name="migrate")
@click.pass_obj
def migrate_command(settings: Settings) -> None:
    """Create or upgrade the ClickHouse schema and apply the retention setting."""
    config = settings.sink_config()
    target = config.clickhouse
    try:
        ensure_database(target)
        client = connect(target)
    except StoreBusyError as error:
        raise TracecodeError(
            str(error), hint="the running sink applies migrations itself at start"
        ) from None
    try:
        report = migrate(client, config.ttl_days)
    finally:
        client.close()
    for migration in report.applied:
        console.print(f"[green]applied[/] {migration.version:04d}_{migration.name}")
    if report.ttl_changed:
        retention = f"{config.ttl_days} days" if config.ttl_days else "forever"
        console.print(f"[yellow]retention[/] of events, dispatches and alerts: {retention}")
    console.print(f"{target.describe()}: schema version {report.current_version}")
