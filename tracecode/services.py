"""The tracecode services running from one data folder: workers and sinks announce themselves.

A running ``tracecode worker`` or ``tracecode sink`` keeps a small JSON file in
``<data dir>/run/`` (kind, name, pid, URLs) and removes it when it stops. ``tracecode status``
and ``tracecode demo`` find the services through them, however they were started. A file left
by a process that died (kill -9) is ignored and removed; so is one whose pid now belongs to
another program.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from tracecode.processes import command_line, is_alive

logger = logging.getLogger(__name__)


class ServiceKind(StrEnum):
    """What a service does."""

    WORKER = "worker"
    SINK = "sink"
    API = "api"


SINK_NAME = "sink"
"""The name a sink announces itself with (workers use their worker id)."""
API_NAME = "api"
"""The name the tracking service announces itself with."""

_ANY_ADDRESS = frozenset({"0.0.0.0", "::", ""})


def local_url(bind: str, port: int, path: str = "") -> str:
    """The URL this machine reaches a server at that listens on ``bind``:``port``."""
    host = "127.0.0.1" if bind in _ANY_ADDRESS else bind
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}{path}"


@dataclass(frozen=True, slots=True)
class Service:
    """One running service as it announced itself."""

    kind: ServiceKind
    name: str
    """The worker id, or ``sink``."""
    pid: int
    urls: Mapping[str, str] = field(default_factory=dict)
    """Where it answers: ``web`` for a worker; ``queries`` and ``metrics`` for a sink."""
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "name": self.name,
            "pid": self.pid,
            "urls": dict(self.urls),
            "started_at": self.started_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Service:
        urls = data.get("urls") or {}
        if not isinstance(urls, Mapping):
            raise ValueError("urls must be an object")
        return cls(
            kind=ServiceKind(str(data["kind"])),
            name=str(data["name"]),
            pid=int(str(data["pid"])),
            urls={str(k): str(v) for k, v in urls.items()},
            started_at=datetime.fromisoformat(str(data["started_at"])),
        )


class ServiceRegistry:
    """The announcements under ``run_dir`` (``<TRACECODE_DATA_DIR>/run``)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    @classmethod
    def of(cls, data_dir: Path) -> ServiceRegistry:
        """The registry of the data folder ``data_dir`` (``TRACECODE_DATA_DIR``)."""
        return cls(data_dir / "run")

    @contextlib.contextmanager
    def registered(
        self, kind: ServiceKind, name: str, urls: Mapping[str, str]
    ) -> Iterator[Service]:
        """Announce this process as ``kind``/``name`` while inside."""
        service = Service(kind=kind, name=name, pid=os.getpid(), urls=dict(urls))
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self._path(service)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(service.to_json()))
        # Readers never see a half-written file.
        temporary.replace(path)
        try:
            yield service
        finally:
            path.unlink(missing_ok=True)

    def running(self, kind: ServiceKind | None = None) -> list[Service]:
        """The services that still run, by kind then name."""
        found = []
        for path in sorted(self.run_dir.glob("*.json")) if self.run_dir.is_dir() else []:
            try:
                service = Service.from_json(json.loads(path.read_text()))
            except (OSError, ValueError, KeyError, TypeError):
                continue  # being written or removed right now, or not ours
            if not _runs(service):
                logger.info(
                    "removing the announcement of a service that is gone",
                    extra={"service": service.name, "pid": service.pid},
                )
                path.unlink(missing_ok=True)
                continue
            if kind is None or service.kind is kind:
                found.append(service)
        return sorted(found, key=lambda s: (s.kind.value, s.name, s.pid))

    def find(self, kind: ServiceKind, name: str) -> Service | None:
        """The running service ``kind``/``name``, if any."""
        return next((s for s in self.running(kind) if s.name == name), None)

    def _path(self, service: Service) -> Path:
        # The pid keeps two processes that were given the same name apart.
        return self.run_dir / f"{service.kind.value}-{service.name}-{service.pid}.json"


def _runs(service: Service) -> bool:
    # A pid may have been reused by an unrelated program since the service died.
    return is_alive(service.pid) and "tracecode" in command_line(service.pid)
