"""A sink killed between an acknowledged insert and its done mark restarts without duplicates."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from schemas.kafka import KafkaConnection
from schemas.topics import TopicNames
from sinks.config import ClickHouseTarget
from sinks.query import QueryClient
from tests import sinkdata
from tests.helpers import unique, wait_for
from tests.integration.sinks.helpers import create_topics, publish, scenario_items
from tests.integration.sinks.run_sink import CRASH_EXIT
from tracecode.settings import Settings


def start(
    kafka: KafkaConnection, prefix: str, folder: Path, group: str, crash_at: int = 0
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.sinks.run_sink",
            "--bootstrap",
            kafka.bootstrap_servers,
            "--prefix",
            prefix,
            "--folder",
            str(folder),
            "--group",
            group,
            "--crash-at",
            str(crash_at),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[3],
    )


def ready(process: subprocess.Popen[str]) -> tuple[int, int]:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("ready "), f"sink process said {line!r} (exit {process.poll()})"
    _, query, metrics = line.split()
    return int(query), int(metrics)


def test_crash_after_insert_before_done_leaves_no_duplicate(
    kafka: KafkaConnection, settings: Settings, tmp_path: Path
) -> None:
    scenario = sinkdata.build(delivered=20)
    prefix = unique("test-sink-crash") + "."
    topics = TopicNames().with_prefix(prefix)
    create_topics(kafka, settings, topics, 2)
    publish(kafka, scenario_items(scenario, topics))
    group = unique("sink")
    folder = tmp_path / "chdb"

    crashing = start(kafka, prefix, folder, group, crash_at=3)
    ready(crashing)
    assert crashing.wait(timeout=120) == CRASH_EXIT

    restarted = start(kafka, prefix, folder, group)
    try:
        query_port, metrics_port = ready(restarted)
        target = ClickHouseTarget(dsn=f"chdb://{folder}", database="crash")
        with QueryClient.open(target, query_port) as client:
            assert "endpoint" in client.via  # the folder belongs to the sink process
            history = len(scenario.history)
            wait_for(
                lambda: (
                    True
                    if client.query("SELECT count() FROM shipment_events").result_rows
                    == [(history,)]
                    and client.query("SELECT count() FROM alerts").result_rows
                    == [(len(scenario.alerts),)]
                    else None
                ),
                90,
                "the restarted sink to store everything",
            )
            assert client.query(
                "SELECT count(), uniqExact(event_id) FROM shipment_events"
            ).result_rows == [(history, history)]
            assert client.query("SELECT count() FROM dispatches").result_rows == [
                (sum(1 for r in scenario.history if r["kind"] == "DISPATCH"),)
            ]
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics") as response:
            metrics = response.read().decode()
        recovered = re.search(
            r'tracecode_sink_batches_total\{kind="recovered",table="shipment_events"\} (\S+)',
            metrics,
        )
        # The crashed batch and any batch whose done mark had not been recorded yet.
        assert recovered is not None and float(recovered.group(1)) >= 1
    finally:
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(timeout=60) == 0
