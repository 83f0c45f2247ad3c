"""tracecode.settings: environment to component configs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from schemas.kafka import SaslMechanism, SecurityProtocol
from tracecode.settings import SettingsError, describe_settings, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No TRACECODE_* from the caller and no .env from the repository."""
    for name in list(os.environ):
        if name.startswith("TRACECODE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))

    settings = load_settings()

    assert settings.data_dir == tmp_path / ".local/share/tracecode"
    broker = settings.broker_config()
    assert (broker.port, broker.controller_port) == (9092, 9093)
    assert broker.data_dir == tmp_path / ".local/share/tracecode/kafka"
    assert broker.cache_dir == tmp_path / ".cache/tracecode/kafka"
    assert settings.kafka_connection().bootstrap_servers == "127.0.0.1:9092"
    assert settings.topic_names().scans == "tracecode.carrier-scans.v1"
    assert settings.topics_config().partitions == 6


def test_broker_port_moves_the_default_bootstrap_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACECODE_BROKER_PORT", "19092")

    settings = load_settings()

    assert settings.broker_config().controller_port == 19093
    assert settings.kafka_connection().bootstrap_servers == "127.0.0.1:19092"


def test_sasl_settings_reach_the_kafka_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACECODE_KAFKA_BOOTSTRAP_SERVERS", "kafka:9096")
    monkeypatch.setenv("TRACECODE_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("TRACECODE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("TRACECODE_KAFKA_SASL_USERNAME", "svc")
    monkeypatch.setenv("TRACECODE_KAFKA_SASL_PASSWORD", "hunter2")
    monkeypatch.setenv("TRACECODE_KAFKA_SSL_CA_LOCATION", "/ca.pem")

    connection = load_settings().kafka_connection()

    assert connection.security_protocol is SecurityProtocol.SASL_SSL
    assert connection.sasl_mechanism is SaslMechanism.SCRAM_SHA_256
    assert connection.librdkafka_config()["sasl.password"] == "hunter2"
    assert connection.librdkafka_config()["ssl.ca.location"] == "/ca.pem"


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TRACECODE_TOPICS_PARTITIONS=12\nTRACECODE_LOG_LEVEL=info\n")

    settings = load_settings()

    assert settings.topics_config().partitions == 12
    assert settings.log_level == "INFO"


def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACECODE_BROKER_PORT", "ninety")

    with pytest.raises(SettingsError) as raised:
        load_settings()

    assert "TRACECODE_BROKER_PORT='ninety'" in raised.value.message


def test_inconsistent_settings_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACECODE_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")

    with pytest.raises(SettingsError) as raised:
        load_settings()

    assert "needs sasl_mechanism" in raised.value.message


def test_min_insync_above_replication_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACECODE_TOPICS_MIN_INSYNC_REPLICAS", "2")

    with pytest.raises(SettingsError, match="min_insync_replicas"):
        load_settings()


def test_every_setting_is_described_and_secrets_are_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRACECODE_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("TRACECODE_KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("TRACECODE_KAFKA_SASL_USERNAME", "svc")
    monkeypatch.setenv("TRACECODE_KAFKA_SASL_PASSWORD", "hunter2")

    rows = {row.env_var: row for row in describe_settings(load_settings())}

    assert rows["TRACECODE_KAFKA_SASL_PASSWORD"].value == "********"
    assert rows["TRACECODE_KAFKA_SASL_USERNAME"].value == "svc"
    assert rows["TRACECODE_BROKER_PORT"].value == "9092"
    assert all(row.description for row in rows.values())
    assert "hunter2" not in repr(list(rows.values()))


def test_config_command_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACECODE_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("TRACECODE_KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("TRACECODE_KAFKA_SASL_USERNAME", "svc")
    monkeypatch.setenv("TRACECODE_KAFKA_SASL_PASSWORD", "hunter2")
    monkeypatch.setenv("COLUMNS", "250")

    result = subprocess.run(
        [sys.executable, "-m", "tracecode", "config"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert "TRACECODE_KAFKA_SASL_PASSWORD" in result.stdout
    assert "********" in result.stdout
    assert "hunter2" not in result.stdout


def test_cli_reports_bad_settings_without_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACECODE_BROKER_PORT", "ninety")

    result = subprocess.run(
        [sys.executable, "-m", "tracecode", "broker", "status"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert result.returncode == 1
    assert "TRACECODE_BROKER_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_tracking_service_reads_an_embedded_store_through_the_sink(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TRACECODE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TRACECODE_SINK_QUERY_PORT", "8125")
    config = load_settings().api_config(["http://w1:6066"], port=9000)
    assert config.web_urls == ("http://w1:6066",)
    assert config.history is not None
    assert (config.history.url, config.history.username) == ("http://127.0.0.1:8125", None)
    assert (config.port, config.token) == (9000, None)


def test_the_tracking_service_reads_a_server_as_its_own_user(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRACECODE_SINK_DSN", "https://clickhouse:8443")
    monkeypatch.setenv("TRACECODE_SINK_USER", "tracecode_sink")
    monkeypatch.setenv("TRACECODE_SINK_PASSWORD", "sink-secret")
    monkeypatch.setenv("TRACECODE_API_CLICKHOUSE_USER", "tracecode_reader")
    monkeypatch.setenv("TRACECODE_API_CLICKHOUSE_PASSWORD", "reader-secret")
    monkeypatch.setenv("TRACECODE_API_TOKEN", "a-token-of-twenty-chars")
    config = load_settings().api_config([])
    assert config.history is not None
    assert (config.history.url, config.history.username, config.history.password) == (
        "https://clickhouse:8443",
        "tracecode_reader",
        "reader-secret",
    )
    assert config.token == "a-token-of-twenty-chars"
    assert config.web_urls == ("http://127.0.0.1:6066",)  # the default worker
    monkeypatch.setenv("TRACECODE_API_WORKER_URLS", "http://web-a:6066, http://web-b:6066")
    assert load_settings().api_config(["http://found:6066"]).web_urls == (
        "http://web-a:6066",
        "http://web-b:6066",
    )


def test_a_short_api_token_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACECODE_API_TOKEN", "short")
    with pytest.raises(SettingsError, match="TRACECODE_API_"):
        load_settings()
