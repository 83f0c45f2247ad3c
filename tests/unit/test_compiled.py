"""The report of compiled modules, and the check that catches a stale in-place build."""

from __future__ import annotations

import importlib.machinery
import os
import sys
from pathlib import Path

import streams.join.transition
from tracecode.compiled import compiled_modules, stale_modules

SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def _tree(root: Path, source_mtime: float, compiled_mtime: float) -> None:
    (root / "setup.py").write_text("")
    package = root / "streams" / "join"
    package.mkdir(parents=True)
    source, compiled = package / "transition.py", package / f"transition{SUFFIX}"
    source.write_text("")
    compiled.write_bytes(b"")
    os.utime(source, (source_mtime, source_mtime))
    os.utime(compiled, (compiled_mtime, compiled_mtime))


def test_a_source_edited_after_it_was_compiled_is_stale(tmp_path: Path) -> None:
    _tree(tmp_path, source_mtime=2_000, compiled_mtime=1_000)
    assert stale_modules(tmp_path) == [Path("streams/join/transition.py")]


def test_a_module_compiled_after_its_last_edit_is_not_stale(tmp_path: Path) -> None:
    _tree(tmp_path, source_mtime=1_000, compiled_mtime=2_000)
    assert stale_modules(tmp_path) == []


def test_an_installed_copy_is_never_stale(tmp_path: Path) -> None:
    # site-packages has no setup.py, and a wheel writes its files in any order.
    _tree(tmp_path, source_mtime=2_000, compiled_mtime=1_000)
    (tmp_path / "setup.py").unlink()
    assert stale_modules(tmp_path) == []


def test_compiled_modules_names_what_was_loaded_from_an_extension() -> None:
    compiled = str(streams.join.transition.__file__).endswith(SUFFIX)
    assert ("streams.join.transition" in compiled_modules()) is compiled
    assert "tests.unit.test_compiled" not in compiled_modules()
    assert all(name.split(".")[0] != "tests" for name in compiled_modules())
    assert sys.modules["streams.join.transition"] is streams.join.transition
