from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema

from schemas.errors import IncompatibleSchemaError
from schemas.evolution import check_compatible, check_releases, reader_problems
from schemas.records import RecordType
from schemas.registry import SchemaRegistry

from .samples import field, make_releases

Change = Callable[[dict[str, dict[str, Any]]], None]
SCAN = "io.tracecode.CarrierScan"


def test_every_shipped_release_is_compatible_with_the_previous_one() -> None:
    check_releases()  # raises on an incompatible pair


def _check(tmp_path: Path, change: Change) -> int:
    return check_releases(SchemaRegistry(make_releases(tmp_path, change)))


def _add_field(files: dict[str, dict[str, Any]], spec: dict[str, Any]) -> None:
    files[SCAN]["fields"].append({"doc": "New.", **spec})


COMPATIBLE: dict[str, Change] = {
    "optional field added": lambda f: _add_field(
        f, {"name": "weight_grams", "type": ["null", "int"], "default": None}
    ),
    "field with a default added": lambda f: _add_field(
        f, {"name": "attempt", "type": "int", "default": 1}
    ),
    "field with a default removed": lambda f: f[SCAN]["fields"].remove(
        field(f[SCAN], "tracking_number")
    ),
    "enum symbol added (enum has a default)": lambda f: f["io.tracecode.EventSource"][
        "symbols"
    ].append("DRONE"),
}

INCOMPATIBLE: dict[str, tuple[Change, str]] = {
    "field without default added": (
        lambda f: _add_field(f, {"name": "weight_grams", "type": "int"}),
        "weight_grams: field is not in the writer's schema and has no default",
    ),
    "field without default removed": (
        lambda f: f[SCAN]["fields"].remove(field(f[SCAN], "raw_event_code")),
        "raw_event_code: field is not in the writer's schema and has no default",
    ),
    "enum symbol removed, enum without default": (
        lambda f: (
            f["io.tracecode.Severity"].pop("default"),
            f["io.tracecode.Severity"]["symbols"].remove("INFO"),
        ),
        "lacks writer symbols ['INFO'] and has no default",
    ),
    "type changed": (
        lambda f: field(f[SCAN], "event_utc_offset_minutes").update(type="string"),
        "type changed: writer's int, reader's string",
    ),
    "type narrowed (long to int)": (
        lambda f: field(f[SCAN], "event_utc_offset_minutes").update(type="long"),
        "type changed: writer's long, reader's int",
    ),
    "logical type changed": (
        lambda f: field(f[SCAN], "event_time").update(
            type={"type": "long", "logicalType": "timestamp-micros"}
        ),
        "logical type changed",
    ),
    "named type renamed without alias": (
        lambda f: _rename_location(f, []),
        "type changed: writer's record io.tracecode.Location, reader's record io.tracecode.Site",
    ),
    "field renamed, even with an alias (old readers do not know the new name)": (
        lambda f: field(f[SCAN], "raw_description").update(
            name="carrier_description", aliases=["raw_description"]
        ),
        "old reader / new writer: raw_description: field is not in the writer's schema",
    ),
    "optional made required": (
        lambda f: field(f[SCAN], "tracking_number").update(type="string", default=""),
        "tracking_number: type changed: writer's null, reader's string",
    ),
}


@pytest.mark.parametrize("name", COMPATIBLE)
def test_guard_accepts_compatible_changes(tmp_path: Path, name: str) -> None:
    assert _check(tmp_path, COMPATIBLE[name]) >= 1


@pytest.mark.parametrize("name", INCOMPATIBLE)
def test_guard_catches_incompatible_changes(tmp_path: Path, name: str) -> None:
    change, message = INCOMPATIBLE[name]
    with pytest.raises(IncompatibleSchemaError, match="v1 -> v2") as info:
        _check(tmp_path, change)
    assert any(message in problem for problem in info.value.problems), info.value.problems


def test_doc_only_change_keeps_the_fingerprint_and_passes(tmp_path: Path) -> None:
    root = make_releases(tmp_path, lambda f: f[SCAN].update(doc="Reworded."))
    registry = SchemaRegistry(root)
    assert len(registry.versions(RecordType.CARRIER_SCAN)) == 1
    assert check_releases(registry) == len(RecordType)


