"""Every private faust-streaming and aiokafka member the runtime relies on, in one place.

faust-streaming gives no public way to take fetched batches, commit chosen offsets inside its
per-partition transactions, or write a table's RocksDB and changelog outside an event; the
worker needs all three (:mod:`streams.runtime.exactly_once`, :mod:`streams.runtime.store`). A
release that renamed one of these members, or changed its parameters, would silently bring back
event loss or turn exactly-once off: :func:`problems` finds that, and a unit test runs it
against the installed versions, so an upgrade breaks in CI, not in production.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.client import AIOKafkaClient
from aiokafka.consumer.fetcher import Fetcher
from aiokafka.consumer.group_coordinator import GroupCoordinator
from aiokafka.consumer.subscription_state import TopicPartitionState
from faust import App
from faust.stores.rocksdb import Store as RocksDBStore
from faust.tables.manager import TableManager
from faust.transport.consumer import Consumer
from faust.transport.drivers import aiokafka as aiokafka_driver


@dataclass(frozen=True, slots=True)
class Internal:
    """A member of a class that the runtime calls, overrides or reads."""

    owner: type
    name: str
    parameters: tuple[str, ...] | None
    """The method's parameter names, ``self`` first; ``None`` for an instance attribute,
    which is checked on a live object (:func:`attribute_problems`)."""
    why: str


METHODS = (
    Internal(
        Consumer,
        "_drain_messages",
        ("self", "fetcher"),
        "the fetch loop, replaced by the batched input path (Fetcher calls it by this name)",
    ),
    Internal(
        Consumer,
        "_wait_next_records",
        ("self", "timeout"),
        "one fetch: the records by partition and the active partitions",
    ),
    Internal(
        Consumer,
        "_commit_offsets",
        ("self", "offsets", "start_new_transaction"),
        "commits chosen offsets (exactly-once: through the transaction manager), then the "
        "tables' commit hook and the consumer's committed offsets",
    ),
    Internal(
        aiokafka_driver.Consumer,
        "_to_message",
        ("self", "tp", "record"),
        "turns a changelog record into the message Faust's recovery expects",
    ),
    Internal(
        Consumer,
        "perform_seek",
        ("self",),
        "back to the committed offsets when the consumer skipped input records",
    ),
    Internal(
        App,
        "_new_transport",
        ("self",),
        "installs the worker's consumer, producer and transaction manager",
    ),
    Internal(
        aiokafka_driver.AIOKafkaConsumerThread,
        "_ensure_consumer",
        ("self",),
        "the aiokafka consumer, for fetch times and the broker's partition ends",
    ),
    Internal(
        Fetcher,
        "_proc_fetch_request",
        ("self", "assignment", "node_id", "request"),
        "one fetch request and its response, timed by streams.runtime.fetch_clock",
    ),
    Internal(
        aiokafka_driver.Producer,
        "_ensure_producer",
        ("self",),
        "the plain aiokafka producer (at-least-once outputs)",
    ),
    Internal(
        aiokafka_driver.Producer,
        "_settings_extra",
        ("self",),
        "aiokafka settings added to Faust's for every producer (the transaction timeout)",
    ),
    Internal(
        AIOKafkaClient,
        "coordinator_lookup",
        ("self", "coordinator_type", "coordinator_key"),
        "the coordinator lookup of a producer's sender, whose retriable errors it must retry",
    ),
    Internal(
        AIOKafkaClient,
        "_metadata_update",
        ("self", "cluster_metadata", "topics"),
        "one metadata update: a failed one waits the backoff before its callers retry",
    ),
    Internal(
        TableManager,
        "persist_offset_on_commit",
        ("self", "store", "tp", "offset"),
        "a changelog offset to record as persisted when its transaction commits",
    ),
    Internal(
        TableManager,
        "on_commit_tp",
        ("self", "tp"),
        "records the persisted changelog offsets of a committed partition",
    ),
    Internal(
        RocksDBStore,
        "_db_for_partition",
        ("self", "partition"),
        "the RocksDB database of one partition, written outside an event",
    ),
    Internal(
        RocksDBStore,
        "_visible_items",
        ("self", "db"),
        "every state of a partition, to rebuild its deadline index",
    ),
)

CONSUMER_ATTRIBUTES = (
    Internal(Consumer, "_committed_offset", None, "the last committed offset of each partition"),
    Internal(Consumer, "_read_offset", None, "changelog records below it are dropped"),
    Internal(Consumer, "_stopped", None, "set when the consumer stops (ends the fetch loop)"),
    Internal(aiokafka_driver.Consumer, "_thread", None, "the thread running the aiokafka consumer"),
)

FETCH_ATTRIBUTES = (
    Internal(AIOKafkaConsumer, "_fetcher", None, "the fetcher whose requests are timed"),
    Internal(
        TopicPartitionState,
        "timestamp",
        None,
        "wall-clock ms of the last fetch response that reported the partition",
    ),
)

COORDINATOR_ATTRIBUTES = (
    Internal(AIOKafkaConsumer, "_coordinator", None, "the group coordinator (None: no group)"),
    Internal(
        GroupCoordinator,
        "coordinator_id",
        None,
        "the coordinator's broker, None while it is unknown: the worker's /health reports it",
    ),
)

PRODUCER_ATTRIBUTES = (
    Internal(
        aiokafka_driver.Producer,
        "_transaction_producers",
        None,
        "the transactional aiokafka producer of each transactional id",
    ),
    Internal(
        aiokafka_driver.Producer, "_trn_locks", None, "the commit lock of each transactional id"
    ),
    Internal(
        aiokafka_driver.Producer,
        "_producer_type",
        None,
        "the aiokafka producer class Faust builds every producer from",
    ),
)

CLIENT_ATTRIBUTES = (
    Internal(AIOKafkaProducer, "client", None, "the producer's cluster client"),
    Internal(AIOKafkaClient, "_retry_backoff", None, "seconds between two retries"),
)


def problems() -> list[str]:
    """What no longer holds of :data:`METHODS` in the installed faust-streaming and aiokafka."""
    found = []
    for internal in METHODS:
        member = getattr(internal.owner, internal.name, None)
        where = f"{internal.owner.__module__}.{internal.owner.__qualname__}.{internal.name}"
        if member is None:
            found.append(f"{where} is gone ({internal.why})")
            continue
        assert internal.parameters is not None
        parameters = tuple(inspect.signature(member).parameters)
        if parameters != internal.parameters:
            found.append(f"{where} takes {parameters}, not {internal.parameters}")
    return found


def attribute_problems(instance: object, attributes: tuple[Internal, ...]) -> list[str]:
    """Which of ``attributes`` a live consumer or producer lacks."""
    return [
        f"{type(instance).__qualname__} has no {internal.name} ({internal.why})"
        for internal in attributes
        if not hasattr(instance, internal.name)
    ]
