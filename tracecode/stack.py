"""The local tracecode stack the demo runs: broker, topics, workers, a sink, the tracking API.

Workers and the sink run as ``tracecode worker`` / ``tracecode sink`` child processes, each in
a session of its own (a Ctrl-C in the terminal reaches the demo only, which then stops them in
order) and with its own log file under ``<data dir>/logs``. They announce themselves in the
service registry (:mod:`tracecode.services`), which is how ``tracecode status`` finds them.
Services already running from the same data folder (a demo left running, or started by hand)
are used as they are and left running; so is a broker that was already up.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sinks.query import endpoint_answers
from tracecode.broker import LocalBroker, answers_metadata
from tracecode.endpoints import EndpointError, WorkerHealth, get, worker_health
from tracecode.errors import TracecodeError
from tracecode.processes import is_alive, port_is_free, wait_until
from tracecode.services import API_NAME, SINK_NAME, ServiceKind, ServiceRegistry, local_url
from tracecode.settings import Settings
from tracecode.topics import ApplyResult, admin_client, apply, topic_specs

logger = logging.getLogger(__name__)

_LOG_TAIL = 15


class StackError(TracecodeError):
    """A service of the stack could not be started or did not become ready."""

    def __init__(self, message: str, *, log_tail: list[str] | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.log_tail = log_tail or []


@dataclass(slots=True)
class ServiceProcess:
    """A worker or the sink, started here or found running."""

    kind: ServiceKind
    name: str
    url: str
    """A worker's web view; the sink's query endpoint (or its metrics on a server target)."""
    pid: int
    log_file: Path | None = None
    """Where its output goes, when started here."""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    """The child, when started by this process."""
    owned: bool = False
    """Started by the demo (now or by an earlier ``--keep-running`` run): the demo stops it."""

    def running(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return is_alive(self.pid)

    def wait_gone(self, timeout: float) -> bool:
        return wait_until(lambda: not self.running(), timeout)

    def signal(self, number: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, number)

    def log_tail(self, lines: int = _LOG_TAIL) -> list[str]:
        """The end of its log (started here only)."""
        if self.log_file is None or not self.log_file.exists():
            return []
        with self.log_file.open(errors="replace") as log:
            return [line.rstrip("\n") for line in deque(log, maxlen=lines)]


@dataclass(frozen=True, slots=True)
class Readiness:
    """One look at whether the services serve."""

    workers: dict[str, WorkerHealth | None]
    sink: bool
    partitions: int
    api: bool = True
    """The tracking service answers (true when the stack runs none)."""

    @property
    def workers_ready(self) -> bool:
        """Every worker is ready and together they serve every partition, each once."""
        healths = list(self.workers.values())
        if not healths or any(h is None or not h.ready for h in healths):
            return False
        served = [p for h in healths if h is not None for p in h.partitions]
        return sorted(served) == list(range(self.partitions))

    @property
    def ready(self) -> bool:
        return self.workers_ready and self.sink and self.api

    def describe(self) -> str:
        """What is still missing, for people."""
        parts = []
        for name, health in self.workers.items():
            if health is None:
                parts.append(f"{name} starting")
            elif health.ready:
                parts.append(f"{name} ready ({len(health.partitions)} partitions)")
            else:
                parts.append(f"{name} {health.phase}")
        parts.append("sink ready" if self.sink else "sink starting")
        parts.append("tracking API ready" if self.api else "tracking API starting")
        return ", ".join(parts)


class LocalStack:
    """Brings the services up, watches them, and stops what it started."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.registry = ServiceRegistry.of(settings.data_dir)
        self.log_dir = settings.data_dir / "logs"
        self.services: list[ServiceProcess] = []
        self.broker_started = False
        self._record = settings.data_dir / "run" / "demo.json"
        self._earlier = _Record.load(self._record)

    # -- bringing it up ----------------------------------------------------------------------

    def start_broker(self, progress: Callable[[str], None]) -> str:
        """Make sure Kafka answers; start the local broker when it is configured and down.

        Returns a sentence saying which broker is used.
        """
        connection = self.settings.kafka_connection()
        address = connection.bootstrap_servers
        if self.settings.kafka.bootstrap_servers is not None:
            admin_client(connection)  # raises with a hint when it does not answer
            return f"Kafka at {address}"
        broker = LocalBroker(self.settings.broker_config())
        state = broker.status()
        if state.running and state.answering:
            return f"the local broker already running on {address} (pid {state.pid})"
        if not state.running and answers_metadata(address, timeout=5.0):
            return f"the Kafka broker already answering on {address}"
        result = broker.start(progress=progress)
        self.broker_started = not result.already_running
        return f"the local broker on {address}, started in {result.seconds:.1f} s"

    def apply_topics(self) -> ApplyResult:
        """Create the topics that are missing (``tracecode topics apply``)."""
        specs = topic_specs(self.settings.topic_names(), self.settings.topics_config())
        return apply(admin_client(self.settings.kafka_connection()), specs)

    def start_workers(self, count: int) -> list[ServiceProcess]:
        """Workers ``worker-1`` .. ``worker-<count>`` on consecutive web ports."""
        base_port = self.settings.worker.web_port
        workers = []
        for index in range(count):
            name = f"worker-{index + 1}"
            port = base_port + index
            config = self.settings.worker_config(name, port)
            workers.append(
                self._ensure(
                    ServiceKind.WORKER,
                    name,
                    config.web_url,
                    [port],
                    ["worker", "--id", name, "--web-port", str(port)],
                    "TRACECODE_WORKER_WEB_PORT",
                )
            )
        return workers

    def start_sink(self) -> ServiceProcess:
        """The sink, with its query endpoint (embedded store) and metrics."""
        config = self.settings.sink_config()
        ports = [p for p in (config.query_port, config.metrics_port) if p]
        if config.clickhouse.embedded:
            if not config.query_port:
                # chDB admits one process: while the sink runs, its endpoint is the way in.
                raise StackError(
                    "the demo reads the embedded store through the sink's query endpoint, "
                    "which TRACECODE_SINK_QUERY_PORT=0 turns off",
                    hint="set TRACECODE_SINK_QUERY_PORT to a free port",
                )
            url = f"http://127.0.0.1:{config.query_port}"
        elif config.metrics_port:
            url = local_url(config.metrics_host, config.metrics_port, "/metrics")
        else:
            raise StackError(
                "the demo watches a sink with a ClickHouse server through its metrics, which "
                "TRACECODE_SINK_METRICS_PORT=0 turns off",
                hint="set TRACECODE_SINK_METRICS_PORT to a free port",
            )
        return self._ensure(
            ServiceKind.SINK,
            SINK_NAME,
            url,
            ports,
            ["sink"],
            "TRACECODE_SINK_QUERY_PORT / TRACECODE_SINK_METRICS_PORT",
        )

    def start_api(self) -> ServiceProcess:
        """The tracking service (``tracecode api``), reading through the workers and the sink."""
        port = self.settings.api.port
        url = local_url(self.settings.api.host, port)
        return self._ensure(ServiceKind.API, API_NAME, url, [port], ["api"], "TRACECODE_API_PORT")

    def _ensure(
        self,
        kind: ServiceKind,
        name: str,
        url: str,
        ports: list[int],
        arguments: list[str],
        port_settings: str,
    ) -> ServiceProcess:
        running = self.registry.find(kind, name)
        if running is not None:
            service = ServiceProcess(kind, name, url, running.pid)
            logger.info("using a running service", extra={"service": name, "pid": running.pid})
        else:
            for port in ports:
                if not port_is_free(port):
                    raise StackError(
                        f"cannot start the {name}: port {port} on 127.0.0.1 is in use by a "
                        "process that is not a tracecode service of this data folder",
                        hint=f"stop it, or choose other ports with {port_settings}",
                    )
            service = self._spawn(kind, name, url, arguments)
        self.services.append(service)
        return service

    def _spawn(
        self, kind: ServiceKind, name: str, url: str, arguments: list[str]
    ) -> ServiceProcess:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_file = self.log_dir / f"{name}.log"
        command = [sys.executable, "-m", "tracecode", "-v", *arguments]
        with log_file.open("wb") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: Ctrl-C in the terminal reaches the demo, which stops the
                # services in order; with --keep-running they outlive it.
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        logger.info(
            "service started", extra={"service": name, "pid": process.pid, "log": str(log_file)}
        )
        return ServiceProcess(kind, name, url, process.pid, log_file, process, owned=True)

    # -- watching ----------------------------------------------------------------------------

    @property
    def workers(self) -> list[ServiceProcess]:
        return [s for s in self.services if s.kind is ServiceKind.WORKER]

    @property
    def sink(self) -> ServiceProcess | None:
        return next((s for s in self.services if s.kind is ServiceKind.SINK), None)

    @property
    def api(self) -> ServiceProcess | None:
        return next((s for s in self.services if s.kind is ServiceKind.API), None)

    def readiness(self) -> Readiness:
        """Ask every service whether it serves."""
        sink, api = self.sink, self.api
        return Readiness(
            workers={w.name: worker_health(w.url, timeout=2.0) for w in self.workers},
            sink=sink is not None and _sink_answers(sink.url),
            partitions=self.settings.topics.partitions,
            api=api is None or _api_answers(api.url),
        )

    def check_alive(self) -> None:
        """Raise :class:`StackError` (with its log's end) when a service has exited."""
        for service in self.services:
            if service.process is not None:
                code = service.process.poll()
                if code is not None:
                    raise StackError(
                        f"the {service.name} exited with status {code}",
                        log_tail=service.log_tail(),
                        hint=f"full log: {service.log_file}",
                    )
            elif not is_alive(service.pid):
                raise StackError(f"the {service.name} (pid {service.pid}) is gone")

    # -- stopping ----------------------------------------------------------------------------

    def stop(self, timeout: float, hurry: threading.Event | None = None) -> list[str]:
        """Stop what the demo started: services (SIGTERM, SIGKILL after ``timeout`` s or once
        ``hurry`` is set), then the broker if the demo started it. Returns what happened."""
        done: list[str] = []
        owned = [s for s in self.services if s.owned]
        for service in owned:
            service.signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for service in owned:
            while service.running():
                if time.monotonic() >= deadline or (hurry is not None and hurry.is_set()):
                    service.signal(signal.SIGKILL)
                    service.wait_gone(10.0)
                    done.append(f"{service.name} killed")
                    break
                time.sleep(0.1)
            else:
                done.append(f"{service.name} stopped")
        self.services = [s for s in self.services if not s.owned]
        if self.broker_started:
            if LocalBroker(self.settings.broker_config()).stop().was_running:
                done.append("broker stopped")
            self.broker_started = False
        # What an earlier --keep-running demo left stays recorded for `tracecode demo stop`.
        self._write_record(self._earlier.still_running(self.registry))
        return done

    def keep(self) -> None:
        """Record what the demo started (now or in an earlier --keep-running run), so
        ``tracecode demo stop`` can stop it later."""
        earlier = self._earlier.still_running(self.registry)
        started = [(s.kind, s.name, s.pid) for s in self.services if s.owned]
        self._write_record(
            _Record(
                self.broker_started or earlier.broker_started,
                started + [entry for entry in earlier.services if entry not in started],
            )
        )

    @classmethod
    def kept(cls, settings: Settings) -> LocalStack:
        """The stack ``--keep-running`` demos left, as far as it still runs; :meth:`stop`
        stops all of it."""
        stack = cls(settings)
        record, stack._earlier = stack._earlier.still_running(stack.registry), _Record()
        stack.broker_started = record.broker_started
        stack.services = [
            ServiceProcess(kind, name, "", pid, owned=True) for kind, name, pid in record.services
        ]
        return stack

    def _write_record(self, record: _Record) -> None:
        if not record.services and not record.broker_started:
            self._record.unlink(missing_ok=True)
            return
        self._record.parent.mkdir(parents=True, exist_ok=True)
        self._record.write_text(record.to_json())


