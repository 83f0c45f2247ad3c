"""Structural validation of capture input against :mod:`producers.epcis.schema`.

The envelope of a document is checked against :data:`~producers.epcis.schema.DOCUMENT`, then
each event against the schema of its type, so every problem is placed in its event.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from jsonschema import Draft202012Validator, ValidationError

from producers.epcis.document import EVENT_LIST_PATH, CaptureInput
from producers.epcis.errors import Problem
from producers.epcis.schema import DOCUMENT, EVENTS, EXTENSION_EVENT, QUERY_DOCUMENT, Schema


def _validator(schema: Schema) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


_ENVELOPES = {"document": _validator(DOCUMENT), "query": _validator(QUERY_DOCUMENT)}
_EVENTS = {kind: _validator(schema) for kind, schema in EVENTS.items()}
_EXTENSION_EVENT = _validator(EXTENSION_EVENT)


def structural_problems(capture: CaptureInput) -> list[Problem]:
    """Every way ``capture`` departs from the capture schemas, each placed in its event."""
    problems: list[Problem] = []
    envelope = _ENVELOPES.get(capture.kind)
    if envelope is not None:
        for error in envelope.iter_errors(capture.body):
            problems.extend(_problems(error, None, None, capture))
    elif "@context" not in capture.body:
        problems.append(
            Problem("@context", "required", "a single event must carry its @context", 0)
        )
    for index, event in capture.indexed_events():
        event_id = event.get("eventID")
        event_id = event_id if isinstance(event_id, str) else None
        kind = event.get("type")
        validator = (
            _EVENTS.get(kind, _EXTENSION_EVENT) if isinstance(kind, str) else _EXTENSION_EVENT
        )
        for error in validator.iter_errors(event):
            problems.extend(_problems(error, index, event_id, capture))
    # jsonschema reports each missing required field as its own error of the same keyword.
    return list(dict.fromkeys(problems))


def _problems(
    error: ValidationError, index: int | None, event_id: str | None, capture: CaptureInput
) -> Iterable[Problem]:
    path = list(error.absolute_path)
    events = capture.events
    prefix = list(EVENT_LIST_PATH.get(capture.kind, ()))
    if index is None and prefix and path[: len(prefix)] == prefix and len(path) > len(prefix):
        # An envelope problem inside the event list (an event that is no object, has no type).
        index, path = int(path[len(prefix)]), path[len(prefix) + 1 :]
        event = events[index]
        given = event.get("eventID") if isinstance(event, dict) else None
        event_id = given if isinstance(given, str) else None
    rule = str(error.validator)
    custom = error.schema.get("message") if isinstance(error.schema, dict) else None
    if isinstance(custom, dict):
        custom = custom.get(rule)

    def problem(field_path: Sequence[str | int], message: str) -> Problem:
        return Problem(_render(field_path), rule, message, index, event_id)

    if "propertyNames" in error.relative_schema_path:
        rule = "field-name"
        name = str(error.instance)
        message = custom or f"{name!r} is not an allowed field name"
        yield problem([*path, name], message.format(instance=name))
    elif rule == "required" and isinstance(error.validator_value, list):
        for name in error.validator_value:
            if isinstance(error.instance, dict) and name not in error.instance:
                yield problem([*path, name], "required field is missing")
    else:
        message = custom.format(instance=error.instance) if custom else error.message
        yield problem(path, message)


def _render(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text
