"""Which of tracecode's modules run compiled by mypyc, and whether an in-place build is stale.

``setup.py`` compiles the worker's per-event path. A regular install carries the compiled
modules in site-packages; an editable install (``pip install -e .``, ``make venv``) writes them
beside their source, and Python then loads the compiled file even after the source changed:
until the project is installed again, an edited module would not run. :func:`stale_modules`
finds those, so the tests and the worker can say so instead of running old code.
"""

from __future__ import annotations

import importlib.machinery
import sys
from pathlib import Path

PACKAGES = ("schemas", "producers", "streams", "sinks", "tracecode")
"""The project's top-level packages."""

_SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES)
_ROOT = Path(__file__).resolve().parent.parent


def compiled_modules() -> list[str]:
    """The project's modules imported so far that were loaded from compiled extensions."""
    return sorted(
        name
        for name, module in list(sys.modules.items())
        if name.split(".", 1)[0] in PACKAGES
        and str(getattr(module, "__file__", None) or "").endswith(_SUFFIXES)
    )


def stale_modules(root: Path = _ROOT) -> list[Path]:
    """Sources under ``root``'s packages edited after their in-place compiled module was built
    (none outside a source tree: a regular install writes sources and modules in any order)."""
    if not (root / "setup.py").exists():
        return []
    stale = []
    for package in PACKAGES:
        for suffix in _SUFFIXES:
            for extension in sorted((root / package).rglob(f"*{suffix}")):
                source = extension.with_name(extension.name[: -len(suffix)] + ".py")
                if source.exists() and source.stat().st_mtime > extension.stat().st_mtime:
                    stale.append(source.relative_to(root))
    return stale


STALE_HINT = "install the project again to compile them (`make venv`, or `pip install -e .`)"
