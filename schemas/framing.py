"""Confluent Schema Registry framing of tracecode records, beside the single-object framing.

A tracecode value is an Avro body behind a header. The default header (:mod:`schemas.codec`) is
the single-object one: ``C3 01`` and the 8-byte CRC-64-AVRO fingerprint of the writer schema.
The Confluent header, which Kafka Connect's AvroConverter, ksqlDB, Flink's ``avro-confluent``
format, ClickHouse's ``AvroConfluent`` and kcat expect, is ``00`` and the writer schema's 4-byte
big-endian id in a Schema Registry. The body is the same bytes under either header, so changing
the framing swaps the header and never re-encodes:

- writers encode with the codec as always; :meth:`OutputFraming.frame` then puts the id of the
  topic's schema in front;
- readers pass every value through :meth:`Framing.single_object` before the codec: a Confluent
  framed value gets the fingerprint of the schema its id names, any other value passes
  unchanged, so a topic holding both framings (before and after a switch) reads as one.

Subjects follow the topic-name strategy (``<topic>-value``). :func:`register_contracts` registers
every released schema of a topic's record type under its subject, oldest first, with the
subject's compatibility set to ``FULL_TRANSITIVE``: the registry then refuses what
:mod:`schemas.evolution` refuses, a release that old readers or old records would break.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient, SchemaRegistryError
from fastavro import parse_schema
from fastavro.schema import fingerprint, to_parsing_canonical_form

from schemas.codec import MARKER
from schemas.errors import CodecError, TruncatedRecordError
from schemas.records import RecordType
from schemas.registry import SchemaRegistry, SchemaVersion, default_registry
from schemas.topics import CARRIED, TopicNames

__all__ = [
    "COMPATIBILITY",
    "CONFLUENT_MAGIC",
    "Framing",
    "OutputFraming",
    "SchemaNotRegisteredError",
    "SchemaRegistryConnection",
    "SchemaRegistryRequestError",
    "SubjectVersion",
    "UnknownSchemaIdError",
    "avro_topics",
    "register_contracts",
    "subject_of",
]

CONFLUENT_MAGIC = b"\x00"
"""The first byte of a Confluent framed value (single-object values start with ``C3``)."""
COMPATIBILITY = "FULL_TRANSITIVE"
"""The compatibility level set on every tracecode subject."""
_HEADER_SIZE = len(CONFLUENT_MAGIC) + 4
_SINGLE_OBJECT_HEADER = len(MARKER) + 8
_SCHEMES = ("http://", "https://", "mock://")


class SchemaRegistryRequestError(Exception):
    """A request to the Schema Registry failed: no answer, or an error answer (its message
    says which, e.g. a schema refused as incompatible)."""


class SchemaNotRegisteredError(Exception):
    """A writer's schema is not registered under its topic's subject."""

    def __init__(self, subject: str, release: str, url: str) -> None:
        self.subject = subject
        self.release = release
        super().__init__(
            f"the {release} schema is not registered under subject {subject!r} in the schema "
            f"registry at {url}: run `tracecode topics apply` with the same "
            "TRACECODE_SCHEMA_REGISTRY_URL to register the contracts"
        )


class UnknownSchemaIdError(CodecError):
    """A Confluent framed record names a schema id the reader cannot map to a release."""

    def __init__(self, schema_id: int, reason: str) -> None:
        self.schema_id = schema_id
        super().__init__(f"Confluent framed record with schema id {schema_id}: {reason}")


@dataclass(frozen=True, slots=True)
class SchemaRegistryConnection:
    """Where the Schema Registry is and how to authenticate to it.

    ``mock://<name>`` is confluent-kafka's in-process registry, for tests: it starts empty in
    every process, so :class:`Framing` registers the contracts in it first, in a fixed order,
    which gives every process the same schema ids.
    """

    url: str
    """Base URL, ``http(s)://host:port`` (comma-separated for several)."""
    basic_auth_user_info: str | None = field(default=None, repr=False)
    """``user:password`` for HTTP basic authentication."""
    ssl_ca_location: str | None = None
    """PEM file with the CA certificates to trust for ``https://``; the system store when
    ``None``."""
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        urls = [part.strip() for part in self.url.split(",") if part.strip()]
        if not urls or any(not url.startswith(_SCHEMES) for url in urls):
            raise ValueError(
                f"schema registry URL {self.url!r} must start with http://, https:// or mock://"
            )
        if self.basic_auth_user_info is not None and ":" not in self.basic_auth_user_info:
            raise ValueError("schema registry basic auth must be given as user:password")
        if self.timeout_s <= 0:
            raise ValueError(f"schema registry timeout must be positive, not {self.timeout_s}")

    @property
    def is_mock(self) -> bool:
        """Whether this is confluent-kafka's in-process mock registry."""
        return self.url.startswith("mock://")

    def client(self) -> SchemaRegistryClient:
        """A confluent-kafka registry client for this connection (the mock one for mock://)."""
        conf: dict[str, Any] = {"url": self.url, "timeout": self.timeout_s}
        if self.basic_auth_user_info is not None:
            conf["basic.auth.user.info"] = self.basic_auth_user_info
        if self.ssl_ca_location is not None:
            conf["ssl.ca.location"] = self.ssl_ca_location
        return SchemaRegistryClient.new_client(conf)


