"""``tracecode broker``: the local Kafka broker for development, tests and the demo."""

from __future__ import annotations

import click
from rich.table import Table

from tracecode.broker import LocalBroker
from tracecode.cli._output import console
from tracecode.settings import Settings

# `status` exit codes, as init scripts use them: 3 means "not running".
_EXIT_NOT_ANSWERING = 1
_EXIT_STOPPED = 3


@click.group()
def broker() -> None:
    """Run a single-node Apache Kafka broker (KRaft) on 127.0.0.1."""


@broker.command()
@click.pass_obj
def up(settings: Settings) -> None:
    """Start the broker in the background; a no-op when it already runs.

    The first run resolves Kafka's jars with Maven into TRACECODE_CACHE_DIR.
    """
    local = LocalBroker(settings.broker_config())
    with console.status("Starting") as status:
        result = local.start(progress=lambda step: status.update(f"{step}..."))
    address = local.config.bootstrap_servers
    if result.already_running:
        console.print(f"Kafka is already running on {address} (pid {result.pid}): nothing to do.")
        return
    console.print(
        f"[green]Kafka {local.config.kafka_version} is up[/] on {address} "
        f"(pid {result.pid}), started in {result.seconds:.1f} s."
    )
    console.print(f"  data: {local.data_dir}\n  log:  {local.log_file}")


@broker.command()
@click.pass_obj
def down(settings: Settings) -> None:
    """Stop the broker: SIGTERM, then SIGKILL after TRACECODE_BROKER_STOP_TIMEOUT."""
    local = LocalBroker(settings.broker_config())
    with console.status("Stopping Kafka..."):
        result = local.stop()
    if not result.was_running:
        console.print("Kafka is not running: nothing to do.")
        return
    how = "killed after ignoring SIGTERM" if result.killed else "stopped"
    console.print(f"Kafka (pid {result.pid}) {how} in {result.seconds:.1f} s; its ports are free.")


@broker.command()
@click.pass_obj
def status(settings: Settings) -> None:
    """Show whether the broker runs and answers.

    Exit status: 0 running and answering, 1 running but not answering, 3 stopped.
    """
    state = LocalBroker(settings.broker_config()).status()
    if not state.running:
        word = "[yellow]stopped[/]"
    elif state.answering:
        word = "[green]running[/]"
    else:
        word = "[red]running, not answering[/]"
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_row("state", word)
    table.add_row("pid", str(state.pid) if state.pid else "-")
    table.add_row("version", f"Apache Kafka {state.kafka_version}")
    table.add_row("address", state.bootstrap_servers)
    table.add_row("data", str(state.data_dir))
    table.add_row("log", str(state.log_file))
    console.print(table)
    if not state.running:
        raise SystemExit(_EXIT_STOPPED)
    if not state.answering:
        raise SystemExit(_EXIT_NOT_ANSWERING)


@broker.command()
@click.option("-n", "--lines", default=50, show_default=True, help="Lines to show.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until Ctrl-C.")
@click.pass_obj
def logs(settings: Settings, lines: int, follow: bool) -> None:
    """Show the end of the broker log."""
    local = LocalBroker(settings.broker_config())
    tail = local.tail_log(lines)
    if not tail and not follow:
        console.print(f"No broker log yet at {local.log_file}.")
        return
    for line in tail:
        click.echo(line)
    if follow:
        try:
            for line in local.follow_log():
                click.echo(line)
        except KeyboardInterrupt:
            pass
