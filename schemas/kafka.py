"""How a component reaches the Kafka cluster: bootstrap servers and security.

Every component receives one :class:`KafkaConnection` in its config. librdkafka clients
(confluent-kafka) take :meth:`KafkaConnection.librdkafka_config` as their base properties; the
streams work maps the same fields to Faust/aiokafka settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class SecurityProtocol(StrEnum):
    """Kafka's ``security.protocol`` values."""

    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"

    @property
    def uses_sasl(self) -> bool:
        """Whether the protocol authenticates with SASL."""
        return self in (SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL)

    @property
    def uses_tls(self) -> bool:
        """Whether the protocol encrypts with TLS."""
        return self in (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL)


class SaslMechanism(StrEnum):
    """SASL mechanisms with a username and password (the ones both client libraries support)."""

    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"


@dataclass(frozen=True, slots=True)
class KafkaConnection:
    """Bootstrap servers and the security settings needed to reach them.

    Raises :class:`ValueError` when the combination cannot work, e.g. a SASL protocol without a
    mechanism or credentials, so a misconfiguration fails at start-up rather than at the first
    request.
    """

    bootstrap_servers: str
    """Comma-separated ``host:port`` list."""
    security_protocol: SecurityProtocol = SecurityProtocol.PLAINTEXT
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_ca_location: str | None = None
    """PEM file with the CA certificates to trust; the system store when ``None``."""

    def __post_init__(self) -> None:
        if not self.bootstrap_servers.strip():
            raise ValueError("bootstrap_servers is empty: give at least one host:port")
        if self.security_protocol.uses_sasl:
            missing = [
                name
                for name, value in (
                    ("sasl_mechanism", self.sasl_mechanism),
                    ("sasl_username", self.sasl_username),
                    ("sasl_password", self.sasl_password),
                )
                if not value
            ]
            if missing:
                raise ValueError(
                    f"security protocol {self.security_protocol} needs {', '.join(missing)}"
                )
        elif self.sasl_mechanism is not None:
            raise ValueError(
                f"sasl_mechanism is set but security protocol {self.security_protocol} does not "
                "use SASL: choose SASL_PLAINTEXT or SASL_SSL"
            )
        if self.ssl_ca_location is not None and not self.security_protocol.uses_tls:
            raise ValueError(
                f"ssl_ca_location is set but security protocol {self.security_protocol} does not "
                "use TLS: choose SSL or SASL_SSL"
            )

    def librdkafka_config(self) -> dict[str, str]:
        """The connection as librdkafka properties, to merge into a client's own settings."""
        config = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol.value,
        }
        if self.security_protocol.uses_sasl:
            # __post_init__ guarantees all three are set for SASL protocols.
            assert self.sasl_mechanism and self.sasl_username and self.sasl_password
            config["sasl.mechanism"] = self.sasl_mechanism.value
            config["sasl.username"] = self.sasl_username
            config["sasl.password"] = self.sasl_password
        if self.ssl_ca_location is not None:
            config["ssl.ca.location"] = self.ssl_ca_location
        return config
