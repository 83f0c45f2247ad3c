"""A local single-node Apache Kafka broker (KRaft) for development, tests, CI and the demo.

The broker's jars (``org.apache.kafka:kafka_2.13`` and its runtime dependencies) are resolved from
Maven Central with Maven into the user cache, once per Kafka version. The broker runs as a
background JVM with its files under ``<data dir>/kafka``::

    server.properties   generated on every start (ports may change between runs)
    log4j2.properties   the broker's logging: logs/server.log, rotated
    broker.json         pid file: pid, version and ports of the running broker
    data/               KRaft metadata and topic data (formatted once)
    logs/server.log     the broker's log; logs/jvm.log has what the JVM printed itself

The broker listens on 127.0.0.1 only: it has no authentication.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import functools
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient

from tracecode.errors import TracecodeError
from tracecode.processes import (
    command_line,
    is_alive,
    port_is_free,
    wait_for_exit,
    wait_until,
)

logger = logging.getLogger(__name__)

KAFKA_VERSION = "4.4.0"
"""The pinned Apache Kafka version (docs/kafka-version.md says why)."""
SCALA_VERSION = "2.13"
LOG4J_VERSION = "2.25.5"
"""The log4j the pinned Kafka depends on; its SLF4J binding is not a dependency of kafka_2.13."""
MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
MIN_JAVA_VERSION = 17
HOST = "127.0.0.1"
NODE_ID = 1


class BrokerError(TracecodeError):
    """The local broker could not be resolved, started or stopped."""


class JavaNotFoundError(BrokerError):
    """No ``java`` executable in ``JAVA_HOME`` or on ``PATH``."""


class JavaVersionError(BrokerError):
    """The ``java`` found is older than the broker needs."""


class MavenNotFoundError(BrokerError):
    """No ``mvn`` on ``PATH`` while the broker's jars still have to be resolved."""


