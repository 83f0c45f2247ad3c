"""Fixtures for the streams integration tests: isolated topics and real worker processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from schemas.kafka import KafkaConnection
from schemas.topics import TopicNames
from tests.helpers import unique
from tests.integration.streams.support import WorkerProcess, create_topics


@pytest.fixture
def prefix() -> str:
    return unique("test") + "."


@pytest.fixture
def topics(kafka: KafkaConnection, prefix: str) -> TopicNames:
    return create_topics(kafka, prefix)


GROUP = "streams"
"""The workers' TRACECODE_WORKER_GROUP; the consumer group is the topic prefix plus this."""


@pytest.fixture
def group(prefix: str) -> str:
    """The workers' consumer group."""
    return prefix + GROUP


WorkerFactory = Callable[..., WorkerProcess]


@pytest.fixture
def worker(kafka: KafkaConnection, prefix: str, tmp_path: Path) -> Iterator[WorkerFactory]:
    """Makes (not starts) worker processes of one group; kills what is still running at the end."""
    made: list[WorkerProcess] = []

    def make(worker_id: str = "w1", **env: str) -> WorkerProcess:
        process = WorkerProcess(kafka, prefix, GROUP, worker_id, tmp_path, env)
        made.append(process)
        return process

    yield make
    for process in made:
        process.close()
