"""Process helpers the broker, the demo and the tests stop services with."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tracecode.processes import is_alive, wait_until


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]


def test_a_running_process_is_alive() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert is_alive(child.pid)
    finally:
        child.kill()
        child.wait()


def test_an_exited_child_seen_as_a_zombie_is_gone_and_reaped() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    # Not reaped by anyone yet: the child stays a zombie until is_alive looks at it.
    assert wait_until(lambda: _state(child.pid) == "Z", 10.0)

    assert is_alive(child.pid) is False
    with pytest.raises(ProcessLookupError):
        os.kill(child.pid, 0)
    child.wait(timeout=10)


def test_a_pid_nobody_has_is_not_alive() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert is_alive(child.pid) is False
