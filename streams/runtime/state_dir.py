"""The worker's own folder: its RocksDB tables, a lock, and the clean-shutdown marker.

RocksDB is written as events are processed, before their transaction commits; after a crash
the folder can hold state changes that Kafka aborted, and the join (which ignores events it has
already applied) would then never emit their outputs. So the tables are trusted only after a
clean stop, which leaves a marker; without it they are deleted and Faust rebuilds them from the
changelog topic, reading committed records only. Kafka Streams treats its state stores the
same way under exactly-once.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
from pathlib import Path
from types import TracebackType

logger = logging.getLogger(__name__)

_MARKER = "clean-shutdown"
_LOCK = "worker.lock"


class StateDirLockedError(RuntimeError):
    """Another worker process uses the same state folder."""


class StateDir:
    """Guards a worker's state folder for the lifetime of one worker process."""

    def __init__(self, path: Path, tables: Path) -> None:
        self.path = path
        self.tables = tables
        """Where Faust keeps the RocksDB databases (inside :attr:`path`)."""
        self._lock_fd: int | None = None

    def __enter__(self) -> StateDir:
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StateDirLockedError(
                f"{self.path} is in use by another worker: give each worker its own state "
                "folder (and worker id)"
            ) from None
        self._lock_fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None

    def open_tables(self) -> bool:
        """Make the tables safe to open; ``True`` when they were deleted after a crash."""
        marker = self.path / _MARKER
        wiped = False
        if self.tables.exists() and not marker.exists():
            logger.warning(
                "the last run did not stop cleanly: rebuilding the tables from the changelog",
                extra={"tables": str(self.tables)},
            )
            shutil.rmtree(self.tables)
            wiped = True
        marker.unlink(missing_ok=True)
        return wiped

    def mark_clean(self) -> None:
        """Record that every state change in the tables was committed (the worker stopped)."""
        (self.path / _MARKER).touch()
