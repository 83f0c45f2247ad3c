"""One run of the pipeline as separate processes, its end result, and how two results compare.

A :class:`Run` has topics, workers, a sink and a ClickHouse folder of its own on the suite's
broker. :meth:`Run.outcome` waits until every input record is processed and stored, then reads
back everything a user could look at: each shipment's state from the web view, the status,
alert, history and dead-letter topics, and the sink's tables.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from schemas.kafka import KafkaConnection
from schemas.records import RecordType
from schemas.topics import TopicNames
from tests.faults.input import Published
from tests.helpers import free_port, unique, wait_for
from tests.integration.streams.support import (
    PARTITIONS,
    WorkerProcess,
    comparable,
    create_topics,
    decoded,
    read_topic,
    wait_until_idle,
)

GROUP = "streams"
SINK_GROUP = "sink"


class SinkProcess:
    """The sink in a process of its own (``tests.faults.sink_process``), steered by files."""

    def __init__(self, kafka: KafkaConnection, prefix: str, folder: Path) -> None:
        self.folder = folder
        self.control = folder / "control"
        self.control.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log = folder / "sink.log"
        self.dsn = f"chdb://{folder / 'clickhouse'}"
        self.database = "tracecode"
        self.env = {
            **os.environ,
            "TRACECODE_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "TRACECODE_TOPICS_PREFIX": prefix,
            "TRACECODE_TOPICS_PARTITIONS": str(PARTITIONS),
            "TRACECODE_DATA_DIR": str(folder),
            "TRACECODE_SINK_DSN": self.dsn,
            "TRACECODE_SINK_DATABASE": self.database,
            "TRACECODE_SINK_GROUP_ID": SINK_GROUP,
            "TRACECODE_SINK_QUERY_PORT": "0",
            "TRACECODE_SINK_METRICS_PORT": str(self.port),
            "TRACECODE_SINK_UNREACHABLE_AFTER": "5",
            "TRACECODE_SINK_RETRY_MAX": "2",
            "TRACECODE_SINK_SESSION_TIMEOUT": "10",
            "TRACECODE_LOG_LEVEL": "INFO",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> SinkProcess:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.faults.sink_process", str(self.control)],
                env=self.env,
                stdout=log,
                stderr=log,
            )
        return self

    def health(self) -> tuple[int, dict[str, Any] | None]:
        try:
            url = f"http://127.0.0.1:{self.port}/health"
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")
        except (urllib.error.URLError, ConnectionError):
            return 0, None

    def wait_status(self, status: str, timeout: float = 120.0) -> dict[str, Any]:
        def reported() -> dict[str, Any] | None:
            self.check_alive()
            _, body = self.health()
            return body if body is not None and body["status"] == status else None

        return wait_for(reported, timeout, f"the sink to report {status}", interval=0.2)

    def set_fault(self, name: str, on: bool = True) -> None:
        path = self.control / name
        if on:
            path.touch()
        else:
            path.unlink(missing_ok=True)

    def wait_exit(self, timeout: float) -> int:
        assert self.process is not None
        code = self.process.wait(timeout)
        self.process = None
        return code

    def stop(self, timeout: float = 60.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        self.process = None

    def check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"the sink exited with {self.process.returncode}:\n"
                + self.log.read_text(errors="replace")[-4000:]
            )

    def dump(self) -> dict[str, Any]:
        """What the sink stored (run once the sink is stopped: chDB binds its folder)."""
        result = subprocess.run(
            [sys.executable, "-m", "tests.faults.clickhouse_dump", self.dsn, self.database],
            capture_output=True,
            env=self.env,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr.decode(errors="replace")[-4000:]
        dumped: dict[str, Any] = json.loads(result.stdout)
        return dumped


@dataclass
class Outcome:
    """Everything a run leaves behind that a user could look at."""

    states: dict[str, Any]
    """code -> the web view's state (wall-clock fields left out); ``None`` when 404."""
    last_status: dict[str, Any]
    """code -> the last status record on the status topic (wall-clock fields left out)."""
    versions: Counter[tuple[str, int]]
    """(code, version) -> how many status records carry it."""
    alerts: Counter[str]
    """alert id -> how many alert records carry it."""
    history: Counter[tuple[str, str]]
    """(code, event id) -> how many history records carry it."""
    dead_letters: dict[tuple[str, int, int], str]
    """(topic, partition, offset) of each dead-lettered input record -> its stage."""
    dead_letter_records: int
    stored_events: Counter[tuple[str, str]]
    """(code, event id) -> rows in ``shipment_events``."""
    stored_states: dict[str, Any]
    """code -> its ``shipment_state FINAL`` row."""
    stored_alerts: Counter[str]
    """alert id -> rows in ``alerts``."""


