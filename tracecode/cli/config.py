"""``tracecode config``: the effective settings."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from tracecode.cli._output import console
from tracecode.settings import Settings, describe_settings


@click.command()
@click.pass_obj
def config(settings: Settings) -> None:
    """Show every setting: environment variable, effective value (secrets masked), meaning."""
    table = Table()
    table.add_column("variable", no_wrap=True)
    table.add_column("value")
    table.add_column("meaning")
    for row in describe_settings(settings):
        table.add_row(row.env_var, escape(row.value) or "[dim]-[/]", escape(row.description))
    console.print(table)
