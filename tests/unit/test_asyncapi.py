"""docs/asyncapi.yaml is the document the code writes, and it says what the code does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from fastavro.schema import parse_schema

from schemas.records import RecordType
from schemas.registry import SchemaRegistry, default_registry
from schemas.topics import TopicNames
from tracecode.asyncapi import AVRO_FORMAT, asyncapi_document, render
from tracecode.cli import main
from tracecode.topics import TopicsConfig, topic_specs

DOCUMENT = Path(__file__).parents[2] / "docs" / "asyncapi.yaml"


def test_docs_asyncapi_yaml_is_current() -> None:
    assert DOCUMENT.read_text() == render(asyncapi_document()), (
        "docs/asyncapi.yaml is stale: `tracecode topics asyncapi --output docs/asyncapi.yaml`"
    )


def test_every_topic_is_a_channel_with_its_sizes_and_one_operation() -> None:
    names = TopicNames().with_prefix("shop.")
    config = TopicsConfig(partitions=3, retention_hours=24)
    document = asyncapi_document(names, config)
    channels = {channel["address"]: channel for channel in document["channels"].values()}
    for spec in topic_specs(names, config):
        binding = channels[spec.name]["bindings"]["kafka"]
        assert binding["partitions"] == spec.partitions
        assert binding["topicConfiguration"]["cleanup.policy"] == [spec.cleanup_policy.value]
        assert binding["topicConfiguration"].get("retention.ms") == spec.retention_ms
    actions = {
        document["channels"][op["channel"]["$ref"].rsplit("/", 1)[1]]["address"]: op["action"]
        for op in document["operations"].values()
    }
    assert actions == {
        names.scans: "receive",
        names.dispatches: "receive",
        names.status: "send",
        names.history: "send",
        names.alerts: "send",
        names.dead_letters: "send",
        names.webhook_subscriptions: "send",
        names.webhook_dead_letters: "send",
    }
    assert "read_committed" in document["operations"]["sendShipmentStatus"]["description"]


def test_each_payload_is_the_current_release_s_schema_to_avro() -> None:
    """AsyncAPI's Avro schema wants short names with a namespace: the same schema to Avro."""
    registry = default_registry()
    messages = yaml.safe_load(DOCUMENT.read_text())["components"]["messages"]
    shown = {RecordType.SHIPMENT_STATE}  # the worker's table value travels on no public topic
    for record_type in RecordType:
        if record_type in shown:
            continue
        message = messages[record_type.short_name]
        assert message["payload"]["schemaFormat"] == AVRO_FORMAT
        current = registry.current(record_type)
        assert _full_names(message["payload"]["schema"]) == current.schema
        parse_schema(message["payload"]["schema"])  # valid Avro as it stands
        assert current.fingerprint.hex() in message["description"]


def test_the_check_fails_on_a_stale_document(tmp_path: Path) -> None:
    stale = tmp_path / "asyncapi.yaml"
    stale.write_text(DOCUMENT.read_text().replace("partitions: 6", "partitions: 5", 1))
    result = CliRunner().invoke(main, ["topics", "asyncapi", "--check", str(stale)])
    assert result.exit_code == 1
    assert "is not the current AsyncAPI document" in " ".join(result.output.split())
    current = CliRunner().invoke(main, ["topics", "asyncapi", "--check", str(DOCUMENT)])
    assert current.exit_code == 0, current.output


def _full_names(schema: Any) -> Any:
    """``schema`` with every ``namespace`` folded back into its type's full name."""
    if isinstance(schema, list):
        return [_full_names(branch) for branch in schema]
    if not isinstance(schema, dict):
        return schema
    folded = {key: _full_names(value) for key, value in schema.items() if key != "namespace"}
    if "namespace" in schema:
        folded["name"] = f"{schema['namespace']}.{schema['name']}"
    return folded


def test_a_schema_release_without_regenerating_the_document_is_caught(tmp_path: Path) -> None:
    """A new release (a field with a default added) changes the document the check compares."""
    released = DOCUMENT.parents[1] / "schemas" / "avro" / "v1"
    for release in ("v1", "v2"):
        shutil.copytree(released, tmp_path / release)
    status = tmp_path / "v2" / "io.tracecode.ShipmentStatusChanged.avsc"
    schema = json.loads(status.read_text())
    schema["fields"].append(
        {"name": "eta", "type": ["null", "string"], "default": None, "doc": "A new field."}
    )
    status.write_text(json.dumps(schema))
    registry = SchemaRegistry(tmp_path)
    document = asyncapi_document(registry=registry)
    assert render(document) != DOCUMENT.read_text()
    assert document["info"]["version"] == "2"
    message = document["components"]["messages"]["ShipmentStatusChanged"]
    assert "eta" in [field["name"] for field in message["payload"]["schema"]["fields"]]
    for version in registry.versions(RecordType.SHIPMENT_STATUS_CHANGED):
        assert (
            f"{version.fingerprint.hex()} (release {version.release[1:]})"
            in (message["description"])
        )
