"""Producer throughput next to raw confluent-kafka, against the configured broker.

Run: ``python -m bench.producer`` (or ``.venv/bin/python bench/producer.py``); the broker must
be up (``tracecode broker up``). The events are a simulator run (realistic scans and
dispatches, ~0.3 KiB each). For each compression, on fresh topics with the configured partition
count, three ways of publishing them are measured in the same run, interleaved over several
rounds (best round kept, so a noisy neighbour slows a round rather than the result), each until
every event is acknowledged:

- ``raw``: ``confluent_kafka.Producer.produce`` of the pre-encoded bytes, with the very
  librdkafka properties the core uses (idempotence, acks=all, batching, murmur2), waiting on a
  full queue, then ``flush``: the ceiling;
- ``core``: :meth:`EventProducer.send_encoded` of the same bytes (delivery reports counted,
  failures kept, queue-full waits): the core's own overhead; target ``core/raw >= 0.8``;
- ``core+encode``: :meth:`EventProducer.send` of the records, which also encodes (Avro) and
  validates each one: what ``tracecode simulate`` and ``ingest`` pay per event.

It also prints the bytes per event the broker stored (local broker only), which is what the
compression choice trades CPU for.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from producers.config import ProducerConfig
from producers.core import EventProducer
from producers.events import EventKind, InputRecord, encode_event
from producers.simulator import SimulationConfig, simulate
from schemas.topics import TopicNames
from tracecode.settings import Settings, load_settings
from tracecode.topics import admin_client, apply, topic_specs

Event = tuple[EventKind, InputRecord, bytes]
_UNTIL = datetime(2026, 11, 1, tzinfo=UTC)


def _events(count: int) -> list[Event]:
    # About 16 events per shipment; simulate a few more shipments than needed.
    sim = simulate(SimulationConfig(shipments=count // 14 + 10, until=_UNTIL, seed=1))
    events = []
    for event in sim.events():
        events.append((event.kind, event.record, encode_event(event.kind, event.record)))
        if len(events) == count:
            break
    return events


def _raw(config: ProducerConfig, events: list[Event]) -> float:
    properties = config.librdkafka()
    topics = {kind: kind.topic(config.topics) for kind in EventKind}
    producer = Producer(properties)
    started = time.perf_counter()
    for kind, record, value in events:
        topic, key = topics[kind], record["code"].encode()
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.05)
    remaining = producer.flush(60)
    elapsed = time.perf_counter() - started
    assert remaining == 0, f"{remaining} events not delivered"
    return len(events) / elapsed


def _core(config: ProducerConfig, events: list[Event]) -> float:
    producer = EventProducer(config)
    started = time.perf_counter()
    for kind, record, value in events:
        producer.send_encoded(kind, record["code"], value)
    stats = producer.close()
    elapsed = time.perf_counter() - started
    assert stats.acknowledged == len(events)
    return len(events) / elapsed


def _core_encode(config: ProducerConfig, events: list[Event]) -> float:
    producer = EventProducer(config)
    started = time.perf_counter()
    for kind, record, _ in events:
        producer.send(kind, record)
    stats = producer.close()
    elapsed = time.perf_counter() - started
    assert stats.acknowledged == len(events)
    return len(events) / elapsed


WAYS: dict[str, Callable[[ProducerConfig, list[Event]], float]] = {
    "raw": _raw,
    "core": _core,
    "core+encode": _core_encode,
}


def _stored_bytes(settings: Settings, topics: TopicNames) -> int | None:
    """Bytes in the local broker's log segments of the two input topics, if it is local."""
    storage = settings.broker_config().data_dir / "data"
    if not storage.is_dir():
        return None
    total = 0
    for name in (topics.scans, topics.dispatches):
        for partition in storage.glob(f"{name}-*"):
            total += sum(f.stat().st_size for f in Path(partition).glob("*.log"))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compression", default="lz4,zstd", help="comma-separated")
    args = parser.parse_args()

    settings = load_settings()
    connection = settings.kafka_connection()
    events = _events(args.events)
    size = statistics.mean(len(value) for _, _, value in events)
    print(
        f"{len(events):,} events (mean {size:.0f} B encoded), broker "
        f"{connection.bootstrap_servers}, {settings.topics.partitions} partitions, "
        f"best of {args.rounds} rounds"
    )
    encode = _per_event(lambda: [encode_event(k, r, check=False) for k, r, _ in events[:20_000]])
    check = _per_event(lambda: [encode_event(k, r) for k, r, _ in events[:20_000]]) - encode
    print(f"CPU per event outside Kafka: encode {encode:.1f} us, validate {check:.1f} us")
    admin = admin_client(connection)
    for compression in args.compression.split(","):
        best: dict[str, float] = dict.fromkeys(WAYS, 0.0)
        stored: dict[str, int | None] = {}
        for round_ in range(args.rounds):
            for way, run in WAYS.items():
                slug = way.replace("+", "-")  # topic names allow [a-zA-Z0-9._-]
                topics = TopicNames().with_prefix(f"bench-{compression}-{slug}-{round_}.")
                specs = [
                    spec
                    for spec in topic_specs(topics, settings.topics_config())
                    if spec.name in (topics.scans, topics.dispatches)
                ]
                apply(admin, specs)
                config = ProducerConfig(connection, topics=topics, compression=compression)  # type: ignore[arg-type]
                try:
                    best[way] = max(best[way], run(config, events))
                    stored[way] = _stored_bytes(settings, topics)
                finally:
                    _wait(admin.delete_topics([topics.scans, topics.dispatches]))
        raw = best["raw"]
        on_disk = stored.get("raw")
        disk = f", {on_disk / len(events):.0f} B/event stored" if on_disk else ""
        print(f"\ncompression={compression}{disk}")
        for way, rate in best.items():
            print(f"  {way:<12} {rate:>10,.0f} events/s   {rate / raw:5.2f} x raw")


def _per_event(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) / 20_000 * 1e6


def _wait(futures: dict[str, Any]) -> None:
    for future in futures.values():
        future.result()


if __name__ == "__main__":
    main()
