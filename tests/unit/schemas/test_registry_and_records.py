from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest
from fastavro.schema import fingerprint

from schemas import cbv
from schemas.records import RECORD_CLASSES, RecordType
from schemas.registry import AVRO_ROOT, SchemaRegistry, default_registry
from schemas.status import DEFAULT_SUB_STATUS, STATUS_OF, Status, SubStatus

# From the Avro project's share/test/data/schema-tests.txt: Java's 64-bit Rabin fingerprints
# (signed longs) of primitive schemas. The wire carries them as 8 little-endian bytes.
AVRO_VECTORS = {
    '"null"': 7195948357588979594,
    '"int"': 8247732601305521295,
    '"string"': -8142146995180207161,
    '{"name":"foo","type":"record","fields":[]}': -4824392279771201922,
}


@pytest.mark.parametrize(("canonical", "java"), AVRO_VECTORS.items())
def test_fastavro_fingerprint_is_the_little_endian_wire_order(canonical: str, java: int) -> None:
    assert bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")) == java.to_bytes(
        8, "little", signed=True
    )


def test_registry_holds_every_record_type_of_every_release() -> None:
    registry = default_registry()
    assert registry.releases[0] == "v1"
    for record_type in RecordType:
        current = registry.current(record_type)
        assert current.schema["name"] == record_type.value
        assert registry.by_fingerprint(current.fingerprint) is current
    assert registry.by_fingerprint(b"\x00" * 8) is None


def test_releases_sort_by_number_and_the_newest_is_current(tmp_path: Path) -> None:
    for name in ("v1", "v2", "v10"):
        (tmp_path / name).symlink_to(AVRO_ROOT / "v1")
    (tmp_path / "notes").mkdir()
    registry = SchemaRegistry(tmp_path)
    assert registry.releases == ("v1", "v2", "v10")
    assert registry.current_release == "v10"
    assert {v.release for v in registry} == {"v1"}  # unchanged schemas keep their first release


def test_current_release_must_hold_every_record_type(tmp_path: Path) -> None:
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "io.tracecode.Status.avsc").write_text(
        (AVRO_ROOT / "v1" / "io.tracecode.Status.avsc").read_text()
    )
    with pytest.raises(FileNotFoundError, match="lacks"):
        SchemaRegistry(tmp_path)


def _avsc(name: str) -> dict[str, typing.Any]:
    return json.loads((AVRO_ROOT / default_registry().current_release / f"{name}.avsc").read_text())


@pytest.mark.parametrize("record_type", list(RecordType))
def test_typeddicts_mirror_the_current_avsc(record_type: RecordType) -> None:
    hints = typing.get_type_hints(RECORD_CLASSES[record_type])
    fields = [f["name"] for f in default_registry().current(record_type).schema["fields"]]
    assert list(hints) == fields


def test_every_avsc_field_is_documented() -> None:
    for path in (AVRO_ROOT / default_registry().current_release).glob("*.avsc"):
        schema = json.loads(path.read_text())
        assert schema.get("doc"), path
        for field in schema.get("fields", []):
            assert field.get("doc"), f"{path.name}: {field['name']}"


@pytest.mark.parametrize(
    ("enum", "avsc"), [(Status, "io.tracecode.Status"), (SubStatus, "io.tracecode.SubStatus")]
)
def test_python_enums_equal_the_avsc_symbols(enum: type, avsc: str) -> None:
    assert [member.value for member in enum] == _avsc(avsc)["symbols"]  # type: ignore[attr-defined]


def test_every_sub_status_has_a_status_and_every_status_a_default_sub_status() -> None:
    assert set(STATUS_OF) == set(SubStatus)
    assert set(DEFAULT_SUB_STATUS) == set(Status)
    for status, sub in DEFAULT_SUB_STATUS.items():
        assert STATUS_OF[sub] is status


def test_cbv_export_covers_every_sub_status_with_standard_terms() -> None:
    assert set(cbv.CBV_FOR_SUB_STATUS) == set(SubStatus)
    for step, disposition in cbv.CBV_FOR_SUB_STATUS.values():
        assert step in cbv.BIZ_STEPS
        assert disposition is None or disposition in cbv.DISPOSITIONS
    assert len(cbv.BIZ_STEPS) == 41
    assert len(cbv.DISPOSITIONS) == 33
