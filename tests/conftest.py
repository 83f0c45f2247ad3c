"""Shared fixtures: the session's Kafka broker, unique topic names and groups.

The ``kafka`` fixture uses the broker at the configured address (``tracecode config`` shows
it); when none answers and the address is the local broker's, it starts one with the project's
own broker code and stops it when the session ends.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from schemas.kafka import KafkaConnection
from schemas.topics import TopicNames
from sinks.config import ClickHouseTarget
from tests.helpers import RUN_ID, unique
from tracecode.broker import LocalBroker
from tracecode.compiled import STALE_HINT, stale_modules
from tracecode.settings import Settings, load_settings
from tracecode.topics import KafkaUnreachableError, admin_client

INTEGRATION_DIR = Path(__file__).parent / "integration"
FAULTS_DIR = Path(__file__).parent / "faults"


def pytest_sessionstart(session: pytest.Session) -> None:
    # Python loads an in-place compiled module even after its source changed: the tests would
    # pass or fail on the old code.
    if stale := stale_modules():
        raise pytest.UsageError(
            f"compiled before their last change: {', '.join(map(str, stale))}; {STALE_HINT}"
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_DIR in Path(item.path).parents:
            item.add_marker(pytest.mark.integration)
        if FAULTS_DIR in Path(item.path).parents:
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def kafka(settings: Settings) -> Iterator[KafkaConnection]:
    """The connection to a running broker for this test session."""
    connection = settings.kafka_connection()
    try:
        admin_client(connection, timeout=5.0)
    except KafkaUnreachableError:
        if settings.kafka.bootstrap_servers is not None:
            pytest.fail(
                f"no broker answers at TRACECODE_KAFKA_BOOTSTRAP_SERVERS="
                f"{connection.bootstrap_servers}; unset it to let the tests start a local broker"
            )
    else:
        yield connection
        delete_session_topics(connection)
        return
    broker = LocalBroker(settings.broker_config())
    broker.start()
    try:
        yield connection
        delete_session_topics(connection)
    finally:
        broker.stop()


def delete_session_topics(connection: KafkaConnection) -> None:
    """Delete the topics this session created (Faust's internal ones included)."""
    admin = AdminClient(connection.librdkafka_config())
    mine = [name for name in admin.list_topics(timeout=10).topics if RUN_ID in name]
    if mine:
        for future in admin.delete_topics(mine, operation_timeout=30).values():
            future.result()


@pytest.fixture
def topic_names() -> TopicNames:
    """The tracecode topic names under a prefix of their own."""
    return TopicNames().with_prefix(unique("test") + ".")


@pytest.fixture
def group_id() -> str:
    return unique("test-group")


@pytest.fixture(scope="session")
def chdb_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one chDB data folder of the test session.

    chDB hosts a single engine per process, bound to one folder: every test that opens chDB
    in the pytest process shares this folder and isolates itself by database.
    """
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture
def clickhouse_target(chdb_folder: Path) -> ClickHouseTarget:
    """An embedded target with a database of its own."""
    return ClickHouseTarget(dsn=f"chdb://{chdb_folder}", database=f"test_{uuid.uuid4().hex[:12]}")
