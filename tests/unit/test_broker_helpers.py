"""Pure helpers of the local broker: config rendering and output parsing."""

from __future__ import annotations

from pathlib import Path

from tracecode.broker import (
    BrokerConfig,
    LocalBroker,
    java_major_version,
    maven_error_essence,
    server_properties,
)


def parse(properties: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in properties.splitlines() if line)


def test_server_properties_make_a_loopback_single_node_with_transactions() -> None:
    props = parse(server_properties(19092, 19093, Path("/data/kafka")))

    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["log.dirs"] == "/data/kafka"
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
    ):
        assert props[key] == "1", key
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["auto.create.topics.enable"] == "false"


def test_maven_error_essence_keeps_the_reason() -> None:
    output = (
        "\x1b[1;31m[ERROR]\x1b[m Failed to execute goal org.apache.maven.plugins:"
        "maven-dependency-plugin:3.8.1:copy-dependencies (default-cli) on project "
        "kafka-broker-runtime: Could not resolve dependencies for project "
        "io.tracecode.local:kafka-broker-runtime:pom:0.0.1: Could not find artifact "
        "org.apache.kafka:kafka_2.13:jar:0.0.1 in central "
        "(https://repo.maven.apache.org/maven2) -> [Help 1]\n"
        "[ERROR] \n[ERROR] To see the full stack trace of the errors, re-run Maven with -e.\n"
    )

    essence = maven_error_essence(output)

    assert essence.startswith("Could not resolve dependencies")
    assert "kafka_2.13:jar:0.0.1" in essence
    assert "[Help 1]" not in essence
    assert "\x1b" not in essence


def test_maven_error_essence_without_error_lines_uses_the_last_line() -> None:
    assert maven_error_essence("downloading\nsomething odd happened\n") == "something odd happened"
    assert maven_error_essence("") == "Maven failed without output"


def test_java_major_version() -> None:
    assert java_major_version('openjdk version "17.0.15" 2025-04-15') == 17
    assert java_major_version('openjdk version "25" 2025-09-16') == 25
    assert java_major_version('java version "1.8.0_402"') == 8
    assert java_major_version("no version here") is None


def test_tail_and_follow_the_log_across_rotation(tmp_path: Path) -> None:
    broker = LocalBroker(BrokerConfig(data_dir=tmp_path, cache_dir=tmp_path / "cache"))
    assert broker.tail_log() == []
    broker.log_file.parent.mkdir(parents=True)
    broker.log_file.write_text("".join(f"old {i}\n" for i in range(100)))

    assert broker.tail_log(2) == ["old 98", "old 99"]

    follower = broker.follow_log(poll_interval=0.01)
    with broker.log_file.open("a") as log:
        log.write("new 1\nnew 2\npartial")
    assert [next(follower), next(follower)] == ["new 1", "new 2"]
    # log4j rolls server.log over to server.log.1 and starts a new file.
    broker.log_file.rename(broker.log_file.with_name("server.log.1"))
    broker.log_file.write_text("after rotation\n")
    assert next(follower) == "after rotation"
