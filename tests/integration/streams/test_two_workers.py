"""Two workers in one group share the six partitions; either answers for any code."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from confluent_kafka import Producer

from schemas.codec import codec_for
from schemas.codes import marketplace_code
from schemas.kafka import KafkaConnection
from schemas.records import RecordType
from schemas.status import SubStatus
from schemas.topics import TopicNames
from tests.helpers import wait_for
from tests.integration.streams.conftest import WorkerFactory
from tests.integration.streams.support import PARTITIONS, wait_until_idle
from tests.unit.streams.test_transition import dispatch, scan

SCANS = codec_for(RecordType.CARRIER_SCAN)
DISPATCHES = codec_for(RecordType.SELLER_DISPATCH)


def test_two_workers_share_the_partitions_and_route_reads_to_the_owner(
    kafka: KafkaConnection, topics: TopicNames, group: str, worker: WorkerFactory
) -> None:
    first, second = worker("w1").start(), worker("w2").start()

    def both_assigned() -> tuple[set[int], set[int]] | None:
        one, two = first.wait_ready(), second.wait_ready()
        mine, theirs = set(one["partitions"]), set(two["partitions"])
        if mine and theirs and not mine & theirs and mine | theirs == set(range(PARTITIONS)):
            return mine, theirs
        return None

    owned = wait_for(both_assigned, 120, "both workers to own partitions", interval=1.0)
    owner_of = {p: "w1" for p in owned[0]} | {p: "w2" for p in owned[1]}

    producer = Producer({**kafka.librdkafka_config(), "partitioner": "murmur2_random"})
    partitions: dict[str, int] = {}

    def remember(error: Any, message: Any) -> None:
        assert error is None, error
        partitions[message.key().decode()] = message.partition()

    codes = [marketplace_code(7000 + index) for index in range(60)]
    for index, code in enumerate(codes):
        producer.produce(
            topics.dispatches,
            DISPATCHES.encode({**dispatch(f"d{index}"), "code": code}),
            code.encode(),
            on_delivery=remember,
        )
        producer.produce(
            topics.scans,
            SCANS.encode({**scan(f"s{index}", 3, SubStatus.PICKED_UP), "code": code}),
            code.encode(),
        )
    assert producer.flush(30) == 0
    assert set(partitions.values()) == set(range(PARTITIONS))
    wait_until_idle(kafka, group, topics)

    for code in codes:
        answers = [w.get_response(f"/shipments/{quote(code, safe='')}") for w in (first, second)]
        (status1, headers1, body1), (status2, headers2, body2) = answers
        assert status1 == status2 == 200, code
        assert body1 == body2
        assert body1["scans"][0]["event_id"].startswith("s")
        # Faust's router found the worker owning the partition the producer wrote to.
        assert (
            headers1["X-Tracecode-Worker"]
            == headers2["X-Tracecode-Worker"]
            == owner_of[partitions[code]]
        )

    # Any form of a code is canonicalised before routing; malformed and unknown codes.
    canonical = codes[0]
    spaced = f"{canonical[:2].lower()}-{canonical[2:6]} {canonical[6:]}".lower()
    assert first.get(f"/shipments/{quote(spaced, safe='')}")[0] == 200
    status, body = second.get("/shipments/TC0000000000XX")
    assert status == 400 and body["rule"]
    unknown = marketplace_code(123456)
    for w in (first, second):
        status, body = w.get(f"/shipments/{unknown}")
        assert status == 404, body
        assert unknown in body["error"]