@dataclass(frozen=True, slots=True)
class SubjectVersion:
    """One released schema as registered under a subject."""

    subject: str
    release: str
    schema_id: int
    newly_registered: bool


def subject_of(topic: str) -> str:
    """The subject of ``topic``'s values under the topic-name strategy."""
    return f"{topic}-value"


def avro_topics(topics: TopicNames) -> dict[str, RecordType]:
    """Every topic whose values are tracecode Avro records, with their record type."""
    return {getattr(topics, name): record_type for name, record_type in CARRIED.items()}


def schema_json(version: SchemaVersion) -> str:
    """``version``'s schema as the registry stores it: full Avro JSON, docs and defaults kept
    (the registry's compatibility check needs the defaults), named types inlined."""
    return json.dumps(_without_parser_keys(version.schema), separators=(",", ":"))


def register_contracts(
    connection: SchemaRegistryConnection,
    client: SchemaRegistryClient,
    topics: Mapping[str, RecordType],
    registry: SchemaRegistry | None = None,
) -> list[SubjectVersion]:
    """Register every released schema of each topic's record type under the topic's subject,
    oldest release first, after setting the subject's compatibility to :data:`COMPATIBILITY`.

    Idempotent: a schema already under its subject is reported with ``newly_registered``
    false. Raises :class:`SchemaRegistryRequestError` when the registry cannot be reached or
    refuses a schema (its message then says why, e.g. an incompatible release).
    """
    registry = registry or default_registry()
    registered: list[SubjectVersion] = []
    for topic, record_type in topics.items():
        subject = subject_of(topic)
        # The mock registry keeps no compatibility level: it has nothing to set.
        if not connection.is_mock:
            _call(
                connection,
                "set the compatibility of " + subject,
                client.set_compatibility,
                subject,
                COMPATIBILITY,
            )
        for version in registry.versions(record_type):
            schema = Schema(schema_json(version), "AVRO")
            try:
                found = client.lookup_schema(subject, schema)
            except SchemaRegistryError as error:
                if error.http_status_code != 404:
                    raise _unavailable(connection, f"look up {subject}", error) from error
            else:
                registered.append(SubjectVersion(subject, version.release, _id_of(found), False))
                continue
            schema_id = _call(
                connection,
                f"register {version.release} under {subject}",
                client.register_schema,
                subject,
                schema,
            )
            registered.append(SubjectVersion(subject, version.release, schema_id, True))
    return registered


class OutputFraming:
    """Confluent headers for the current schema of each output topic."""

    __slots__ = ("_headers",)

    def __init__(self, headers: Mapping[str, bytes]) -> None:
        self._headers = dict(headers)

    def frame(self, topic: str, value: bytes) -> bytes:
        """``value`` (single-object bytes from the codec) in Confluent framing when ``topic`` is
        one of the output topics; any other topic's value unchanged."""
        header = self._headers.get(topic)
        if header is None:
            return value
        return header + value[_SINGLE_OBJECT_HEADER:]

    def schema_id(self, topic: str) -> int | None:
        """The schema id :meth:`frame` writes for ``topic``, if it frames that topic."""
        header = self._headers.get(topic)
        return None if header is None else int.from_bytes(header[1:], "big")


