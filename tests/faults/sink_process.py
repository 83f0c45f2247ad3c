"""The real sink service in a process of its own, with its fault hook driven by files.

``python -m tests.faults.sink_process CONTROL_DIR`` runs :class:`sinks.service.Sink` from the
``TRACECODE_*`` environment, exactly as ``tracecode sink`` builds it, plus a fault hook that a
test steers from outside the process by creating files in ``CONTROL_DIR``:

- ``fail-inserts``: every insert fails as an unreachable ClickHouse would, until removed;
- ``crash-after-insert``: the process dies (exit status 137, like ``kill -9``) right after
  ClickHouse acknowledged a batch and before the batch is marked done or offsets committed;
  the file is removed first, so the restarted sink runs normally.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from sinks.batching import Batch
from sinks.config import FaultHook, FaultPoint
from sinks.service import Sink
from tracecode.logs import configure_logging
from tracecode.settings import load_settings

FAIL_INSERTS = "fail-inserts"
CRASH_AFTER_INSERT = "crash-after-insert"
CRASHED = "crashed"
"""Written by the process just before it dies at ``crash-after-insert``."""


def fault_hook(control: Path) -> FaultHook:
    def hook(point: FaultPoint, batch: Batch) -> None:
        if point is FaultPoint.BEFORE_INSERT and (control / FAIL_INSERTS).exists():
            raise ConnectionError("ClickHouse unreachable (injected)")
        if point is FaultPoint.AFTER_INSERT:
            trigger = control / CRASH_AFTER_INSERT
            try:
                trigger.unlink()
            except FileNotFoundError:
                return
            (control / CRASHED).write_text(f"{batch}\n")
            os._exit(137)

    return hook


def main(control: Path) -> int:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    config = dataclasses.replace(settings.sink_config(), fault_hook=fault_hook(control))
    service = Sink(config)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        service.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    service.run()
    logging.getLogger(__name__).info("sink stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
