"""The suite's input: a simulator run, the poison mixed into it, and a paced publisher.

Every run publishes the same good records with the same record timestamps, whatever else it
mixes in and however fast its publisher goes. The worker merges the two input topics by record
timestamp (then dispatches first, then offset), so equal timestamps make the merged order of
the good records, and so every state, version and alert, a function of the input alone: that
is what lets a scenario be compared with the clean run record for record. The timestamps
follow a schedule (``rate`` good records a second) the publisher keeps a little ahead of, as a
live producer stamping records when it sends them would; an extra record (poison, a
duplicate) takes the timestamp of the good record before it.
"""

from __future__ import annotations

import copy
import os
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from confluent_kafka import KafkaError, Message, Producer

from producers.config import ProducerConfig
from producers.events import EventKind, encode_event
from producers.simulator import SimulationConfig, simulate
from schemas.codec import MARKER, RecordType, codec_for
from schemas.kafka import KafkaConnection
from schemas.topics import TopicNames

UNTIL = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Item:
    """One record to publish: its topic kind, key and value, and what it is for the test."""

    kind: EventKind
    key: bytes
    value: bytes
    poison: str | None = None
    """Why the record is bad (``None``: a good record)."""
    sender: str = "poison"
    """Who publishes it in production: the carrier of a scan, ``seller`` for a dispatch."""


def simulated(shipments: int, seed: int) -> list[Item]:
    """The simulator's events for ``shipments`` shipments with every hard case, in its order."""
    simulation = simulate(SimulationConfig(shipments=shipments, until=UNTIL, seed=seed))
    return [
        Item(
            event.kind,
            event.record["code"].encode(),
            encode_event(event.kind, event.record),
            sender=str(event.record["carrier"]) if event.kind is EventKind.SCAN else "seller",
        )
        for event in simulation.events()
    ]


