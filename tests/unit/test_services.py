"""The service registry: running services announce themselves, gone ones disappear."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tracecode.services import Service, ServiceKind, ServiceRegistry, local_url

# A process whose command line says "tracecode", as a worker's or sink's does.
ANNOUNCE = """
import sys, time
from pathlib import Path
from tracecode.services import ServiceKind, ServiceRegistry
registry = ServiceRegistry(Path(sys.argv[1]))
with registry.registered(ServiceKind(sys.argv[2]), sys.argv[3], {"web": "http://127.0.0.1:1"}):
    print("announced", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def registry(tmp_path: Path) -> ServiceRegistry:
    return ServiceRegistry.of(tmp_path)


Announce = Callable[[ServiceKind, str], "subprocess.Popen[str]"]


@pytest.fixture
def announce(registry: ServiceRegistry) -> Iterator[Announce]:
    started: list[subprocess.Popen[str]] = []

    def start(kind: ServiceKind, name: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-c", ANNOUNCE, str(registry.run_dir), kind.value, name, "tracecode"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "announced"
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()
        process.wait()


def test_a_running_service_is_found_and_removed_when_it_stops(
    registry: ServiceRegistry, announce: Announce
) -> None:
    worker = announce(ServiceKind.WORKER, "worker-1")
    announce(ServiceKind.SINK, "sink")

    found = registry.find(ServiceKind.WORKER, "worker-1")
    assert found is not None
    assert found.pid == worker.pid
    assert found.urls == {"web": "http://127.0.0.1:1"}
    assert [s.kind for s in registry.running()] == [ServiceKind.SINK, ServiceKind.WORKER]
    assert [s.name for s in registry.running(ServiceKind.SINK)] == ["sink"]

    worker.communicate("")  # ends the announcement cleanly
    assert registry.find(ServiceKind.WORKER, "worker-1") is None
    assert not list(registry.run_dir.glob("worker-*"))


def test_the_announcement_of_a_killed_service_is_ignored_and_removed(
    registry: ServiceRegistry, announce: Announce
) -> None:
    worker = announce(ServiceKind.WORKER, "worker-1")
    worker.kill()
    worker.wait()

    assert list(registry.run_dir.glob("worker-*")), "kill -9 leaves the file behind"
    assert registry.running() == []
    assert not list(registry.run_dir.glob("worker-*"))


def test_a_pid_reused_by_another_program_is_not_a_service(registry: ServiceRegistry) -> None:
    registry.run_dir.mkdir(parents=True)
    with subprocess.Popen(["sleep", "60"]) as other:
        stranger = Service(ServiceKind.WORKER, "worker-1", pid=other.pid)
        path = registry.run_dir / f"worker-worker-1-{other.pid}.json"
        path.write_text(json.dumps(stranger.to_json()))
        try:
            assert registry.running() == []
        finally:
            other.kill()


def test_unreadable_files_are_skipped(registry: ServiceRegistry) -> None:
    registry.run_dir.mkdir(parents=True)
    (registry.run_dir / "half-written.json").write_text("{")

    assert registry.running() == []


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:9464/metrics"),
        ("0.0.0.0", "http://127.0.0.1:9464/metrics"),
        ("10.1.2.3", "http://10.1.2.3:9464/metrics"),
        ("::1", "http://[::1]:9464/metrics"),
    ],
)
def test_a_server_s_local_url_follows_its_bind_address(bind: str, url: str) -> None:
    assert local_url(bind, 9464, "/metrics") == url
