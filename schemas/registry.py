"""Every released version of every record schema, and lookup by fingerprint.

Releases live in ``schemas/avro/v<N>/``, each holding the full set of ``.avsc`` files of that
release (``<namespace>.<Name>.avsc``; shared named types in their own files, resolved by
``fastavro.schema.load_schema`` from the same folder). The highest ``N`` is the current release:
writers use it, readers resolve every older release into it.

The fingerprint is the CRC-64-AVRO (Rabin) fingerprint of the schema's Parsing Canonical Form,
as the Avro spec's single-object encoding defines it, in the 8-byte little-endian order the wire
carries. fastavro's ``fingerprint(..., "CRC-64-AVRO")`` returns the hex of exactly those bytes
(checked against the Avro project's test vectors in the tests). The canonical form drops docs,
defaults and aliases, so a record unchanged between releases keeps its fingerprint.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastavro.schema import fingerprint, load_schema, to_parsing_canonical_form

from schemas.records import RecordType

AVRO_ROOT = Path(__file__).parent / "avro"
"""The folder holding one sub-folder per release."""

_RELEASE = re.compile(r"v([1-9][0-9]*)")


@dataclass(frozen=True, slots=True, eq=False)
class SchemaVersion:
    """One record type's schema as of one release."""

    record_type: RecordType
    release: str
    """The first release that holds this exact schema (``v1``, ``v2``, ...)."""
    schema: dict[str, Any]
    """The parsed schema (fastavro), named types inlined."""
    canonical_form: str
    fingerprint: bytes
    """CRC-64-AVRO of the canonical form, 8 bytes little-endian (as on the wire)."""


class SchemaRegistry:
    """The schemas of all releases found under one root folder, parsed once."""

    def __init__(self, root: Path = AVRO_ROOT) -> None:
        releases = sorted(
            (int(match.group(1)), path.name)
            for path in root.iterdir()
            if path.is_dir() and (match := _RELEASE.fullmatch(path.name))
        )
        if not releases:
            raise FileNotFoundError(f"no schema release folders (v1, v2, ...) under {root}")
        self.root = root
        self.releases: tuple[str, ...] = tuple(name for _, name in releases)
        """Release names, oldest first."""
        self._versions: dict[RecordType, list[SchemaVersion]] = {rt: [] for rt in RecordType}
        self._per_release: dict[RecordType, list[SchemaVersion]] = {rt: [] for rt in RecordType}
        self._by_fingerprint: dict[bytes, SchemaVersion] = {}
        for release in self.releases:
            _check_file_names(root / release)
            for record_type in RecordType:
                path = root / release / f"{record_type.value}.avsc"
                if path.exists():
                    self._add(record_type, release, path)
        current = root / self.current_release
        missing = [rt.value for rt in RecordType if not (current / f"{rt.value}.avsc").exists()]
        if missing:
            raise FileNotFoundError(
                f"current schema release {self.current_release} under {root} lacks {missing}"
            )

    def _add(self, record_type: RecordType, release: str, path: Path) -> None:
        schema = load_schema(str(path))
        if not isinstance(schema, dict):
            raise TypeError(f"{path} must hold a record schema, found {schema!r:.80}")
        canonical = to_parsing_canonical_form(schema)
        fp = bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))
        this_release = SchemaVersion(record_type, release, schema, canonical, fp)
        self._per_release[record_type].append(this_release)
        versions = self._versions[record_type]
        if versions and versions[-1].fingerprint == fp:
            # Unchanged since the previous release: one entry, but the newest file's docs and
            # defaults (which the canonical form ignores) are the ones in use.
            versions[-1] = SchemaVersion(record_type, versions[-1].release, schema, canonical, fp)
        else:
            versions.append(this_release)
        self._by_fingerprint[fp] = versions[-1]

    @property
    def current_release(self) -> str:
        """The newest release: what writers use and readers resolve into."""
        return self.releases[-1]

    def current(self, record_type: RecordType) -> SchemaVersion:
        """The current schema of ``record_type``."""
        return self._versions[record_type][-1]

    def versions(self, record_type: RecordType) -> tuple[SchemaVersion, ...]:
        """Every distinct released schema of ``record_type``, oldest first."""
        return tuple(self._versions[record_type])

    def per_release(self, record_type: RecordType) -> tuple[SchemaVersion, ...]:
        """``record_type``'s schema in each release that has it, oldest first, unchanged ones
        included (the evolution guard compares these: a change of logical type or default keeps
        the fingerprint but may still break readers)."""
        return tuple(self._per_release[record_type])

    def by_fingerprint(self, fp: bytes) -> SchemaVersion | None:
        """The released schema with fingerprint ``fp`` (8 bytes, wire order), if any."""
        return self._by_fingerprint.get(fp)

    def __iter__(self) -> Iterator[SchemaVersion]:
        return iter(self._by_fingerprint.values())

    def __len__(self) -> int:
        return len(self._by_fingerprint)


def _check_file_names(folder: Path) -> None:
    # fastavro's load_schema finds named types by file name and crashes the interpreter on a
    # reference it cannot resolve, so a mismatch must be caught before it loads anything.
    for path in folder.glob("*.avsc"):
        schema = json.loads(path.read_text())
        name = schema.get("name", "") if isinstance(schema, dict) else ""
        full = name if "." in name else f"{schema.get('namespace', '')}.{name}"
        if full != path.stem:
            raise ValueError(f"{path} defines {full!r}: the file must be named {full}.avsc")


@cache
def default_registry() -> SchemaRegistry:
    """The registry of the releases shipped in this package (loaded once per process)."""
    return SchemaRegistry()
