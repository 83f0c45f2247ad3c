"""The local broker's error paths that need no running broker."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import free_port
from tracecode.broker import (
    BrokerConfig,
    JavaNotFoundError,
    JavaVersionError,
    LocalBroker,
    MavenNotFoundError,
    PortInUseError,
    check_java_version,
)


def make_broker(
    tmp_path: Path, cache_dir: Path | None = None, port: int | None = None
) -> LocalBroker:
    port = port or free_port()
    return LocalBroker(
        BrokerConfig(
            data_dir=tmp_path / "kafka",
            cache_dir=cache_dir or tmp_path / "cache",
            port=port,
            controller_port=free_port(),
        )
    )


def path_with_only(tmp_path: Path, *tools: str) -> str:
    """A PATH holding links to ``tools`` and nothing else."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in tools:
        found = shutil.which(tool)
        assert found, f"{tool} is needed on PATH for this test"
        (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def test_missing_maven_is_reported_when_jars_must_be_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = make_broker(tmp_path)
    monkeypatch.setenv("PATH", path_with_only(tmp_path, "java"))
    monkeypatch.delenv("JAVA_HOME", raising=False)

    with pytest.raises(MavenNotFoundError) as raised:
        broker.start()

    assert "mvn" in raised.value.message
    assert raised.value.hint and "Maven" in raised.value.hint
    assert not (tmp_path / "kafka" / "broker.json").exists()


def test_missing_java_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broker = make_broker(tmp_path)
    monkeypatch.setenv("PATH", path_with_only(tmp_path, "mvn"))
    monkeypatch.delenv("JAVA_HOME", raising=False)

    with pytest.raises(JavaNotFoundError) as raised:
        broker.start()

    assert "no java on PATH" in raised.value.message


def test_java_home_without_java_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))

    with pytest.raises(JavaNotFoundError) as raised:
        make_broker(tmp_path).start()

    assert str(tmp_path) in raised.value.message


def test_old_java_is_rejected(tmp_path: Path) -> None:
    fake_java = tmp_path / "java"
    fake_java.write_text("#!/bin/sh\necho 'openjdk version \"11.0.2\" 2019-01-15' >&2\n")
    fake_java.chmod(0o755)

    with pytest.raises(JavaVersionError) as raised:
        check_java_version(str(fake_java))

    assert "Java 11" in raised.value.message


def test_taken_port_is_reported_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        broker = make_broker(tmp_path, port=port)

        with pytest.raises(PortInUseError) as raised:
            broker.start()

    assert raised.value.port == port
    assert f"port {port}" in raised.value.message
    assert raised.value.hint and "TRACECODE_BROKER_PORT" in raised.value.hint
    assert not (tmp_path / "kafka" / "broker.json").exists()


def test_stop_and_status_without_a_broker_say_not_running(tmp_path: Path) -> None:
    broker = make_broker(tmp_path)

    assert broker.stop().was_running is False
    status = broker.status()
    assert (status.running, status.answering, status.pid) == (False, False, None)


def test_stale_pid_file_of_another_process_is_not_trusted(tmp_path: Path) -> None:
    broker = make_broker(tmp_path)
    (tmp_path / "kafka").mkdir()
    # This test's own pid is alive but is not a broker: it must not be stopped.
    (tmp_path / "kafka" / "broker.json").write_text(
        f'{{"pid": {os.getpid()}, "kafka_version": "4.4.0", "port": 1, "controller_port": 2}}'
    )

    assert broker.status().running is False
    assert broker.stop().was_running is False
    assert not (tmp_path / "kafka" / "broker.json").exists()


def test_stop_kills_a_broker_that_ignores_sigterm(tmp_path: Path) -> None:
    broker = LocalBroker(
        BrokerConfig(
            data_dir=tmp_path / "kafka",
            cache_dir=tmp_path / "cache",
            port=free_port(),
            controller_port=free_port(),
            stop_timeout=1.0,
        )
    )
    (tmp_path / "kafka").mkdir()
    properties = tmp_path / "kafka" / "server.properties"
    # Stands in for a hung broker: same command-line marker, deaf to SIGTERM.
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, sys, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "print('ready', flush=True)\n"
            "time.sleep(120)",
            str(properties),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert stubborn.stdout is not None and stubborn.stdout.readline() == "ready\n"
    (tmp_path / "kafka" / "broker.json").write_text(
        f'{{"pid": {stubborn.pid}, "kafka_version": "4.4.0", '
        f'"port": {broker.config.port}, "controller_port": {broker.config.controller_port}}}'
    )
    assert broker.status().running is True

    result = broker.stop()

    assert (result.was_running, result.killed, result.pid) == (True, True, stubborn.pid)
    with pytest.raises(ProcessLookupError):
        os.kill(stubborn.pid, 0)
    stubborn.wait(timeout=10)
    assert broker.status().running is False