class Framing:
    """A process's view of the Schema Registry: headers for writers, schema ids for readers."""

    def __init__(
        self,
        connection: SchemaRegistryConnection,
        topics: TopicNames,
        registry: SchemaRegistry | None = None,
        client: SchemaRegistryClient | None = None,
    ) -> None:
        self.connection = connection
        self._topics = avro_topics(topics)
        self._registry = registry or default_registry()
        self._client = client or connection.client()
        self._headers: dict[int, bytes] = {}
        if connection.is_mock and client is None:
            register_contracts(connection, self._client, self._topics, self._registry)

    @property
    def client(self) -> SchemaRegistryClient:
        return self._client

    def register(self) -> list[SubjectVersion]:
        """Register the contracts of every Avro topic (what ``tracecode topics apply`` does)."""
        return register_contracts(self.connection, self._client, self._topics, self._registry)

    def output(self, topics: Iterable[str]) -> OutputFraming:
        """Headers for writing ``topics`` in Confluent framing, looked up once.

        Raises :class:`SchemaNotRegisteredError` when a topic's current schema is not under its
        subject, and :class:`SchemaRegistryRequestError` when the registry cannot answer.
        """
        headers: dict[str, bytes] = {}
        for topic in topics:
            current = self._registry.current(self._topics[topic])
            subject = subject_of(topic)
            try:
                found = self._client.lookup_schema(subject, Schema(schema_json(current), "AVRO"))
            except SchemaRegistryError as error:
                if error.http_status_code == 404:
                    raise SchemaNotRegisteredError(
                        subject, current.release, self.connection.url
                    ) from None
                raise _unavailable(self.connection, f"look up {subject}", error) from error
            except Exception as error:
                raise _unavailable(self.connection, f"look up {subject}", error) from error
            headers[topic] = CONFLUENT_MAGIC + _id_of(found).to_bytes(4, "big")
        return OutputFraming(headers)

    def single_object(self, value: bytes) -> bytes:
        """``value`` with a Confluent header replaced by the single-object header of the same
        schema; any other value unchanged (the codec then judges it).

        Raises :class:`UnknownSchemaIdError` (a :class:`~schemas.errors.CodecError`) when the id
        names no schema or one of no tracecode release, :class:`TruncatedRecordError` for a
        header cut short, and :class:`SchemaRegistryRequestError` when the registry cannot
        answer (retry later: the record is not at fault).
        """
        if value[:1] != CONFLUENT_MAGIC:
            return value
        if len(value) < _HEADER_SIZE:
            raise TruncatedRecordError(
                len(value), _HEADER_SIZE - len(value), "the 5-byte Confluent header"
            )
        schema_id = int.from_bytes(value[1:_HEADER_SIZE], "big")
        header = self._headers.get(schema_id)
        if header is None:
            header = self._headers[schema_id] = self._header_of(schema_id)
        return header + value[_HEADER_SIZE:]

    def _header_of(self, schema_id: int) -> bytes:
        try:
            schema = self._client.get_schema(schema_id)
        except SchemaRegistryError as error:
            if error.http_status_code == 404:
                raise UnknownSchemaIdError(
                    schema_id, f"the registry at {self.connection.url} has no such schema"
                ) from None
            raise _unavailable(self.connection, f"fetch schema {schema_id}", error) from error
        except Exception as error:
            raise _unavailable(self.connection, f"fetch schema {schema_id}", error) from error
        if schema.schema_type not in (None, "AVRO"):
            raise UnknownSchemaIdError(schema_id, f"it is a {schema.schema_type} schema, not Avro")
        try:
            canonical = to_parsing_canonical_form(parse_schema(json.loads(schema.schema_str or "")))
        except Exception as error:
            raise UnknownSchemaIdError(schema_id, f"its schema does not parse: {error}") from None
        fp = bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))
        if self._registry.by_fingerprint(fp) is None:
            raise UnknownSchemaIdError(
                schema_id,
                f"its schema (fingerprint {fp.hex()}) is none of tracecode's released schemas",
            )
        return MARKER + fp


def _without_parser_keys(schema: Any) -> Any:
    # fastavro's parsed form carries bookkeeping keys ("__fastavro_parsed", "__named_schemas").
    if isinstance(schema, list):
        return [_without_parser_keys(branch) for branch in schema]
    if isinstance(schema, dict):
        return {
            key: _without_parser_keys(value)
            for key, value in schema.items()
            if not key.startswith("__")
        }
    return schema


def _id_of(found: Any) -> int:
    schema_id = found.schema_id
    if not isinstance(schema_id, int):
        raise SchemaRegistryRequestError(
            f"the schema registry answered without a schema id: {found}"
        )
    return schema_id


def _call(connection: SchemaRegistryConnection, action: str, call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except Exception as error:
        raise _unavailable(connection, action, error) from error


def _unavailable(
    connection: SchemaRegistryConnection, action: str, error: Exception
) -> SchemaRegistryRequestError:
    return SchemaRegistryRequestError(
        f"could not {action} in the schema registry at {connection.url}: {error}"
    )
