"""The processes a benchmark measures: started with their log in a file, read from /proc, and
always stopped; the waits on them, bounded and reporting progress."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

_CLOCK_TICK = os.sysconf("SC_CLK_TCK")
_REPORT_EVERY = 10.0
_STARTED = time.monotonic()


class Failure(Exception):
    """A measurement could not be made: a process died, a wait timed out."""


class Timeout(Failure):
    """A wait timed out."""


def say(message: str) -> None:
    """One progress line on stderr, stamped with the time since the benchmark started."""
    elapsed = int(time.monotonic() - _STARTED)
    print(f"[{elapsed // 60:02d}:{elapsed % 60:02d}] {message}", file=sys.stderr, flush=True)


class Process:
    """A subprocess with its output in ``log``; stopped (SIGTERM, then SIGKILL) on exit of its
    ``with`` block."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        log: Path,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.log = log
        with log.open("wb") as out:
            self._popen = subprocess.Popen(
                list(argv), env=dict(env), cwd=cwd, stdout=out, stderr=subprocess.STDOUT
            )
        self.killed = False

    def check(self) -> None:
        """Raise :class:`Failure`, with the end of the log, if the process has exited."""
        status = self._popen.poll()
        if status is not None:
            raise Failure(
                f"{self.name} exited with status {status}; the end of its log ({self.log}):\n"
                + self.tail()
            )

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def cpu_seconds(self) -> float:
        """User + system CPU time the process has used so far."""
        stat = Path(f"/proc/{self._popen.pid}/stat").read_text()
        # The command name (field 2) may hold spaces: count the fields after it.
        fields = stat.rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICK

    def peak_rss(self) -> int:
        """The process's peak resident set size (VmHWM), in bytes."""
        for line in Path(f"/proc/{self._popen.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise Failure(f"no VmHWM in /proc/{self._popen.pid}/status")

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; the exit status."""
        if self._popen.poll() is None:
            self._popen.send_signal(signal.SIGTERM)
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.killed = True
                self._popen.kill()
                self._popen.wait(30)
        return self._popen.returncode

    def __enter__(self) -> Process:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class CpuTrace(threading.Thread):
    """Samples a process's CPU time ten times a second, so the CPU it used from any moment on
    can be read afterwards (the moment a join started processing is only known later)."""

    def __init__(self, process: Process, interval: float = 0.1) -> None:
        super().__init__(name=f"cpu-{process.name}", daemon=True)
        self._process = process
        self._interval = interval
        self._stopping = threading.Event()
        self._samples: list[tuple[float, float]] = [(time.time(), 0.0)]

    def run(self) -> None:
        while not self._stopping.wait(self._interval):
            self.sample()

    def sample(self) -> float:
        """Take a sample now; the CPU seconds used so far."""
        try:
            cpu = self._process.cpu_seconds()
        except OSError:  # gone: its last sample stands
            return self._samples[-1][1]
        self._samples.append((time.time(), cpu))
        return cpu

    def at(self, moment: float) -> float:
        """CPU seconds used by ``moment`` (Unix time), interpolated between samples."""
        before = max((s for s in self._samples if s[0] <= moment), default=self._samples[0])
        after = min((s for s in self._samples if s[0] >= moment), default=self._samples[-1])
        if after[0] <= before[0]:
            return before[1]
        return before[1] + (after[1] - before[1]) * (moment - before[0]) / (after[0] - before[0])

    def close(self) -> None:
        self._stopping.set()
        self.join(5)


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    watch: Sequence[Process] = (),
    progress: Callable[[], str] | None = None,
    interval: float = 0.25,
) -> float:
    """Poll ``condition`` until it holds; returns the Unix time it was seen to.

    Raises :class:`Timeout` when ``timeout`` seconds pass first, :class:`Failure` when a
    process of ``watch`` exits. ``progress`` is reported every 10 s, so a person sees the wait
    is alive.
    """
    deadline = time.monotonic() + timeout
    report_at = time.monotonic() + _REPORT_EVERY
    while True:
        for process in watch:
            process.check()
        if condition():
            return time.time()
        now = time.monotonic()
        if now > deadline:
            where = f" ({progress()})" if progress is not None else ""
            raise Timeout(f"timed out after {timeout:.0f} s waiting for {what}{where}")
        if progress is not None and now >= report_at:
            say(f"  {what}: {progress()}")
            report_at = now + _REPORT_EVERY
        time.sleep(interval)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