class MavenResolutionError(BrokerError):
    """Maven could not resolve the broker's jars; ``essence`` holds Maven's own error."""

    def __init__(self, message: str, *, essence: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.essence = essence


class PortInUseError(BrokerError):
    """A port the broker needs is taken by another process."""

    def __init__(self, message: str, *, port: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.port = port


class BrokerStartError(BrokerError):
    """The broker exited or did not answer while starting; ``log_tail`` shows why."""

    def __init__(self, message: str, *, log_tail: list[str], hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.log_tail = log_tail


class BrokerStopError(BrokerError):
    """The broker's ports stayed taken after it was stopped."""


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    """Where the local broker keeps its files and how it runs."""

    data_dir: Path
    """The broker's own folder (``<TRACECODE_DATA_DIR>/kafka``)."""
    cache_dir: Path
    """Resolved jars go to ``<cache_dir>/<kafka version>/libs``."""
    port: int = 9092
    controller_port: int = 9093
    heap: str = "512m"
    """Maximum JVM heap (``-Xmx``)."""
    start_timeout: float = 120.0
    """Seconds to wait for the broker to answer a metadata request."""
    stop_timeout: float = 30.0
    """Seconds to wait after SIGTERM before SIGKILL."""
    kafka_version: str = KAFKA_VERSION

    @property
    def bootstrap_servers(self) -> str:
        """The address clients connect to."""
        return f"{HOST}:{self.port}"


@dataclass(frozen=True, slots=True)
class StartResult:
    """What :meth:`LocalBroker.start` did."""

    already_running: bool
    pid: int
    seconds: float
    """From launching the JVM to the first answered metadata request (0 if already running)."""


@dataclass(frozen=True, slots=True)
class StopResult:
    """What :meth:`LocalBroker.stop` did."""

    was_running: bool
    pid: int | None = None
    seconds: float = 0.0
    killed: bool = False
    """True when the broker ignored SIGTERM for ``stop_timeout`` and got SIGKILL."""


@dataclass(frozen=True, slots=True)
class BrokerStatus:
    """The local broker as seen from its pid file and a metadata request."""

    running: bool
    answering: bool
    pid: int | None
    kafka_version: str
    bootstrap_servers: str
    data_dir: Path
    log_file: Path


@dataclass(frozen=True, slots=True)
class _State:
    """Contents of the pid file."""

    pid: int
    kafka_version: str
    port: int
    controller_port: int


class LocalBroker:
    """Resolve, start, stop and inspect the local broker described by a :class:`BrokerConfig`."""

    def __init__(self, config: BrokerConfig) -> None:
        self.config = config
        self.data_dir = config.data_dir
        self.log_file = config.data_dir / "logs" / "server.log"
        self.jvm_log_file = config.data_dir / "logs" / "jvm.log"
        self._state_file = config.data_dir / "broker.json"
        self._properties_file = config.data_dir / "server.properties"
        self._log4j_file = config.data_dir / "log4j2.properties"
        self._storage_dir = config.data_dir / "data"
        self._version_dir = config.cache_dir / config.kafka_version
        self.libs_dir = self._version_dir / "libs"
        # Held so the child is reaped (and not reported as leaked) when started in-process.
        self._process: subprocess.Popen[bytes] | None = None

    # -- resolution --------------------------------------------------------------------------

    def is_resolved(self) -> bool:
        """Whether the jars of the configured Kafka version are in the cache."""
        return (self._version_dir / "complete").is_file()

    def resolve(self) -> Path:
        """Make sure the broker's jars are cached and return their folder.

        Raises :class:`MavenNotFoundError` or :class:`MavenResolutionError`.
        """
        if self.is_resolved():
            return self.libs_dir
        mvn = shutil.which("mvn")
        if mvn is None:
            raise MavenNotFoundError(
                f"Maven (mvn) is not on PATH; it is needed once to fetch Kafka "
                f"{self.config.kafka_version}'s jars into {self._version_dir}",
                hint="install Maven (Debian: apt-get install maven) and run again",
            )
        self._version_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        # Resolve into a private folder and rename: another process may resolve the same
        # version at the same time, and a half-copied libs/ must never look complete.
        with tempfile.TemporaryDirectory(dir=self._version_dir, prefix=".resolve-") as tmp:
            pom = Path(tmp) / "pom.xml"
            pom.write_text(_pom(self.config.kafka_version))
            libs = Path(tmp) / "libs"
            command = [
                mvn,
                "--batch-mode",
                "--quiet",
                "-Dstyle.color=never",
                "--file",
                str(pom),
                f"{MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={libs}",
            ]
            logger.info("resolving kafka jars", extra={"kafka_version": self.config.kafka_version})
            completed = subprocess.run(
                command, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
            )
            if completed.returncode != 0:
                essence = maven_error_essence(completed.stdout + completed.stderr)
                raise MavenResolutionError(
                    f"Maven could not resolve org.apache.kafka:kafka_{SCALA_VERSION}:"
                    f"{self.config.kafka_version}: {essence}",
                    essence=essence,
                    hint="check the network path to Maven Central and ~/.m2/settings.xml",
                )
            with contextlib.suppress(OSError):
                # A concurrent resolver that finished first leaves a non-empty libs/ here.
                libs.rename(self.libs_dir)
        (self._version_dir / "complete").touch()
        logger.info(
            "resolved kafka jars",
            extra={
                "kafka_version": self.config.kafka_version,
                "jars": len(list(self.libs_dir.glob("*.jar"))),
                "seconds": round(time.monotonic() - started, 1),
            },
        )
        return self.libs_dir

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, progress: Callable[[str], None] | None = None) -> StartResult:
        """Start the broker and return once it answers a metadata request.

        A broker already running from this data folder is left alone
        (``StartResult.already_running``). ``progress`` is called with a short description of
        each step. Raises :class:`JavaNotFoundError`, :class:`JavaVersionError`,
        :class:`PortInUseError`, :class:`MavenNotFoundError`, :class:`MavenResolutionError` or
        :class:`BrokerStartError`.
        """
        report = progress or (lambda _step: None)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._lock():
            state = self._live_state()
            if state is not None:
                return StartResult(already_running=True, pid=state.pid, seconds=0.0)
            java = find_java()
            check_java_version(java)
            for port in (self.config.port, self.config.controller_port):
                ensure_port_free(port)
            if not self.is_resolved():
                report(f"Resolving Kafka {self.config.kafka_version} with Maven (first run only)")
            libs = self.resolve()
            self._write_configs()
            if not (self._storage_dir / "meta.properties").exists():
                report("Formatting KRaft storage")
            self._format_storage(java, libs)
            report(f"Starting Kafka {self.config.kafka_version} on {self.config.bootstrap_servers}")
            return self._launch(java, libs)

    def stop(self) -> StopResult:
        """Stop the broker: SIGTERM, then SIGKILL after ``stop_timeout``; wait for its ports.

        Raises :class:`BrokerStopError` when the ports stay taken afterwards.
        """
        if not self.data_dir.is_dir():
            return StopResult(was_running=False)
        with self._lock():
            state = self._live_state()
            if state is None:
                self._state_file.unlink(missing_ok=True)
                return StopResult(was_running=False)
            started = time.monotonic()
            os.kill(state.pid, signal.SIGTERM)
            killed = not wait_for_exit(state.pid, self.config.stop_timeout)
            if killed:
                logger.warning(
                    "broker ignored SIGTERM, killing it",
                    extra={"pid": state.pid, "timeout_s": self.config.stop_timeout},
                )
                with contextlib.suppress(ProcessLookupError):
                    os.kill(state.pid, signal.SIGKILL)
                wait_for_exit(state.pid, 10.0)
            if self._process is not None and self._process.pid == state.pid:
                self._process.wait()
                self._process = None
            self._state_file.unlink(missing_ok=True)
            for port in (state.port, state.controller_port):
                if not wait_until(functools.partial(port_is_free, port), 15.0):
                    raise BrokerStopError(
                        f"the broker (pid {state.pid}) stopped but port {port} is still taken",
                        hint=f"see what holds it: ss -ltnp 'sport = :{port}'",
                    )
            seconds = time.monotonic() - started
            logger.info("broker stopped", extra={"pid": state.pid, "killed": killed})
            return StopResult(was_running=True, pid=state.pid, seconds=seconds, killed=killed)

    def status(self) -> BrokerStatus:
        """Whether the broker runs (pid file and process) and answers a metadata request."""
        state = self._live_state() if self.data_dir.is_dir() else None
        port = state.port if state else self.config.port
        bootstrap = f"{HOST}:{port}"
        return BrokerStatus(
            running=state is not None,
            answering=state is not None and answers_metadata(bootstrap, timeout=5.0),
            pid=state.pid if state else None,
            kafka_version=state.kafka_version if state else self.config.kafka_version,
            bootstrap_servers=bootstrap,
            data_dir=self.data_dir,
            log_file=self.log_file,
        )

    # -- logs --------------------------------------------------------------------------------

    def tail_log(self, lines: int = 50) -> list[str]:
        """The last ``lines`` lines of the broker log (empty when there is no log yet)."""
        return _tail(self.log_file, lines)

    def follow_log(self, poll_interval: float = 0.5) -> Iterator[str]:
        """Yield the lines appended to the broker log from now on, forever; follows rotation."""
        # Taken now, not at the first next(): lines written in between must not be skipped.
        stat = self.log_file.stat() if self.log_file.exists() else None
        return self._follow(
            stat.st_ino if stat else None, stat.st_size if stat else 0, poll_interval
        )

    def _follow(self, inode: int | None, position: int, poll_interval: float) -> Iterator[str]:
        pending = ""
        while True:
            if not self.log_file.exists():
                time.sleep(poll_interval)
                continue
            stat = self.log_file.stat()
            if stat.st_ino != inode or stat.st_size < position:
                inode, position, pending = stat.st_ino, 0, ""
            if stat.st_size > position:
                with self.log_file.open("r", errors="replace") as log:
                    log.seek(position)
                    chunk = log.read()
                    position = log.tell()
                *complete, pending = (pending + chunk).split("\n")
                yield from complete
            else:
                time.sleep(poll_interval)

    # -- internals ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Serialize start/stop of one data folder across processes."""
        with (self.data_dir / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _live_state(self) -> _State | None:
        """The pid file's state if that process is alive and is this folder's broker."""
        try:
            raw = json.loads(self._state_file.read_text())
            state = _State(
                pid=int(raw["pid"]),
                kafka_version=str(raw["kafka_version"]),
                port=int(raw["port"]),
                controller_port=int(raw["controller_port"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not is_alive(state.pid):
            return None
        # The pid may have been reused by an unrelated process since the broker died.
        if str(self._properties_file) not in command_line(state.pid):
            return None
        return state

    def _write_configs(self) -> None:
        self._storage_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._properties_file.write_text(
            server_properties(self.config.port, self.config.controller_port, self._storage_dir)
        )
        self._log4j_file.write_text(_log4j_properties(self.log_file))

    def _java_command(self, java: str, libs: Path, main_class: str, *args: str) -> list[str]:
        return [
            java,
            f"-Xmx{self.config.heap}",
            "-Xms64m",
            # Kafka's own start scripts use G1 with short pauses.
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self._log4j_file}",
            "-cp",
            f"{libs}/*",
            main_class,
            *args,
        ]

    def _format_storage(self, java: str, libs: Path) -> None:
        """Format KRaft storage the first time; an existing ``meta.properties`` is kept."""
        if (self._storage_dir / "meta.properties").exists():
            return
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        command = self._java_command(
            java,
            libs,
            "kafka.tools.StorageTool",
            "format",
            # One argument: a random id may start with "-", which would read as an option.
            f"--cluster-id={cluster_id}",
            "--config",
            str(self._properties_file),
            "--ignore-formatted",
        )
        completed = subprocess.run(
            command, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
        )
        if completed.returncode != 0:
            output = (completed.stdout + completed.stderr).strip().splitlines()
            raise BrokerStartError(
                f"formatting KRaft storage in {self._storage_dir} failed",
                log_tail=output[-20:],
                hint=f"remove {self._storage_dir} to start from empty storage",
            )
        logger.info("formatted kraft storage", extra={"cluster_id": cluster_id})

    def _launch(self, java: str, libs: Path) -> StartResult:
        command = self._java_command(java, libs, "kafka.Kafka", str(self._properties_file))
        log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        started = time.monotonic()
        with self.jvm_log_file.open("a") as jvm_log:
            # A new session keeps the broker alive when the starting terminal gets Ctrl-C.
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=jvm_log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,
            )
        self._process = process
        self._state_file.write_text(
            json.dumps(
                {
                    "pid": process.pid,
                    "kafka_version": self.config.kafka_version,
                    "port": self.config.port,
                    "controller_port": self.config.controller_port,
                }
            )
        )
        deadline = started + self.config.start_timeout
        while time.monotonic() < deadline:
            code = process.poll()
            if code is not None:
                self._state_file.unlink(missing_ok=True)
                raise BrokerStartError(
                    f"the broker exited with code {code} while starting",
                    log_tail=self._failure_tail(log_offset),
                    hint=f"full log: {self.log_file}",
                )
            if answers_metadata(self.config.bootstrap_servers, timeout=2.0):
                seconds = time.monotonic() - started
                logger.info(
                    "broker started",
                    extra={"pid": process.pid, "port": self.config.port, "seconds": seconds},
                )
                return StartResult(already_running=False, pid=process.pid, seconds=seconds)
            time.sleep(0.2)
        process.kill()
        process.wait()
        self._state_file.unlink(missing_ok=True)
        raise BrokerStartError(
            f"the broker did not answer within {self.config.start_timeout:.0f} s and was killed",
            log_tail=self._failure_tail(log_offset),
            hint="the machine may be overloaded: raise TRACECODE_BROKER_START_TIMEOUT",
        )

    def _failure_tail(self, log_offset: int) -> list[str]:
        """What explains a failed start: the first error this start logged, else the log's end."""
        log = _read_from(self.log_file, log_offset)
        for index, line in enumerate(log):
            if " ERROR " in line or " FATAL " in line:
                # Keep the exception's message, not the stack frames after it.
                explanation = [line]
                for following in log[index + 1 : index + 10]:
                    if following.lstrip().startswith("at ") or following.startswith("["):
                        break
                    explanation.append(following)
                return explanation
        return _tail(self.jvm_log_file, 20) or log[-20:]


def server_properties(port: int, controller_port: int, storage_dir: Path) -> str:
    """The broker's ``server.properties``: one KRaft node, loopback only."""
    settings = {
        "process.roles": "broker,controller",
        "node.id": str(NODE_ID),
        "controller.quorum.voters": f"{NODE_ID}@{HOST}:{controller_port}",
        "listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(storage_dir),
        # One node: every internal topic must live with a single replica, or consumer
        # groups, transactions (exactly-once) and share groups cannot work.
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        # Nobody else is joining: do not hold the first rebalance back for 3 s.
        "group.initial.rebalance.delay.ms": "0",
        # Topics come from `tracecode topics apply` (and Faust's declared internal topics); a
        # misspelt name must fail instead of creating a one-partition topic that breaks
        # co-partitioning.
        "auto.create.topics.enable": "false",
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def _log4j_properties(log_file: Path) -> str:
    return f"""\
status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = {log_file}
appender.file.filePattern = {log_file}.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
"""


def _pom(kafka_version: str) -> str:
    return f"""\
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.tracecode.local</groupId>
  <artifactId>kafka-broker-runtime</artifactId>
  <version>{kafka_version}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_{SCALA_VERSION}</artifactId>
      <version>{kafka_version}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>{LOG4J_VERSION}</version>
    </dependency>
  </dependencies>
</project>
"""


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def maven_error_essence(output: str) -> str:
    """The line of Maven's output that says what failed, without Maven's decorations."""
    lines = [_ANSI.sub("", line).strip() for line in output.splitlines()]
    errors = [line.removeprefix("[ERROR]").strip() for line in lines if line.startswith("[ERROR]")]
    errors = [line for line in errors if line]
    if not errors:
        meaningful = [line for line in lines if line]
        return meaningful[-1] if meaningful else "Maven failed without output"
    essence = errors[0].removesuffix("-> [Help 1]").strip()
    # "Failed to execute goal ... on project ...: <the actual reason>" -- keep the reason.
    marker = re.search(r"Could not (resolve|find|transfer)", essence)
    if marker:
        essence = essence[marker.start() :]
    return essence


def find_java() -> str:
    """``$JAVA_HOME/bin/java`` when JAVA_HOME is set, else ``java`` from PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if os.access(candidate, os.X_OK):
            return str(candidate)
        raise JavaNotFoundError(
            f"JAVA_HOME is {java_home} but {candidate} is not an executable",
            hint="point JAVA_HOME at a Java 17+ installation or unset it",
        )
    java = shutil.which("java")
    if java is None:
        raise JavaNotFoundError(
            "Java is not installed: no java on PATH and JAVA_HOME is not set",
            hint=f"install Java {MIN_JAVA_VERSION}+ "
            "(Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME",
        )
    return java


def java_major_version(version_output: str) -> int | None:
    """The major version from ``java -version`` output (``"17.0.15"`` -> 17, ``"1.8"`` -> 8)."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if match is None:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2):
        return int(match.group(2))
    return major


def check_java_version(java: str) -> None:
    """Raise :class:`JavaVersionError` unless ``java`` is at least Java 17."""
    completed = subprocess.run(
        [java, "-version"], capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
    )
    major = java_major_version(completed.stderr + completed.stdout)
    if major is None or major < MIN_JAVA_VERSION:
        found = f"Java {major}" if major else "an unknown Java version"
        raise JavaVersionError(
            f"Kafka {KAFKA_VERSION} needs Java {MIN_JAVA_VERSION}+, but {java} is {found}",
            hint=f"set JAVA_HOME to a Java {MIN_JAVA_VERSION}+ installation",
        )


def ensure_port_free(port: int) -> None:
    """Raise :class:`PortInUseError` when ``port`` on 127.0.0.1 cannot be bound."""
    if not port_is_free(port):
        raise PortInUseError(
            f"port {port} on {HOST} is already in use by another process",
            port=port,
            hint=f"stop that process (ss -ltnp 'sport = :{port}' shows it) or choose other "
            "ports with TRACECODE_BROKER_PORT and TRACECODE_BROKER_CONTROLLER_PORT",
        )


def answers_metadata(bootstrap_servers: str, timeout: float) -> bool:
    """Whether a broker at ``bootstrap_servers`` answers a metadata request within ``timeout``."""
    host, _, port = bootstrap_servers.split(",", maxsplit=1)[0].rpartition(":")
    # A plain connect first: librdkafka would log every refused connection while waiting.
    try:
        with socket.create_connection((host, int(port)), timeout=min(timeout, 1.0)):
            pass
    except (OSError, ValueError):
        return False
    config: dict[str, Any] = {"bootstrap.servers": bootstrap_servers, "logger": _librdkafka_logger}
    admin = AdminClient(config)
    try:
        admin.list_topics(timeout=timeout)
    except Exception:  # any KafkaException or timeout means "not yet"
        return False
    return True


_librdkafka_logger = logging.getLogger(f"{__name__}.librdkafka")


def _read_from(path: Path, offset: int) -> list[str]:
    """The lines of ``path`` after byte ``offset`` (all of them if the file was rotated since)."""
    try:
        with path.open("rb") as handle:
            if handle.seek(0, os.SEEK_END) >= offset:
                handle.seek(offset)
            else:
                handle.seek(0)
            return handle.read().decode(errors="replace").splitlines()
    except FileNotFoundError:
        return []


def _tail(path: Path, lines: int) -> list[str]:
    try:
        with path.open("r", errors="replace") as handle:
            return [line.rstrip("\n") for line in deque(handle, maxlen=lines)]
    except FileNotFoundError:
        return []
