"""Consoles and error reporting shared by the command groups."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from tracecode.errors import TracecodeError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def report_error(error: TracecodeError) -> None:
    """Print ``error`` (and its hint and details) for people, on stderr."""
    err_console.print(f"[bold red]error:[/] {escape(error.message)}")
    for line in getattr(error, "log_tail", []):
        err_console.print(f"  [dim]{escape(line)}[/]")
    if error.hint:
        err_console.print(f"[yellow]hint:[/] {escape(error.hint)}")
