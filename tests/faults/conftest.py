"""The fault suite's broker, input and clean run, and the table of figures it prints.

The suite runs a broker of its own (free ports, its own data folder, the session's jar cache),
so that stopping it for a scenario disturbs nothing else. Every scenario compares its end
result with one clean run of the same input.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from schemas.kafka import KafkaConnection
from tests.faults.input import Item, Published, publish, simulated
from tests.faults.rig import Figures, Outcome, Run, codes_of
from tests.helpers import free_port
from tracecode.broker import BrokerConfig, LocalBroker
from tracecode.settings import Settings

SHIPMENTS = 1_300
"""About 20,700 events with every hard case of the simulator."""
SEED = 7
RATE = 2_000.0
"""Good input records a second: records flow for about ten seconds of each run."""

REPORT: list[Figures] = []


@dataclass
class Cluster:
    """The suite's broker."""

    broker: LocalBroker
    kafka: KafkaConnection

    def stop(self) -> None:
        self.broker.stop()

    def start(self) -> None:
        self.broker.start()


@dataclass(frozen=True)
class Clean:
    """The clean run: what every scenario must end equal to."""

    items: list[Item]
    codes: set[str]
    published: Published
    outcome: Outcome


@pytest.fixture(scope="session")
def cluster(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("faults-broker")
    config = BrokerConfig(
        data_dir=folder / "kafka",
        cache_dir=settings.broker_config().cache_dir,
        port=free_port(),
        controller_port=free_port(),
    )
    broker = LocalBroker(config)
    broker.start()
    try:
        yield Cluster(broker, KafkaConnection(bootstrap_servers=config.bootstrap_servers))
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def items() -> list[Item]:
    return simulated(SHIPMENTS, SEED)


@pytest.fixture(scope="session")
def clean(cluster: Cluster, items: list[Item], tmp_path_factory: pytest.TempPathFactory) -> Clean:
    run = Run(cluster.kafka, "clean", tmp_path_factory.mktemp("clean"))
    started = time.monotonic()
    try:
        run.start().wait_ready()
        published = publish(cluster.kafka, run.topics, items, rate=RATE)
        codes = codes_of(items)
        outcome = run.outcome(codes)
    finally:
        run.close()
    figures = Figures(
        scenario="clean run",
        events_in=published.good,
        distinct_stored=len(outcome.stored_events),
        dead_letters=outcome.dead_letter_records,
        seconds=time.monotonic() - started,
    )
    REPORT.append(figures)
    return Clean(items, codes, published, outcome)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not REPORT:
        return
    columns = (
        ("scenario", "scenario"),
        ("events_in", "events in"),
        ("distinct_stored", "stored"),
        ("lost", "lost"),
        ("duplicated", "dup"),
        ("versions_twice", "versions x2"),
        ("dead_letters", "dead letters"),
        ("dead_letters_unexplained", "DL unexplained"),
        ("alerts_differing", "alerts diff"),
        ("states_differing", "states diff"),
        ("status_differing", "status diff"),
        ("stored_states_differing", "CH state diff"),
        ("recover_s", "recover s"),
        ("seconds", "run s"),
    )
    rows = [[title for _, title in columns]]
    for figures in REPORT:
        row = []
        for name, _ in columns:
            value = getattr(figures, name)
            row.append(
                "-" if value is None else f"{value:.1f}" if isinstance(value, float) else str(value)
            )
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    terminalreporter.section("fault injection: every scenario against the clean run")
    for row in rows:
        terminalreporter.write_line(
            "  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True))
        )
    path = Path(os.environ.get("TRACECODE_FAULTS_REPORT", "/tmp/tracecode-faults.json"))
    path.write_text(json.dumps([figures.to_json() for figures in REPORT], indent=2) + "\n")
    terminalreporter.write_line(f"figures written to {path}")
