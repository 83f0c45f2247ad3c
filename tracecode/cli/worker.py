"""``tracecode worker``: one streams worker (the join, its table and its web view)."""

from __future__ import annotations

import click

from streams.config import WorkerConfig
from streams.runtime.runner import run_worker
from streams.runtime.topics import ChangelogTopicError
from tracecode.cli._output import console
from tracecode.compiled import STALE_HINT, compiled_modules, stale_modules
from tracecode.errors import TracecodeError
from tracecode.services import ServiceKind, ServiceRegistry
from tracecode.settings import Settings
from tracecode.topics import admin_client


@click.command()
@click.option("--id", "worker_id", help="This worker's name (default: TRACECODE_WORKER_ID).")
@click.option(
    "--web-port", type=click.IntRange(1, 65535), help="Web view port (TRACECODE_WORKER_WEB_PORT)."
)
@click.pass_obj
def worker(settings: Settings, worker_id: str | None, web_port: int | None) -> None:
    """Run a streams worker until Ctrl-C or SIGTERM.

    Workers with the same group share the partitions; give each its own --id and --web-port.
    The web view answers GET /shipments/{code}, /health and /metrics.
    """
    config = settings.worker_config(worker_id, web_port)
    check_topics(config)
    code = "compiled join" if compiled_modules() else "interpreted join"
    console.print(
        f"Worker [bold]{config.worker_id}[/] of group {config.app_id} "
        f"({config.processing_guarantee.value}, {code}): web view on {config.web_url}, "
        f"state in {config.state_dir}. Ctrl-C stops it."
    )
    if stale := stale_modules():
        console.print(
            f"[yellow]warning:[/] {', '.join(map(str, stale))} changed since compiled; the "
            f"worker runs the compiled code: {STALE_HINT}"
        )
    announcement = ServiceRegistry.of(settings.data_dir).registered(
        ServiceKind.WORKER, config.worker_id, {"web": config.web_url}
    )
    try:
        with announcement:
            status = run_worker(config)
    except ChangelogTopicError as error:
        raise TracecodeError(str(error)) from None
    if status:
        raise TracecodeError(
            f"worker {config.worker_id} stopped with status {status}",
            hint="see its log above; a restart recovers from the last commit",
        )
    console.print(f"Worker {config.worker_id} stopped cleanly.")


def check_topics(config: WorkerConfig) -> None:
    """Fail early, with what to do, when the worker's topics are missing or mis-sized."""
    metadata = admin_client(config.kafka).list_topics(timeout=10)
    topics = config.topics
    wanted = [topics.scans, topics.dispatches, topics.status, topics.history, topics.alerts]
    missing = [
        name
        for name in [*wanted, topics.dead_letters]
        if name not in metadata.topics or metadata.topics[name].error is not None
    ]
    if missing:
        raise TracecodeError(
            f"the worker's topics do not exist: {', '.join(missing)}",
            hint="create them with `tracecode topics apply`",
        )
    for name in (topics.scans, topics.dispatches):
        count = len(metadata.topics[name].partitions)
        if count != config.partitions:
            raise TracecodeError(
                f"{name} has {count} partitions, the worker expects {config.partitions} "
                "(TRACECODE_TOPICS_PARTITIONS): scans, dispatches and the table must be "
                "co-partitioned",
                hint="set TRACECODE_TOPICS_PARTITIONS to the topics' partition count",
            )