@dataclass
class Figures:
    """One scenario against the clean run: every figure but the first three must be 0."""

    scenario: str
    events_in: int
    distinct_stored: int
    dead_letters: int
    lost: int = 0
    duplicated: int = 0
    versions_twice: int = 0
    alerts_differing: int = 0
    states_differing: int = 0
    status_differing: int = 0
    stored_states_differing: int = 0
    dead_letters_unexplained: int = 0
    recover_s: float | None = None
    seconds: float = 0.0
    examples: dict[str, list[str]] = field(default_factory=dict)

    ZERO = (
        "lost",
        "duplicated",
        "versions_twice",
        "alerts_differing",
        "states_differing",
        "status_differing",
        "stored_states_differing",
        "dead_letters_unexplained",
    )

    def failures(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.ZERO if getattr(self, name)}

    def to_json(self) -> dict[str, Any]:
        return {name: value for name, value in vars(self).items() if name != "examples" or value}


def compare(scenario: str, clean: Outcome, outcome: Outcome, published: Published) -> Figures:
    """The figures of ``outcome`` against the clean run's."""

    def differing(mine: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
        return sorted(
            code for code in set(mine) | set(theirs) if mine.get(code) != theirs.get(code)
        )

    clean_events = set(clean.stored_events) | set(clean.history)
    events = set(outcome.stored_events) | set(outcome.history)
    lost = sorted(f"{code}/{event}" for code, event in clean_events - events)
    extra = sorted(f"{code}/{event}" for code, event in events - clean_events)
    duplicated = (
        sum(n - 1 for n in outcome.stored_events.values())
        + sum(n - 1 for n in outcome.history.values())
        + sum(n - 1 for n in outcome.stored_alerts.values())
        + sum(n - 1 for n in outcome.alerts.values())
    )
    clean_alerts = set(clean.alerts) | set(clean.stored_alerts)
    alerts = set(outcome.alerts) | set(outcome.stored_alerts)
    states = differing(outcome.states, clean.states)
    status = differing(outcome.last_status, clean.last_status)
    stored = differing(outcome.stored_states, clean.stored_states)
    poison = set(published.poison)
    unexplained = [
        f"{key}: {stage}" for key, stage in outcome.dead_letters.items() if key not in poison
    ]
    clean_unexplained = sum(1 for key in clean.dead_letters if key not in poison)
    missed_poison = sorted(str(key) for key in poison - set(outcome.dead_letters))
    figures = Figures(
        scenario=scenario,
        events_in=published.good,
        distinct_stored=len(outcome.stored_events),
        dead_letters=outcome.dead_letter_records,
        lost=len(lost) + len(extra),
        duplicated=duplicated + outcome.dead_letter_records - len(outcome.dead_letters),
        versions_twice=sum(1 for n in outcome.versions.values() if n > 1),
        alerts_differing=len(clean_alerts ^ alerts),
        states_differing=len(states),
        status_differing=len(status),
        stored_states_differing=len(stored),
        dead_letters_unexplained=abs(len(unexplained) - clean_unexplained) + len(missed_poison),
    )
    figures.examples = {
        name: values[:5]
        for name, values in {
            "lost": lost,
            "extra": extra,
            "alerts": sorted(clean_alerts ^ alerts),
            "states": states,
            "status": status,
            "stored_states": stored,
            "poison_not_dead_lettered": missed_poison,
        }.items()
        if values
    }
    return figures


class Run:
    """Topics, workers and a sink of one scenario, on the suite's broker."""

    def __init__(
        self,
        kafka: KafkaConnection,
        name: str,
        folder: Path,
        workers: int = 2,
        worker_env: dict[str, str] | None = None,
    ) -> None:
        self.kafka = kafka
        self.name = name
        self.folder = folder
        self.prefix = unique(f"faults-{name}") + "."
        self.topics: TopicNames = create_topics(kafka, self.prefix)
        self.worker_env = worker_env or {}
        self.workers = [self.new_worker(f"w{n + 1}") for n in range(workers)]
        self.sink = SinkProcess(kafka, self.prefix, folder / "sink")
        self.started = time.monotonic()

    @property
    def group(self) -> str:
        return self.prefix + GROUP

    def new_worker(self, worker_id: str) -> WorkerProcess:
        folder = self.folder / "workers"
        folder.mkdir(parents=True, exist_ok=True)
        return WorkerProcess(self.kafka, self.prefix, GROUP, worker_id, folder, self.worker_env)

    def start(self) -> Run:
        self.sink.start()
        for worker in self.workers:
            worker.start()
        return self

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Until every worker and the sink report ready; the seconds it took."""
        started = time.monotonic()
        for worker in self.workers:
            body = worker.wait_ready(timeout)
            assert body.get("partitions"), f"{worker.worker_id} ready without partitions: {body}"
        self.sink.wait_status("ready", timeout)
        return time.monotonic() - started

    def running_workers(self) -> list[WorkerProcess]:
        return [worker for worker in self.workers if worker.process is not None]

    def close(self) -> None:
        for worker in self.workers:
            worker.close()
        self.sink.close()

    def outcome(self, codes: set[str], timeout: float = 300.0) -> Outcome:
        """Once everything is processed and stored: what the run left behind."""
        wait_until_idle(self.kafka, self.group, self.topics, timeout)
        self.wait_stored(timeout)
        viewer = self.running_workers()[0]
        states = {code: self.web_state(viewer, code) for code in sorted(codes)}
        self.sink.stop()
        for worker in self.running_workers():
            worker.stop()
        status: dict[str, Any] = {}
        versions: Counter[tuple[str, int]] = Counter()
        for change in decoded(
            read_topic(self.kafka, self.topics.status), RecordType.SHIPMENT_STATUS_CHANGED
        ):
            status[change["code"]] = comparable(change)
            versions[(change["code"], change["version"])] += 1
        alerts = Counter(
            alert["alert_id"]
            for alert in decoded(
                read_topic(self.kafka, self.topics.alerts), RecordType.SHIPMENT_ALERT
            )
        )
        history = Counter(
            (record["code"], record["event_id"])
            for record in decoded(
                read_topic(self.kafka, self.topics.history), RecordType.SHIPMENT_HISTORY_RECORD
            )
        )
        letters = list(
            decoded(read_topic(self.kafka, self.topics.dead_letters), RecordType.DEAD_LETTER)
        )
        stored = self.sink.dump()
        return Outcome(
            states=states,
            last_status=status,
            versions=versions,
            alerts=alerts,
            history=history,
            dead_letters={(d["topic"], d["partition"], d["offset"]): d["stage"] for d in letters},
            dead_letter_records=len(letters),
            stored_events=Counter((code, event) for code, event in stored["events"]),
            stored_states=stored["states"],
            stored_alerts=Counter(alert_id for _, alert_id, _ in stored["alerts"]),
        )

    def web_state(self, worker: WorkerProcess, code: str) -> Any:
        last: tuple[int, Any] = (0, None)

        def answered() -> tuple[int, Any] | None:
            nonlocal last
            last = worker.get(f"/shipments/{urllib.parse.quote(code, safe='')}")
            return last if last[0] in (200, 404) else None

        try:
            status, body = wait_for(answered, 60, f"the state of {code}", interval=0.5)
        except AssertionError as error:
            worker._check_alive()
            raise AssertionError(
                f"{error}; {worker.worker_id} last answered {last}; its log ends:\n"
                + worker.log.read_text(errors="replace")[-4000:]
            ) from None
        return comparable(body) if status == 200 else None

    def wait_stored(self, timeout: float) -> None:
        """Until the sink committed every output record (its offsets at the topics' ends)."""
        admin = AdminClient(self.kafka.librdkafka_config())
        consumer = Consumer({**self.kafka.librdkafka_config(), "group.id": unique("ends")})
        outputs = [
            TopicPartition(topic, partition)
            for topic in (self.topics.history, self.topics.status, self.topics.alerts)
            for partition in range(PARTITIONS)
        ]
        behind: dict[str, int] = {}

        def stored() -> bool | None:
            nonlocal behind
            self.sink.check_alive()
            group = self.prefix + SINK_GROUP
            request = ConsumerGroupTopicPartitions(group, outputs)
            result = admin.list_consumer_group_offsets([request])[group].result()
            committed = {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions}
            behind = {}
            for tp in outputs:
                low, high = consumer.get_watermark_offsets(tp, timeout=10)
                if high > low and committed[(tp.topic, tp.partition)] < high:
                    behind[f"{tp.topic}[{tp.partition}]"] = (
                        high - committed[(tp.topic, tp.partition)]
                    )
            return True if not behind else None

        try:
            wait_for(stored, timeout, "the sink to store every output record", interval=0.5)
        except AssertionError as error:
            raise AssertionError(f"{error}; behind: {behind}") from None
        finally:
            consumer.close()


def codes_of(items: list[Any]) -> set[str]:
    return {item.key.decode() for item in items if item.poison is None}
