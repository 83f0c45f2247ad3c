"""The example consumers under examples/ read a worker's status topic with libraries that are
not tracecode's (fastavro; Apache Avro in Java) and agree with the worker's state."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from schemas.kafka import KafkaConnection
from schemas.topics import TopicNames
from tests.integration.streams.conftest import WorkerFactory
from tests.integration.streams.simulation import publish_simulation
from tests.integration.streams.support import wait_until_idle

ROOT = Path(__file__).parents[3]
SCHEMAS = ROOT / "schemas" / "avro"
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def java_classpath(tmp_path_factory: pytest.TempPathFactory) -> str:
    """examples/java built with Maven into a folder of the test's own."""
    mvn = shutil.which("mvn")
    if mvn is None:
        pytest.fail("Maven (mvn) is needed to build examples/java; .ci/run installs it")
    build = tmp_path_factory.mktemp("java-example")
    pom = EXAMPLES / "java" / "pom.xml"
    subprocess.run(
        [mvn, "-q", "-B", "-f", str(pom), f"-Dbuild.folder={build}", "package"],
        check=True,
        timeout=600,
    )
    return f"{build / 'classes'}:{build / 'lib' / '*'}"


def _last_status(argv: list[str]) -> list[tuple[str, str, str, int]]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = []
    for line in done.stdout.splitlines():
        code, status, sub_status, version = line.split("\t")
        rows.append((code, status, sub_status, int(version)))
    return rows


def test_the_python_and_java_consumers_print_the_workers_last_status(
    kafka: KafkaConnection,
    topics: TopicNames,
    group: str,
    worker: WorkerFactory,
    java_classpath: str,
) -> None:
    simulation = publish_simulation(kafka, topics, 300, seed=4)
    joined = worker().start()
    joined.wait_ready()
    wait_until_idle(kafka, group, topics)

    expected = []
    for code in sorted(simulation.truth):
        status, state = joined.get(f"/shipments/{quote(code, safe='')}")
        if status == 200 and state["status_version"] > 0:
            expected.append((code, state["status"], state["sub_status"], state["status_version"]))
    assert len(expected) > 250  # nearly every shipment changed status

    args = [kafka.bootstrap_servers, topics.status, str(SCHEMAS)]
    python = _last_status([sys.executable, str(EXAMPLES / "python" / "last_status.py"), *args])
    java = _last_status(["java", "-cp", java_classpath, "io.tracecode.examples.LastStatus", *args])
    assert python == expected
    assert java == expected
