"""The shared :class:`~schemas.kafka.KafkaConnection` as Faust (aiokafka) settings."""

from __future__ import annotations

import ssl
from typing import Any

import faust

from schemas.kafka import KafkaConnection


def broker_urls(kafka: KafkaConnection) -> list[str]:
    """Faust's broker list: one ``kafka://host:port`` URL per bootstrap server."""
    servers = [server.strip() for server in kafka.bootstrap_servers.split(",") if server.strip()]
    return [f"kafka://{server}" for server in servers]


def credentials(kafka: KafkaConnection) -> dict[str, Any]:
    """The ``broker_credentials`` (SASL, TLS) of the connection, as Faust app settings."""
    context = None
    if kafka.security_protocol.uses_tls:
        context = ssl.create_default_context(cafile=kafka.ssl_ca_location)
    if kafka.security_protocol.uses_sasl:
        assert kafka.sasl_mechanism is not None  # KafkaConnection checks SASL is complete
        return {
            "broker_credentials": faust.SASLCredentials(
                username=kafka.sasl_username,
                password=kafka.sasl_password,
                mechanism=kafka.sasl_mechanism.value,
                ssl_context=context,
            )
        }
    if context is not None:
        return {"broker_credentials": faust.SSLCredentials(context)}
    return {}
