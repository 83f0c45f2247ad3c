"""A worker restarted with its tables survives the rebalance when a second worker joins.

Under exactly-once Faust reads a partition's end for the table recovery from the last fetch
response, which a partition assigned by a later rebalance has not had yet; a worker whose
tables persisted changelog offsets then stopped with a ConsistencyError ("persisted offset
... is higher than the last offset in that topic (highwater) (N > -1)"). The demo hits this on
its second run: the workers restart with their state and join one after the other.
"""

from __future__ import annotations

import signal

from schemas.kafka import KafkaConnection
from schemas.topics import TopicNames
from tests.helpers import wait_for
from tests.integration.streams.conftest import WorkerFactory
from tests.integration.streams.simulation import publish_simulation
from tests.integration.streams.support import PARTITIONS, wait_until_idle


def test_a_restarted_worker_recovers_its_tables_in_the_next_rebalance(
    kafka: KafkaConnection, topics: TopicNames, group: str, worker: WorkerFactory
) -> None:
    publish_simulation(kafka, topics, 150, seed=3)
    first = worker("w1").start()
    first.wait_ready()
    wait_until_idle(kafka, group, topics)
    assert first.stop(signal.SIGTERM) == 0

    first.start()  # same id, port and state folder: its tables hold persisted offsets
    first.wait_ready()
    second = worker("w2").start()

    def shared() -> bool | None:
        one, two = first.wait_ready(), second.wait_ready()
        mine, theirs = set(one["partitions"]), set(two["partitions"])
        split = mine and theirs and not mine & theirs and mine | theirs == set(range(PARTITIONS))
        return True if split else None

    wait_for(shared, 120, "both workers to serve partitions", interval=1.0)
    assert "ConsistencyError" not in first.log.read_text(errors="replace")
