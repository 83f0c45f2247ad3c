"""The Quix Streams peer's own virtual environment, created on first use.

``ensure_venv()`` makes ``.venv-peers/quix`` at the repository root with ``python3.11 -m venv``
and installs ``requirements-quix.txt`` into it, again from scratch when that file changed (a hash
stamp in the venv): its pins (confluent-kafka below 2.13) clash with the project's. The peer
runs from the repository root, so it imports ``schemas`` and the pure join from the work tree::

    python = ensure_venv()
    subprocess.Popen([python, "-m", "bench.peers.quix_join", ...], cwd=REPO_ROOT)
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
REQUIREMENTS = HERE / "requirements-quix.txt"
VENV = REPO_ROOT / ".venv-peers" / "quix"
_STAMP = VENV / ".requirements.sha256"


def ensure_venv(python: str = "python3.11") -> Path:
    """The peer venv's python executable, after creating the venv if it is missing or stale."""
    executable = VENV / "bin" / "python"
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if executable.exists() and _STAMP.exists() and _STAMP.read_text().strip() == digest:
        return executable
    # From scratch, so a dropped requirement does not linger, nor a half-made venv.
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(VENV)], check=True)
    pip = [str(executable), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)
    # Written last: a failed install leaves no stamp and is retried on the next call.
    _STAMP.write_text(digest + "\n")
    return executable


if __name__ == "__main__":
    print(ensure_venv())
