"""Test helpers: unique names, free ports, polling with a deadline."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

RUN_ID = uuid.uuid4().hex[:8]
"""Part of every name this test session creates, so it can delete its topics at the end."""


def unique(prefix: str) -> str:
    """A name no other test run uses (topics, groups, transactional ids)."""
    return f"{prefix}-{RUN_ID}-{uuid.uuid4().hex[:8]}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_for(
    produce: Callable[[], T | None], timeout: float, what: str, interval: float = 0.1
) -> T:
    """Poll ``produce`` until it returns something other than ``None``; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = produce()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
