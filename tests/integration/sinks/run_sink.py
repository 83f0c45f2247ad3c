"""A sink process for the crash test: ``python -m tests.integration.sinks.run_sink``.

Prints ``ready <query port> <metrics port>`` once consuming. With ``--crash-at N`` it kills
itself (``os._exit``) right after ClickHouse acknowledged the N-th shipment_events batch and
before the batch is marked done: the window a crash can leave a pending intent in.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading

from schemas.kafka import KafkaConnection
from schemas.topics import TopicNames
from sinks.batching import Batch
from sinks.config import ClickHouseTarget, FaultPoint, RetryPolicy, SinkConfig
from sinks.service import Sink

CRASH_EXIT = 17


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--folder", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--crash-at", type=int, default=0)
    args = parser.parse_args()
    topics = TopicNames().with_prefix(args.prefix)
    seen = 0

    def crash(point: FaultPoint, batch: Batch) -> None:
        nonlocal seen
        if point is FaultPoint.AFTER_INSERT and batch.topic == topics.history:
            seen += 1
            if seen == args.crash_at:
                os._exit(CRASH_EXIT)

    sink = Sink(
        SinkConfig(
            kafka=KafkaConnection(args.bootstrap),
            topics=topics,
            clickhouse=ClickHouseTarget(dsn=f"chdb://{args.folder}", database="crash"),
            group_id=args.group,
            batch_max_rows=20,
            batch_max_age=0.2,
            retry=RetryPolicy(initial=0.05, maximum=0.5),
            query_port=0,
            metrics_port=0,
            # The crashed process never says goodbye: let the group notice it soon.
            session_timeout=6.0,
            fault_hook=crash if args.crash_at else None,
        )
    )
    signal.signal(signal.SIGTERM, lambda *_: sink.stop())

    def announce() -> None:
        sink.running.wait()
        print(f"ready {sink.query_port} {sink.metrics_port}", flush=True)

    threading.Thread(target=announce, daemon=True).start()
    sink.run()


if __name__ == "__main__":
    main()
