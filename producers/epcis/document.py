"""Reading an EPCIS 2.0 JSON / JSON-LD capture input: an ``EPCISDocument`` or one event.

These are the two bodies the EPCIS 2.0 capture interface accepts (``POST /capture`` takes a
document, ``POST /events`` a single event). An ``EPCISQueryDocument`` is the answer to a query,
not capture input, and is refused with a hint.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from producers.epcis.errors import InvalidDocumentError, Problem

EVENT_TYPES = frozenset(
    {
        "ObjectEvent",
        "AggregationEvent",
        "TransactionEvent",
        "TransformationEvent",
        "AssociationEvent",
    }
)
"""The event types of EPCIS 2.0 (others may be defined as extensions, named by a URI)."""

JsonObject = dict[str, Any]

_EPCIS_CONTEXT = re.compile(
    r"https://ref\.gs1\.org/standards/epcis/(?:2\.\d+\.\d+/)?epcis-context\.jsonld"
    r"|https://gs1\.github\.io/EPCIS/epcis-context\.jsonld"
)


def is_epcis_context(url: str) -> bool:
    """Whether ``url`` names the EPCIS 2.x JSON-LD context (current, versioned or draft)."""
    return _EPCIS_CONTEXT.fullmatch(url) is not None


def context_entries(value: Any) -> list[str | JsonObject]:
    """A ``@context`` value as a list of its URIs and objects (other entries dropped)."""
    entries = value if isinstance(value, list) else [value]
    return [entry for entry in entries if isinstance(entry, str | dict)]


EVENT_LIST_PATH: dict[str, tuple[str, ...]] = {
    "document": ("epcisBody", "eventList"),
    "query": ("epcisBody", "queryResults", "resultsBody", "eventList"),
}
"""Where each kind of document keeps its events."""


@dataclass(frozen=True, slots=True)
class CaptureInput:
    """A parsed capture input, not yet validated."""

    body: JsonObject
    """The JSON object as read."""
    kind: Literal["document", "query", "event"]
    """An ``EPCISDocument``, an ``EPCISQueryDocument`` (a query's answer, read for its
    events) or a single event."""

    @property
    def events(self) -> list[Any]:
        """The event list (for a single event, a list of it); entries may be of any JSON type
        until validated."""
        if self.kind == "event":
            return [self.body]
        holder: Any = self.body
        for key in EVENT_LIST_PATH[self.kind]:
            holder = holder.get(key) if isinstance(holder, dict) else None
        return holder if isinstance(holder, list) else []

    @property
    def context(self) -> list[str | JsonObject]:
        """The input's top-level ``@context`` as a list."""
        return context_entries(self.body.get("@context"))

    def event_context(self, event: JsonObject) -> list[str | JsonObject]:
        """The JSON-LD context in force for ``event``: the input's, then the event's own."""
        if self.kind == "event" or "@context" not in event:
            return self.context
        return [*self.context, *context_entries(event["@context"])]

    def indexed_events(self) -> Iterator[tuple[int, JsonObject]]:
        """``(index, event)`` for every event that is a JSON object."""
        for index, event in enumerate(self.events):
            if isinstance(event, dict):
                yield index, event


def read_input(data: bytes | str) -> CaptureInput:
    """Parse ``data`` as an EPCIS 2.0 capture input; raises :class:`InvalidDocumentError` when
    it is not JSON, not an object, or not a document or event."""
    try:
        body = json.loads(data, object_pairs_hook=_unique_keys, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise _rejected(
            "json", f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except ValueError as exc:  # a repeated name, bad UTF-8, NaN or Infinity
        raise _rejected("json", f"not valid JSON: {exc}") from None
    except RecursionError:
        raise _rejected("json", "JSON nested too deeply to be an EPCIS document") from None
    if not isinstance(body, dict):
        raise _rejected("document-type", "the input must be a JSON object (a document or event)")
    kind = body.get("type")
    if kind == "EPCISDocument":
        return CaptureInput(body, "document")
    if kind in EVENT_TYPES:
        return CaptureInput(body, "event")
    if kind == "EPCISQueryDocument":
        return CaptureInput(body, "query")
    raise _rejected(
        "document-type",
        f"type {kind!r} is neither EPCISDocument, EPCISQueryDocument nor one of the EPCIS 2.0 "
        "event types "
        f"({', '.join(sorted(EVENT_TYPES))})",
        field="type",
    )


class _DuplicateKeyError(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> JsonObject:
    # json.loads silently keeps the last of repeated names; EPCIS fields must be unambiguous.
    result: JsonObject = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(f"the name {key!r} appears twice in one object")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _rejected(rule: str, message: str, *, field: str = "") -> InvalidDocumentError:
    return InvalidDocumentError([Problem(field, rule, message)])
