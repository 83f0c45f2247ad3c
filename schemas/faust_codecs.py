"""Faust codecs for the tracecode records, so Faust topics and tables speak the wire format.

Call :func:`register_codecs` once when building the Faust app; then any topic or table can use
``value_serializer="tracecode.CarrierScan"`` (the names are in :data:`CODEC_NAMES`). A codec
turns a record dict into single-object Avro bytes and back into a dict; a ``faust.Record`` whose
fields are the avsc fields (nested records as Records too, Faust's default ``include_metadata``
kept) encodes as well. Decoding errors are the typed errors of :mod:`schemas.errors`.
"""

from __future__ import annotations

from typing import Any

from faust.serializers import codecs
from faust.types import ModelT

from schemas.codec import Codec as RecordCodec
from schemas.codec import codec_for
from schemas.records import RecordType

CODEC_NAMES: dict[RecordType, str] = {rt: f"tracecode.{rt.short_name}" for rt in RecordType}
"""The Faust codec name of each record type, e.g. ``tracecode.CarrierScan``."""

_FAUST_METADATA = "__faust"


class AvroRecordCodec(codecs.Codec):
    """Faust codec for one record type (Avro single-object encoding via :mod:`schemas.codec`)."""

    def __init__(self, record_type: RecordType, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.record_type = record_type
        self._codec: RecordCodec[Any] = codec_for(record_type)

    def _dumps(self, obj: Any) -> bytes:
        if _FAUST_METADATA in obj:
            # A faust.Record's representation: Faust's type tag is no record field, and nested
            # Records are still objects. Plain dicts (the fast path) skip this.
            obj = _plain(obj)
        return self._codec.encode(obj)

    def _loads(self, s: bytes) -> Any:
        return self._codec.decode(s)


def _plain(value: Any) -> Any:
    if isinstance(value, ModelT):
        value = value.to_representation()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items() if key != _FAUST_METADATA}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def register_codecs() -> dict[RecordType, str]:
    """Register a codec per record type in Faust's codec registry; returns the names."""
    for record_type, name in CODEC_NAMES.items():
        codecs.register(name, AvroRecordCodec(record_type))
    return CODEC_NAMES