@dataclass(frozen=True, slots=True)
class _Record:
    """What ``--keep-running`` demos started and left running (``run/demo.json``)."""

    broker_started: bool = False
    services: list[tuple[ServiceKind, str, int]] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> _Record:
        try:
            data = json.loads(path.read_text())
            return cls(
                bool(data["broker_started"]),
                [(ServiceKind(e["kind"]), str(e["name"]), int(e["pid"])) for e in data["services"]],
            )
        except (OSError, ValueError, KeyError, TypeError):
            return cls()

    def to_json(self) -> str:
        services = [{"kind": k.value, "name": n, "pid": p} for k, n, p in self.services]
        return json.dumps({"broker_started": self.broker_started, "services": services})

    def still_running(self, registry: ServiceRegistry) -> _Record:
        """The services that still run as recorded (same pid)."""
        alive = [
            (kind, name, pid)
            for kind, name, pid in self.services
            if (found := registry.find(kind, name)) is not None and found.pid == pid
        ]
        return _Record(self.broker_started, alive)


def _api_answers(url: str) -> bool:
    try:
        return get(f"{url}/health", timeout=2.0).status == 200
    except EndpointError:
        return False


def _sink_answers(url: str) -> bool:
    if url.endswith("/metrics"):
        try:
            return get(url, timeout=2.0).status == 200
        except EndpointError:
            return False
    return endpoint_answers(int(url.rsplit(":", 1)[1]))
