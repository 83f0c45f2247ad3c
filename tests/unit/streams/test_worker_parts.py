"""The worker's small parts: state folder guard, Kafka settings, config checks, JSON view."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from pathlib import Path

import faust
import pytest

from schemas.kafka import KafkaConnection, SaslMechanism, SecurityProtocol
from schemas.records import to_json
from schemas.topics import TopicNames
from streams.config import WorkerConfig
from streams.runtime.kafka import broker_urls, credentials
from streams.runtime.state_dir import StateDir, StateDirLockedError


def test_tables_survive_a_clean_stop_and_are_deleted_after_a_crash(tmp_path: Path) -> None:
    tables = tmp_path / "v1" / "tables"
    tables.mkdir(parents=True)
    (tables / "shipments-0.db").write_text("state")
    with StateDir(tmp_path, tables) as state:
        assert state.open_tables() is True  # no marker: the last run never stopped cleanly
        assert not tables.exists()
        tables.mkdir(parents=True)
        state.mark_clean()
    with StateDir(tmp_path, tables) as state:
        assert state.open_tables() is False
        assert tables.exists()
        # Running: the marker is gone until the next clean stop.
    with StateDir(tmp_path, tables) as state:
        assert state.open_tables() is True


def test_two_workers_cannot_share_a_state_folder(tmp_path: Path) -> None:
    with StateDir(tmp_path, tmp_path / "tables"), pytest.raises(StateDirLockedError, match="own"):
        StateDir(tmp_path, tmp_path / "tables").__enter__()
    with StateDir(tmp_path, tmp_path / "tables"):
        pass  # released when the first one closed


def test_kafka_connection_as_faust_settings() -> None:
    plain = KafkaConnection("a:9092, b:9093")
    assert broker_urls(plain) == ["kafka://a:9092", "kafka://b:9093"]
    assert credentials(plain) == {}
    sasl = KafkaConnection(
        "a:9092",
        security_protocol=SecurityProtocol.SASL_SSL,
        sasl_mechanism=SaslMechanism.SCRAM_SHA_512,
        sasl_username="worker",
        sasl_password="secret",
    )
    creds = credentials(sasl)["broker_credentials"]
    assert isinstance(creds, faust.SASLCredentials)
    assert (creds.username, creds.password) == ("worker", "secret")
    assert creds.mechanism.value == "SCRAM-SHA-512"
    assert creds.protocol.value == "SASL_SSL"
    assert isinstance(creds.ssl_context, ssl.SSLContext)
    tls = credentials(KafkaConnection("a:9093", security_protocol=SecurityProtocol.SSL))
    assert isinstance(tls["broker_credentials"], faust.SSLCredentials)


def test_config_rejects_what_cannot_work(tmp_path: Path) -> None:
    def config(**overrides: object) -> WorkerConfig:
        values: dict[str, object] = {
            "kafka": KafkaConnection("a:9092"),
            "topics": TopicNames(),
            "state_dir": tmp_path,
            "partitions": 6,
        }
        return WorkerConfig(**{**values, **overrides})  # type: ignore[arg-type]

    assert config(app_id="g").changelog_topic == "g-shipments-changelog"
    assert config(web_port=7001).web_url == "http://127.0.0.1:7001"
    for bad in ({"partitions": 0}, {"web_port": 70000}, {"standby_replicas": -1}):
        with pytest.raises(ValueError):
            config(**bad)


def test_states_become_json_with_iso_times() -> None:
    moment = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    value = {"at": moment, "scans": [{"t": moment, "n": 1}], "none": None, "pair": (moment, "x")}
    assert to_json(value) == {
        "at": "2026-11-01T08:30:00+00:00",
        "scans": [{"t": "2026-11-01T08:30:00+00:00", "n": 1}],
        "none": None,
        "pair": ["2026-11-01T08:30:00+00:00", "x"],
    }
