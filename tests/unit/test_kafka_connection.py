"""schemas.kafka.KafkaConnection: security settings into librdkafka properties."""

from __future__ import annotations

import pytest

from schemas.kafka import KafkaConnection, SaslMechanism, SecurityProtocol


def test_plaintext_connection_sets_only_servers_and_protocol() -> None:
    config = KafkaConnection("127.0.0.1:9092").librdkafka_config()

    assert config == {"bootstrap.servers": "127.0.0.1:9092", "security.protocol": "PLAINTEXT"}


def test_sasl_ssl_passes_credentials_and_ca() -> None:
    connection = KafkaConnection(
        "kafka-1:9093,kafka-2:9093",
        security_protocol=SecurityProtocol.SASL_SSL,
        sasl_mechanism=SaslMechanism.SCRAM_SHA_512,
        sasl_username="tracecode",
        sasl_password="s3cret",
        ssl_ca_location="/etc/ssl/kafka-ca.pem",
    )

    assert connection.librdkafka_config() == {
        "bootstrap.servers": "kafka-1:9093,kafka-2:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "tracecode",
        "sasl.password": "s3cret",
        "ssl.ca.location": "/etc/ssl/kafka-ca.pem",
    }
    assert "s3cret" not in repr(connection)


@pytest.mark.parametrize(
    ("kwargs", "complaint"),
    [
        ({"security_protocol": SecurityProtocol.SASL_PLAINTEXT}, "needs sasl_mechanism"),
        (
            {
                "security_protocol": SecurityProtocol.SASL_SSL,
                "sasl_mechanism": SaslMechanism.PLAIN,
                "sasl_username": "u",
            },
            "needs sasl_password",
        ),
        ({"sasl_mechanism": SaslMechanism.PLAIN}, "does not use SASL"),
        ({"ssl_ca_location": "/ca.pem"}, "does not use TLS"),
    ],
)
def test_impossible_combinations_are_rejected(kwargs: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        KafkaConnection("127.0.0.1:9092", **kwargs)  # type: ignore[arg-type]


def test_empty_bootstrap_servers_are_rejected() -> None:
    with pytest.raises(ValueError, match="bootstrap_servers is empty"):
        KafkaConnection(" ")
