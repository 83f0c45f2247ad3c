"""``tracecode webhooks``: the webhooks service, and its subscriptions (add, list, remove)."""

from __future__ import annotations

import json
import signal
from types import FrameType

import click
from confluent_kafka import KafkaException
from rich import box
from rich.markup import escape
from rich.table import Table

from schemas.webhooks import STATUSES, Subscription, SubscriptionError, alert_kinds
from tracecode.cli._output import console, err_console
from tracecode.errors import TracecodeError
from tracecode.services import local_url
from tracecode.settings import Settings
from webhooks.service import SubscriberFailedError, WebhooksService
from webhooks.subscriptions import SubscriptionsTopicError, SubscriptionStore

_BROKER_HINT = "is the broker up (`tracecode broker up`) and are the topics applied?"


@click.group(invoke_without_command=True)
@click.pass_context
def webhooks(ctx: click.Context) -> None:
    """POST status changes and alerts to HTTP subscribers, signed (Standard Webhooks).

    Without a subcommand, runs the service until Ctrl-C or SIGTERM. Subscriptions live in a
    compacted topic; `add`, `list` and `remove` manage them. See docs/webhooks.md.
    """
    if ctx.invoked_subcommand is None:
        _run(ctx.obj)


def _run(settings: Settings) -> None:
    config = settings.webhooks_config()
    service = WebhooksService(config)

    def stop(signum: int, _frame: FrameType | None) -> None:
        console.print(f"{signal.Signals(signum).name}: finishing the deliveries in flight")
        service.stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    console.print(f"webhooks: {config.topics.status}, {config.topics.alerts}")
    console.print(f"  subscriptions: {config.topics.webhook_subscriptions}")
    console.print(f"  given up:      {config.topics.webhook_dead_letters}")
    if config.metrics_port:
        console.print(
            f"  metrics: {local_url(config.metrics_host, config.metrics_port, '/metrics')}"
        )
    try:
        service.run()
    except (SubscriptionsTopicError, SubscriberFailedError) as error:
        raise TracecodeError(str(error), hint=_BROKER_HINT) from None
    except KafkaException as error:
        raise TracecodeError(f"Kafka: {error}", hint=_BROKER_HINT) from None
    except OSError as error:
        raise TracecodeError(
            f"cannot serve the webhooks metrics: {error}",
            hint="another webhooks service may be running; or change "
            "TRACECODE_WEBHOOKS_METRICS_PORT",
        ) from None
    console.print("webhooks stopped")


def _store(settings: Settings) -> SubscriptionStore:
    return SubscriptionStore(
        settings.kafka_connection(), settings.topic_names().webhook_subscriptions
    )


@webhooks.command()
@click.argument("url")
@click.option(
    "--secret",
    help="Signing secret, whsec_ and a base64 key of 24-64 bytes; default: a generated one, "
    "printed once.",
)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(sorted(STATUSES), case_sensitive=False),
    help="Deliver status changes into this status (repeat for more); default: all, unless "
    "only --alert is given.",
)
@click.option(
    "--alert",
    "alerts",
    multiple=True,
    type=click.Choice(sorted(alert_kinds()), case_sensitive=False),
    help="Deliver alerts of this kind (repeat for more); default: all, unless only --status "
    "is given.",
)
@click.pass_obj
def add(
    settings: Settings,
    url: str,
    secret: str | None,
    statuses: tuple[str, ...],
    alerts: tuple[str, ...],
) -> None:
    """Subscribe URL to status changes and alerts.

    Delivery starts with the events emitted from now on, within a poll of a running service.
    """
    try:
        subscription = Subscription.new(
            url, secret=secret, statuses=statuses or None, alerts=alerts or None
        )
    except SubscriptionError as error:
        raise TracecodeError(str(error)) from None
    try:
        _store(settings).add(subscription)
    except (SubscriptionsTopicError, KafkaException) as error:
        raise TracecodeError(str(error), hint=_BROKER_HINT) from None
    console.print(f"subscribed {escape(url)}: {subscription.id}")
    described = subscription.describe()
    console.print(f"  statuses: {described['statuses']}")
    console.print(f"  alerts:   {described['alerts']}")
    if secret is None:
        console.print(f"  secret:   {subscription.secret}")
        err_console.print("[yellow]keep the secret:[/] it is shown only now")


@webhooks.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, no secrets.")
@click.pass_obj
def list_(settings: Settings, as_json: bool) -> None:
    """Show the subscriptions (never their secrets)."""
    try:
        current = _store(settings).list()
    except (SubscriptionsTopicError, KafkaException) as error:
        raise TracecodeError(str(error), hint=_BROKER_HINT) from None
    described = [subscription.describe() for subscription in current.values()]
    if as_json:
        for line in described:
            click.echo(json.dumps(line))
        return
    if not described:
        console.print("no subscriptions; add one with `tracecode webhooks add URL`")
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("id", "url", "statuses", "alerts", "created_at"):
        table.add_column(column, overflow="fold")
    for line in described:
        table.add_row(*(escape(line[column]) for column in line))
    console.print(table)


@webhooks.command()
@click.argument("subscription_id")
@click.pass_obj
def remove(settings: Settings, subscription_id: str) -> None:
    """Remove a subscription: its deliveries stop, what is pending is dropped."""
    try:
        removed = _store(settings).remove(subscription_id)
    except KeyError as error:
        raise TracecodeError(str(error.args[0]), hint="`tracecode webhooks list`") from None
    except (SubscriptionsTopicError, KafkaException) as error:
        raise TracecodeError(str(error), hint=_BROKER_HINT) from None
    console.print(f"removed {removed.id} ({escape(removed.url)})")
