"""Event ids: the ``eventID``, else the EPCIS event hash (CBV 2.0, section 8.9).

The hash is computed by epcis-event-hash-generator, the reference implementation the CBV
standard points to. It is a function of the event's content only (``recordTime``, ``eventID``
and ``errorDeclaration`` excluded), so a redelivered event, or the errorDeclaration copy of an
erroneous event, gets the same id. Around the package, all to keep capture offline and
deterministic:

- JSON-LD contexts are never fetched: every EPCIS 2.x context URL is read as the 2.0.0 context
  bundled with the package, other remote contexts are left out (only the EPCIS context matters
  to the hash: it turns bare CBV words into their URIs), and an event's own ``@context`` joins
  its document's instead of being hashed as if it were event data;
- the package collects namespace prefixes in a module-level dict that would leak from one
  document into the next, so it is cleared before each event;
- it logs through the root logger; its records are dropped (its failures are reported here);
- when it fails on a valid event (1.9.3 fails on a ``bizTransactionList`` entry without
  ``type``), the id falls back to :func:`content_hash`, which is stable but not the standard's.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from pyld import jsonld

from producers.epcis.document import JsonObject, is_epcis_context

# The package's context.py puts site-packages first on sys.path (a leftover of running from a
# checkout); restore the order so that imports elsewhere are unaffected.
_saved_path = list(sys.path)
from epcis_event_hash_generator import hash_generator, json_to_py  # noqa: E402
from epcis_event_hash_generator.file_document_loader import file_document_loader  # noqa: E402

sys.path[:] = _saved_path

logger = logging.getLogger(__name__)

Context = Sequence[str | JsonObject]

_BUNDLED_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
"""The EPCIS 2.0 JSON-LD context the hash package bundles."""
_NOT_HASHED = ("@context", "eventID", "recordTime", "errorDeclaration")
CONTENT_HASH_PREFIX = "urn:tracecode:epcis:content-sha-256:"


class EventHashError(ValueError):
    """The reference implementation could not compute an event's hash."""


def event_id(event: JsonObject, context: Context) -> str:
    """The id of ``event``: its ``eventID``, else its event hash in the JSON-LD ``context`` in
    force for it, else (reference implementation failing) its :func:`content_hash`."""
    given = event.get("eventID")
    if isinstance(given, str):
        return given
    try:
        return event_hash(event, context)
    except EventHashError as exc:
        fallback = content_hash(event)
        # Counted and reported once per document by the caller.
        logger.debug(
            "EPCIS event hash not computable; the event gets a content hash as its id",
            extra={"reason": str(exc), "event_id": fallback},
        )
        return fallback


def event_hash(event: JsonObject, context: Context) -> str:
    """The event hash ``ni:///sha-256;<hex>?ver=CBV2.0`` of ``event``, read in ``context``."""
    hashed = {key: copy.deepcopy(value) for key, value in event.items() if key != "@context"}
    document = {
        "@context": _offline(context),
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "epcisBody": {"eventList": [hashed]},
    }
    json_to_py._namespaces.clear()
    try:
        events = json_to_py.event_list_from_epcis_document_json(document)
        hashes: list[str] = hash_generator.epcis_hashes_from_events(events)
    except Exception as exc:
        raise EventHashError(f"the reference implementation failed: {exc!r}") from exc
    # The package skips an event it cannot read instead of raising.
    if len(hashes) != 1:
        raise EventHashError("the reference implementation could not read the event")
    return hashes[0]


def content_hash(event: JsonObject) -> str:
    """A stable id from the event's JSON content (without the fields the standard hash leaves
    out): equal for equal events, but unlike the standard hash it tells apart two spellings of
    one identifier (EPC URN and Digital Link)."""
    content = {key: value for key, value in event.items() if key not in _NOT_HASHED}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return CONTENT_HASH_PREFIX + hashlib.sha256(canonical.encode()).hexdigest()


def _offline(context: Context) -> list[str | JsonObject]:
    kept: list[str | JsonObject] = []
    for entry in context:
        if isinstance(entry, dict):
            kept.append(entry)
        elif is_epcis_context(entry):
            kept.append(_BUNDLED_CONTEXT)
    return kept


def _load_bundled(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    if url != _BUNDLED_CONTEXT:
        raise ValueError(f"remote JSON-LD context {url} is not fetched during capture")
    document: dict[str, Any] = _bundled_loader(url, options or {})
    return document


class _QuietPackage(logging.Filter):
    """Drops the hash package's records, which it sends to the root logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.pathname.startswith(_PACKAGE_DIR)


_PACKAGE_DIR = os.path.dirname(hash_generator.__file__)
_bundled_loader = file_document_loader()
jsonld.set_document_loader(_load_bundled)
logging.getLogger().addFilter(_QuietPackage())