def with_poison(items: Sequence[Item], share: float, seed: int) -> list[Item]:
    """``items`` with ``share`` of poison records interleaved, every kind in turn."""
    chooser = random.Random(seed)
    scans = codec_for(RecordType.CARRIER_SCAN)
    good_scans = [item for item in items if item.kind is EventKind.SCAN]
    dispatches = [item for item in items if item.kind is EventKind.DISPATCH]

    def a_scan(n: int) -> dict[str, object]:
        record = copy.deepcopy(scans.decode(chooser.choice(good_scans).value))
        record["event_id"] = f"poison-{seed}-{n}"
        return dict(record)

    def poison(n: int) -> Item:
        kind = POISON_KINDS[n % len(POISON_KINDS)]
        target = chooser.choice(good_scans)
        if kind == "random-bytes":
            return Item(EventKind.SCAN, target.key, os.urandom(chooser.randint(1, 200)), kind)
        if kind == "unknown-fingerprint":
            value = MARKER + os.urandom(8) + target.value[len(MARKER) + 8 :]
            return Item(EventKind.SCAN, target.key, value, kind)
        if kind == "wrong-record-type":
            dispatch = chooser.choice(dispatches)
            return Item(EventKind.SCAN, dispatch.key, dispatch.value, kind)
        if kind == "invalid-code":
            record = a_scan(n)
            record["code"] = "NOT A CODE!"
            value = scans.encode(record)  # type: ignore[arg-type]
            return Item(EventKind.SCAN, b"NOT A CODE!", value, kind)
        if kind == "year-9999":
            record = a_scan(n)
            record["event_time"] = datetime(9999, 1, 1, tzinfo=UTC)
            return Item(EventKind.SCAN, target.key, scans.encode(record), kind)  # type: ignore[arg-type]
        record = a_scan(n)
        other = chooser.choice([item.key for item in good_scans if item.key != target.key])
        return Item(EventKind.SCAN, other, scans.encode(record), kind)  # type: ignore[arg-type]

    every = max(1, round(1 / share))
    mixed: list[Item] = []
    for index, item in enumerate(items):
        mixed.append(item)
        if index % every == every - 1:
            mixed.append(poison(index // every))
    return mixed


POISON_KINDS = (
    "random-bytes",
    "unknown-fingerprint",
    "wrong-record-type",
    "invalid-code",
    "year-9999",
    "key-not-code",
)


def produced_twice(items: Sequence[Item], chunk: int) -> list[Item]:
    """Every ``chunk`` records sent again right after they were sent (a retry storm)."""
    result: list[Item] = []
    for start in range(0, len(items), chunk):
        part = list(items[start : start + chunk])
        result.extend(part)
        result.extend(part)
    return result


@dataclass
class Published:
    """What a publish delivered: where every poison record landed, and the totals."""

    sent: int = 0
    good: int = 0
    poison: dict[tuple[str, int, int], str] = field(default_factory=dict)
    """(topic, partition, offset) -> poison kind."""
    failures: list[str] = field(default_factory=list)


def publish(
    kafka: KafkaConnection,
    topics: TopicNames,
    items: Sequence[Item],
    *,
    rate: float,
    producers: int = 1,
    lead: float = 0.5,
) -> Published:
    """Publish ``items`` on the stamp schedule, ``producers`` clients at once.

    With several producers, each sends the items of some senders (a connector per carrier, one
    for the seller dispatches, one for the poison), in schedule order: they write the same
    partitions concurrently. Blocks until every record is delivered.
    """
    config = ProducerConfig(connection=kafka, topics=topics, linger_ms=5)
    names = {kind: kind.topic(topics) for kind in EventKind}
    published = Published()
    lock = threading.Lock()
    start_ms = int(time.time() * 1000 + lead * 1000)
    stamps = schedule(items, start_ms, rate)

    def delivered(item: Item) -> object:
        def report(error: KafkaError | None, message: Message) -> None:
            with lock:
                if error is not None:
                    published.failures.append(f"{message.topic()}: {error}")
                    return
                published.sent += 1
                if item.poison is None:
                    published.good += 1
                else:
                    key = (message.topic(), message.partition(), message.offset())
                    published.poison[key] = item.poison

        return report

    senders = sorted({item.sender for item in items})
    producer_of = {sender: n % producers for n, sender in enumerate(senders)}

    def run(share: int) -> None:
        client = Producer(config.librdkafka())
        for item, stamp in zip(items, stamps, strict=True):
            if producer_of[item.sender] != share:
                continue
            ahead = (stamp / 1000 - lead) - time.time()
            if ahead > 0:
                time.sleep(ahead)
            while True:
                try:
                    client.produce(
                        names[item.kind],
                        item.value,
                        item.key,
                        timestamp=stamp,
                        on_delivery=delivered(item),
                    )
                    break
                except BufferError:
                    client.poll(0.05)
            client.poll(0)
        while client.flush(5.0):
            pass

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(producers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not published.failures, published.failures[:5]
    return published


def schedule(items: Sequence[Item], start_ms: int, rate: float) -> list[int]:
    """The record timestamp of each item: the ``n``-th distinct good record at
    ``start_ms + n / rate``, or a millisecond later where that would give two records of one
    code the same stamp; poison and repeats take the timestamp of the record before them.

    The simulator compresses days into seconds, so two carriers' scans of a parcel could
    otherwise share a millisecond, and records of different producers stamped alike have no
    order but the log's (docs/architecture.md)."""
    seen: set[bytes] = set()
    good = 0
    last = start_ms
    codes_at_last: set[bytes] = set()
    result = []
    for item in items:
        if item.poison is None and item.value not in seen:
            seen.add(item.value)
            stamp = max(last, start_ms + int(good * 1000 / rate))
            good += 1
            if stamp == last and item.key in codes_at_last:
                stamp += 1
            if stamp != last:
                last, codes_at_last = stamp, set()
            codes_at_last.add(item.key)
        result.append(last)
    return result
