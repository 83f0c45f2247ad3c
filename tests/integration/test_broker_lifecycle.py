"""`tracecode broker` on a broker of its own (free ports, temporary data folder).

These tests never touch the session's broker: each runs its own on ports nobody uses.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import free_port, port_is_free
from tracecode.broker import (
    BrokerConfig,
    BrokerStartError,
    LocalBroker,
    MavenResolutionError,
    answers_metadata,
)
from tracecode.settings import Settings


def cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracecode", "broker", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "COLUMNS": "200"},
        cwd=cwd,
        timeout=300,
        check=False,
    )


def test_up_twice_status_down_status(settings: Settings, tmp_path: Path) -> None:
    port, controller_port = free_port(), free_port()
    env = {
        "TRACECODE_BROKER_PORT": str(port),
        "TRACECODE_BROKER_CONTROLLER_PORT": str(controller_port),
        "TRACECODE_DATA_DIR": str(tmp_path / "data"),
        # The session's jar cache: resolving again would only cost time.
        "TRACECODE_CACHE_DIR": str(settings.cache_dir),
    }
    try:
        up = cli(env, tmp_path, "up")
        assert up.returncode == 0, up.stderr
        assert f"is up on 127.0.0.1:{port}" in up.stdout
        assert "started in" in up.stdout
        assert answers_metadata(f"127.0.0.1:{port}", timeout=10)

        again = cli(env, tmp_path, "up")
        assert again.returncode == 0, again.stderr
        assert "already running" in again.stdout
        assert "nothing to do" in again.stdout

        status = cli(env, tmp_path, "status")
        assert status.returncode == 0, status.stderr
        assert "running" in status.stdout
        assert f"127.0.0.1:{port}" in status.stdout
        assert "Apache Kafka 4.4.0" in status.stdout
        assert str(tmp_path / "data" / "kafka") in status.stdout

        logs = cli(env, tmp_path, "logs", "-n", "500")
        assert logs.returncode == 0
        assert "Kafka Server started" in logs.stdout
    finally:
        down = cli(env, tmp_path, "down")
    assert down.returncode == 0, down.stderr
    assert "ports are free" in down.stdout
    assert port_is_free(port) and port_is_free(controller_port)
    assert not answers_metadata(f"127.0.0.1:{port}", timeout=2)

    stopped = cli(env, tmp_path, "status")
    assert stopped.returncode == 3
    assert "stopped" in stopped.stdout

    down_again = cli(env, tmp_path, "down")
    assert down_again.returncode == 0
    assert "not running" in down_again.stdout


def test_broker_exiting_during_start_shows_the_log_tail(settings: Settings, tmp_path: Path) -> None:
    data_dir = tmp_path / "kafka"
    storage = data_dir / "data"
    storage.mkdir(parents=True)
    # Storage formatted for another node: Kafka refuses to start with it.
    (storage / "meta.properties").write_text(
        "version=1\nnode.id=7\ncluster.id=Zg3Ml6VtRmeRY0hSaUDWfw\n"
        "directory.id=6Ss-K7GHR4Cfsj_nT3HcSQ\n"
    )
    broker = LocalBroker(
        BrokerConfig(
            data_dir=data_dir,
            cache_dir=settings.broker_config().cache_dir,
            port=free_port(),
            controller_port=free_port(),
        )
    )

    with pytest.raises(BrokerStartError) as raised:
        broker.start()

    assert "exited with code" in raised.value.message
    tail = "\n".join(raised.value.log_tail)
    assert "node" in tail.lower() and "7" in tail, tail
    assert broker.status().running is False
    assert port_is_free(broker.config.port)


def test_maven_resolution_failure_shows_mavens_reason(tmp_path: Path) -> None:
    broker = LocalBroker(
        BrokerConfig(
            data_dir=tmp_path / "kafka",
            cache_dir=tmp_path / "cache",
            kafka_version="0.0.0-no-such-version",
        )
    )

    with pytest.raises(MavenResolutionError) as raised:
        broker.resolve()

    assert "0.0.0-no-such-version" in raised.value.essence
    assert raised.value.essence.startswith("Could not")
    assert not broker.is_resolved()
