"""A minimal exactly-once Faust app for the broker compatibility test (run as a worker).

It re-keys its input (repartition topic), counts per key in a table (changelog topic) and
publishes each new count, all inside Faust's Kafka transactions. Configured by environment:
FAUST_TEST_BROKER, FAUST_TEST_APP, FAUST_TEST_SOURCE, FAUST_TEST_SINK, FAUST_TEST_DATADIR.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import faust

app = faust.App(
    os.environ["FAUST_TEST_APP"],
    broker=f"kafka://{os.environ['FAUST_TEST_BROKER']}",
    datadir=os.environ["FAUST_TEST_DATADIR"],
    store="memory://",
    processing_guarantee="exactly_once",
    topic_partitions=3,
    topic_replication_factor=1,
    table_standby_replicas=0,
    web_enabled=False,
)


class Event(faust.Record, serializer="json"):
    code: str
    count: int


source = app.topic(os.environ["FAUST_TEST_SOURCE"], value_type=Event)
sink = app.topic(os.environ["FAUST_TEST_SINK"], value_type=bytes, value_serializer="raw")
totals = app.Table("totals", default=int, partitions=3)


@app.agent(source)
async def count(events: faust.Stream[Event]) -> AsyncIterator[None]:
    async for event in events.group_by(Event.code, name="by-code"):
        totals[event.code] += event.count
        await sink.send(key=event.code.encode(), value=str(totals[event.code]).encode())
        yield None


if __name__ == "__main__":
    app.main()
