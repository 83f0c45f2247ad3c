"""The sink's config and its settings: targets, validation, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from sinks.config import ClickHouseTarget, RetryPolicy
from tracecode.settings import describe_settings, load_settings


def test_targets_name_their_kind_and_never_show_the_password() -> None:
    embedded = ClickHouseTarget(dsn="chdb:///var/lib/tracecode/clickhouse")
    assert embedded.embedded and embedded.chdb_path == Path("/var/lib/tracecode/clickhouse")
    server = ClickHouseTarget(
        dsn="https://ch.internal:8443", username="sink", password="s3cret", database="tc"
    )
    assert not server.embedded and server.chdb_path is None
    assert server.describe() == "https://ch.internal:8443 database=tc"
    assert "s3cret" not in repr(server)


@pytest.mark.parametrize(
    ("dsn", "database", "message"),
    [
        ("clickhouse://host:9000", "tracecode", "unsupported ClickHouse DSN scheme 'clickhouse'"),
        ("chdb://relative/folder", "tracecode", "absolute data folder"),
        ("http://host:8123", "bad-name; DROP", "not a plain identifier"),
    ],
)
def test_bad_targets_say_what_to_do(dsn: str, database: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ClickHouseTarget(dsn=dsn, database=database)


def test_backoff_doubles_up_to_its_cap() -> None:
    policy = RetryPolicy(initial=0.5, maximum=3.0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_settings_map_to_the_sink_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("TRACECODE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TRACECODE_SINK_QUERY_PORT", "0")
    monkeypatch.setenv("TRACECODE_SINK_BATCH_MAX_ROWS", "123")
    config = load_settings().sink_config()
    assert config.clickhouse.dsn == f"chdb://{tmp_path / 'clickhouse'}"
    assert config.query_port is None  # 0 turns the endpoint off
    assert config.batch_max_rows == 123
    assert config.group_id == "tracecode-sink"

    monkeypatch.setenv("TRACECODE_TOPICS_PREFIX", "eu.")
    assert load_settings().sink_config().group_id == "eu.tracecode-sink", "like the workers'"
    monkeypatch.delenv("TRACECODE_TOPICS_PREFIX")

    monkeypatch.setenv("TRACECODE_SINK_DSN", "https://ch.internal:8443")
    monkeypatch.setenv("TRACECODE_SINK_PASSWORD", "s3cret")
    settings = load_settings()
    assert settings.sink_config().clickhouse.password == "s3cret"
    shown = {row.env_var: row.value for row in describe_settings(settings)}
    assert shown["TRACECODE_SINK_PASSWORD"] == "********"
