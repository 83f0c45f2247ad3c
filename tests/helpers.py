"""Test helpers: unique names, free ports, polling with a deadline."""

from __future__ import annotations

import random
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

RUN_ID = uuid.uuid4().hex[:8]
"""Part of every name this test session creates, so it can delete its topics at the end."""


def unique(prefix: str) -> str:
    """A name no other test run uses (topics, groups, transactional ids)."""
    return f"{prefix}-{RUN_ID}-{uuid.uuid4().hex[:8]}"


def _ephemeral_range() -> range:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    except (OSError, ValueError):
        return range(32768, 61000)
    return range(int(low), int(high) + 1)


_EPHEMERAL = _ephemeral_range()
_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    Drawn below the kernel's ephemeral range: a port the kernel picks for ``bind(0)`` may be
    taken as the local end of an outgoing connection (a Kafka client's, say) before the server
    it was meant for binds it. Never the same port twice in one session.
    """
    candidates = [port for port in range(20000, _EPHEMERAL.start) if port not in _handed_out] or [
        port for port in range(10000, 20000) if port not in _handed_out
    ]
    random.shuffle(candidates)
    for port in candidates:
        if port_is_free(port):
            _handed_out.add(port)
            return port
    raise RuntimeError("no free TCP port below the ephemeral range on 127.0.0.1")


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