def _rename_location(files: dict[str, dict[str, Any]], aliases: list[str]) -> None:
    for stem, schema in files.items():
        text = json.dumps(schema).replace('"io.tracecode.Location"', '"io.tracecode.Site"')
        files[stem] = json.loads(text)
    location = files.pop("io.tracecode.Location")
    location.update(name="Site", aliases=aliases)
    files["io.tracecode.Site"] = location


def test_named_type_renamed_with_alias_is_still_one_way_only(tmp_path: Path) -> None:
    with pytest.raises(IncompatibleSchemaError) as info:
        _check(tmp_path, lambda f: _rename_location(f, ["io.tracecode.Location"]))
    # The new reader knows the old name by its alias; old readers do not know the new name.
    assert all(p.startswith("old reader / new writer") for p in info.value.problems)


def test_a_file_named_unlike_its_type_is_refused_before_loading(tmp_path: Path) -> None:
    root = make_releases(tmp_path, lambda f: f["io.tracecode.Location"].update(name="Site"))
    with pytest.raises(ValueError, match=r"must be named io\.tracecode\.Site\.avsc"):
        SchemaRegistry(root)


def test_enum_symbol_removal_is_fine_when_the_enum_has_a_default(tmp_path: Path) -> None:
    assert _check(tmp_path, lambda f: f["io.tracecode.Severity"]["symbols"].remove("INFO")) >= 1


def test_directions_are_reported_separately(tmp_path: Path) -> None:
    with pytest.raises(IncompatibleSchemaError) as info:
        _check(tmp_path / "added", INCOMPATIBLE["field without default added"][0])
    assert info.value.problems[0].startswith("new reader / old writer")
    with pytest.raises(IncompatibleSchemaError) as info:
        _check(tmp_path / "removed", INCOMPATIBLE["field without default removed"][0])
    assert info.value.problems[0].startswith("old reader / new writer")


def test_every_old_release_must_stay_readable_by_the_current_one(tmp_path: Path) -> None:
    # v2 adds a field with a default; v3 drops the default. v2 -> v3 alone is fine (v2 records
    # always carry the field), but v3 cannot read v1 records, which lack it.
    weight = {"name": "weight", "type": "int", "default": 0, "doc": "New."}
    root = make_releases(tmp_path, lambda f: f[SCAN]["fields"].append(weight))
    (root / "v3").mkdir()
    for path in (root / "v2").iterdir():
        schema = json.loads(path.read_text())
        if path.stem == SCAN:
            del field(schema, "weight")["default"]
        (root / "v3" / path.name).write_text(json.dumps(schema))
    registry = SchemaRegistry(root)
    _, v2, v3 = (version.schema for version in registry.per_release(RecordType.CARRIER_SCAN))
    check_compatible(v2, v3)
    with pytest.raises(IncompatibleSchemaError, match="CarrierScan v1 -> v3") as info:
        check_releases(registry)
    assert info.value.problems == [
        "current reader: weight: field is not in the writer's schema and has no default"
    ]


def _record(*fields: dict[str, Any]) -> dict[str, Any]:
    return parse_schema({"type": "record", "name": "n.R", "fields": list(fields)})


def test_promotions_follow_the_spec() -> None:
    for writer, reader in [
        ("int", "long"),
        ("int", "double"),
        ("long", "float"),
        ("float", "double"),
        ("string", "bytes"),
        ("bytes", "string"),
    ]:
        assert (
            reader_problems(
                _record({"name": "x", "type": reader}), _record({"name": "x", "type": writer})
            )
            == []
        )
    assert reader_problems(
        _record({"name": "x", "type": "int"}), _record({"name": "x", "type": "long"})
    )


def test_int_to_long_promotion_is_one_way_so_the_two_way_guard_refuses_it() -> None:
    old = _record({"name": "x", "type": "int"})
    new = _record({"name": "x", "type": "long"})
    with pytest.raises(IncompatibleSchemaError, match="old reader / new writer"):
        check_compatible(old, new)


def test_union_default_must_fit_the_first_branch() -> None:
    bad = _record({"name": "x", "type": ["null", "int"], "default": 3})
    assert any("first branch" in p for p in reader_problems(bad, bad))


def test_writer_union_branches_must_each_be_readable() -> None:
    writer = _record({"name": "x", "type": ["null", "int", "string"]})
    reader = _record({"name": "x", "type": ["null", "long"]})
    assert reader_problems(reader, writer) == [
        "x: writer's string matches no branch of union[null, long]"
    ]
