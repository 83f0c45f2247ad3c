"""The ``tracecode`` command line: ``main`` and its command groups (one module each)."""

from __future__ import annotations

from typing import Any

import click

from schemas.framing import SchemaNotRegisteredError, SchemaRegistryRequestError
from tracecode import __version__
from tracecode.cli import (
    api,
    broker,
    config,
    demo,
    epcis,
    ingest,
    query,
    simulate,
    sink,
    status,
    tail,
    topics,
    track,
    webhooks,
    worker,
)
from tracecode.cli._output import report_error
from tracecode.errors import TracecodeError
from tracecode.logs import configure_logging
from tracecode.settings import load_settings


class _Main(click.Group):
    """Reports :class:`TracecodeError` and Schema Registry failures for people (no traceback)
    and exits with status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TracecodeError as error:
            report_error(error)
            ctx.exit(1)
        except SchemaNotRegisteredError as error:
            report_error(TracecodeError(str(error)))
            ctx.exit(1)
        except SchemaRegistryRequestError as error:
            report_error(TracecodeError(str(error), hint=_REGISTRY_HINT))
            ctx.exit(1)


_REGISTRY_HINT = "check TRACECODE_SCHEMA_REGISTRY_URL and that the registry answers"


@click.group(cls=_Main)
@click.version_option(__version__, prog_name="tracecode")
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="Log more: -v for INFO, -vv for DEBUG (default: TRACECODE_LOG_LEVEL).",
)
@click.pass_context
def main(ctx: click.Context, verbose: int) -> None:
    """tracecode: follow parcels by their traceability codes, streamed through Kafka.

    Settings come from TRACECODE_* environment variables (and .env); `tracecode config`
    lists them.
    """
    settings = load_settings()
    level = {0: settings.log_level, 1: "INFO"}.get(verbose, "DEBUG")
    configure_logging(level, settings.log_format)
    ctx.obj = settings


# Command groups register here, one line each.
main.add_command(broker.broker)
main.add_command(topics.topics)
main.add_command(config.config)
main.add_command(simulate.simulate_command)
main.add_command(ingest.ingest)
ingest.ingest.add_command(epcis.epcis)
main.add_command(sink.sink)
main.add_command(query.query)
main.add_command(worker.worker)
main.add_command(track.track)
main.add_command(tail.tail)
main.add_command(demo.demo)
main.add_command(status.status)
main.add_command(webhooks.webhooks)
main.add_command(api.api)
