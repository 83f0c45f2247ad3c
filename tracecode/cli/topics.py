"""``tracecode topics``: the tracecode topics, declared in code and applied idempotently."""

from __future__ import annotations

from pathlib import Path

import click
from rich import box
from rich.table import Table

from schemas.framing import (
    COMPATIBILITY,
    Framing,
    SchemaRegistryConnection,
)
from tracecode.asyncapi import asyncapi_document, render
from tracecode.cli._output import console, err_console
from tracecode.errors import TracecodeError
from tracecode.settings import Settings
from tracecode.topics import admin_client, apply, describe, topic_specs


@click.group()
def topics() -> None:
    """Create and inspect the tracecode topics."""


@topics.command(name="apply")
@click.pass_obj
def apply_command(settings: Settings) -> None:
    """Create missing topics and update configs that differ from the spec.

    Partition counts are never changed: a mismatch is an error (see docs/topics.md).
    """
    specs = topic_specs(settings.topic_names(), settings.topics_config())
    connection = settings.kafka_connection()
    result = apply(admin_client(connection), specs)
    if not result.changed:
        console.print(
            f"No changes: all {len(specs)} topics on {connection.bootstrap_servers} match the spec."
        )
    else:
        for change in result.changes:
            colour = "green" if change.action == "created" else "yellow"
            console.print(f"[{colour}]{change.action}[/] {change.topic}")
            for detail in change.details:
                console.print(f"  {detail}")
        console.print(
            f"{len(result.changes)} changed, {len(result.unchanged)} unchanged "
            f"on {connection.bootstrap_servers}."
        )
    registry = settings.schema_registry_connection()
    if registry is not None:
        register_schemas(registry, settings)


def register_schemas(registry: SchemaRegistryConnection, settings: Settings) -> None:
    """Register the contracts of every Avro topic in the Schema Registry and say what changed."""
    if registry.is_mock:
        console.print(
            f"Schema Registry {registry.url}: an in-process mock; every tracecode process fills "
            "its own at start, so there is nothing to register here."
        )
        return
    versions = Framing(registry, settings.topic_names()).register()
    new = [version for version in versions if version.newly_registered]
    for version in new:
        console.print(
            f"[green]registered[/] {version.subject} {version.release} (schema id "
            f"{version.schema_id})"
        )
    subjects = len({version.subject for version in versions})
    console.print(
        f"Schema Registry {registry.url}: {len(new)} schemas registered, "
        f"{len(versions) - len(new)} already there, under {subjects} subjects "
        f"({COMPATIBILITY})."
    )


@topics.command(name="list")
@click.pass_obj
def list_command(settings: Settings) -> None:
    """Show every topic of the spec next to what the cluster has."""
    specs = topic_specs(settings.topic_names(), settings.topics_config())
    states = describe(admin_client(settings.kafka_connection()), specs)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("topic", no_wrap=True)
    table.add_column("parts", justify="right")
    table.add_column("RF", justify="right")
    table.add_column("cleanup")
    table.add_column("retain", justify="right")
    table.add_column("min ISR", justify="right", max_width=4)
    table.add_column("state")
    to_apply = 0
    for state in states:
        spec = state.spec
        if not state.exists:
            verdict = "[red]missing[/]"
            to_apply += 1
        elif state.problems:
            verdict = "[red]differs: " + ", ".join(p.property for p in state.problems) + "[/]"
        elif state.config_drift:
            verdict = "[yellow]differs: " + ", ".join(state.config_drift) + "[/]"
            to_apply += 1
        else:
            verdict = "[green]ok[/]"
        table.add_row(
            spec.name,
            str(state.partitions if state.exists else spec.partitions),
            str(state.replication_factor if state.exists else spec.replication_factor),
            spec.cleanup_policy.value,
            _retention(spec.retention_ms),
            str(spec.min_insync_replicas),
            verdict,
        )
    console.print(table)
    if to_apply:
        console.print(f"{to_apply} topics differ from the spec: run `tracecode topics apply`.")


@topics.command(name="asyncapi")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the document to this file instead of standard output.",
)
@click.option(
    "--check",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Compare with this file instead; exit 1 if it is not current.",
)
def asyncapi_command(output: Path | None, check: Path | None) -> None:
    """The AsyncAPI 3.0 document of the topics, from their declarations and Avro schemas.

    Default topic names and sizes (docs/asyncapi.yaml is this document):

    \b
      tracecode topics asyncapi --output docs/asyncapi.yaml
      tracecode topics asyncapi --check docs/asyncapi.yaml
    """
    text = render(asyncapi_document())
    if check is not None:
        if check.read_text() != text:
            raise TracecodeError(
                f"{check} is not the current AsyncAPI document",
                hint=f"write it again: `tracecode topics asyncapi --output {check}`",
            )
        err_console.print(f"{check} is current")
    elif output is not None:
        output.write_text(text)
        err_console.print(f"wrote {output}")
    else:
        click.echo(text, nl=False)


def _retention(retention_ms: int | None) -> str:
    if retention_ms is None:
        return "-"
    if retention_ms == -1:
        return "forever"
    hours = retention_ms // 3_600_000
    return f"{hours // 24} d" if hours % 24 == 0 else f"{hours} h"
