"""The EPCIS event hash (CBV 2.0, section 8.9): the standard id of an event that has no eventID.

Computed by epcis-event-hash-generator, the reference implementation the CBV standard points to.
The hash is a function of the event's content only (``recordTime``, ``eventID`` and
``errorDeclaration`` excluded), so a redelivered event, or the errorDeclaration copy of an
erroneous event, gets the same id. Three things around the package are ours, all to keep
capture offline and deterministic:

- JSON-LD contexts are never fetched: the EPCIS 2.0 context is served from the copy bundled
  with the package, and other remote contexts are left out of the hashed copy (only the EPCIS
  context matters to the hash: it turns bare CBV words into their URIs);
- the package collects namespace prefixes in a module-level dict that would leak from one
  document into the next, so it is cleared before each event;
- it logs every event at INFO through the root logger; those records are dropped below WARNING.
"""

from __future__ import annotations

import copy
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from pyld import jsonld

from producers.epcis.document import is_epcis_context

# The package's context.py puts site-packages first on sys.path (a leftover of running from a
# checkout); restore the order so that imports elsewhere are unaffected.
_saved_path = list(sys.path)
from epcis_event_hash_generator import hash_generator, json_to_py  # noqa: E402
from epcis_event_hash_generator.file_document_loader import file_document_loader  # noqa: E402

sys.path[:] = _saved_path

_BUNDLED_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
"""The EPCIS 2.0 JSON-LD context the hash package bundles; every EPCIS 2.x context URL is read
as this one (they define the same terms)."""


class EventHashError(ValueError):
    """The event hash of an event could not be computed."""


def event_hash(event: dict[str, Any], context: Sequence[str | dict[str, Any]]) -> str:
    """The event hash ``ni:///sha-256;<hex>?ver=CBV2.0`` of ``event``, read in the JSON-LD
    ``context`` of its document (the document's ``@context`` as a list)."""
    document = {
        "@context": _offline(context),
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "epcisBody": {"eventList": [copy.deepcopy(event)]},
    }
    json_to_py._namespaces.clear()
    try:
        events = json_to_py.event_list_from_epcis_document_json(document)
        hashes: list[str] = hash_generator.epcis_hashes_from_events(events)
    except Exception as exc:
        raise EventHashError(f"the reference hash implementation failed: {exc}") from exc
    # The package logs and skips an event it cannot read instead of raising.
    if len(hashes) != 1:
        raise EventHashError("the reference hash implementation could not read the event")
    return hashes[0]


def _offline(context: Sequence[str | dict[str, Any]]) -> list[str | dict[str, Any]]:
    kept: list[str | dict[str, Any]] = []
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
    """Drops the hash package's sub-WARNING records, which it sends to the root logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not record.pathname.startswith(_PACKAGE_DIR)


_PACKAGE_DIR = os.path.dirname(hash_generator.__file__)
_bundled_loader = file_document_loader()
jsonld.set_document_loader(_load_bundled)
logging.getLogger().addFilter(_QuietPackage())
