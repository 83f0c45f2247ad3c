"""Builds tracecode with its per-event path compiled by mypyc (docs/performance.md).

The modules in ``COMPILED`` run for every input record of the streams worker; mypyc turns them
into C extensions from the same typed source, which makes that path about 1.4 times faster.
``TRACECODE_BUILD_COMPILED=0`` builds without them (plain Python, no C compiler needed); both
builds behave the same, and ``tracecode worker`` logs which one runs.
"""

from __future__ import annotations

import os

from setuptools import setup

COMPILED = [
    "schemas/_reader.py",
    "schemas/_source.py",
    "schemas/_writer.py",
    "schemas/validation.py",
    "streams/join/deadlines.py",
    "streams/join/merge.py",
    "streams/join/partition.py",
    "streams/join/records.py",
    "streams/join/state_codec.py",
    "streams/join/stored.py",
    "streams/join/transition.py",
]
"""The compiled modules, in one shared library (calls between them stay native)."""


# Not the project's mypy settings: those check every package, with plugins the build environment
# does not have. Imports of dependencies are typed as Any for compiling.
MYPY_OPTIONS = ["--config-file", os.devnull, "--ignore-missing-imports", "--python-version", "3.11"]

if os.environ.get("TRACECODE_BUILD_COMPILED", "1") == "0":
    setup()
else:
    from mypyc.build import mypycify

    setup(
        ext_modules=mypycify(
            [*MYPY_OPTIONS, *COMPILED], opt_level="3", group_name="tracecode_compiled"
        )
    )
