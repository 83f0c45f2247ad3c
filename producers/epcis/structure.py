"""Structural validation of capture input against :data:`producers.epcis.schema.CAPTURE`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache

from jsonschema import Draft202012Validator, ValidationError

from producers.epcis.document import CaptureInput
from producers.epcis.errors import Problem
from producers.epcis.schema import CAPTURE


def structural_problems(capture: CaptureInput) -> list[Problem]:
    """Every way ``capture`` departs from the capture schema, each placed in its event."""
    problems: list[Problem] = []
    for error in _validator().iter_errors(capture.body):
        problems.extend(_problems(capture, error))
    # jsonschema reports each missing required field as its own error of the same keyword.
    return list(dict.fromkeys(problems))


@cache
def _validator() -> Draft202012Validator:
    Draft202012Validator.check_schema(CAPTURE)
    return Draft202012Validator(CAPTURE)


def _problems(capture: CaptureInput, error: ValidationError) -> Iterable[Problem]:
    path = list(error.absolute_path)
    index: int | None = None
    if capture.kind == "event":
        index = 0
    elif path[:2] == ["epcisBody", "eventList"] and len(path) > 2 and isinstance(path[2], int):
        index, path = path[2], path[3:]
    event_id = _event_id(capture, index)
    rule = str(error.validator)
    custom = error.schema.get("message") if isinstance(error.schema, dict) else None

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


def _event_id(capture: CaptureInput, index: int | None) -> str | None:
    if index is None or index >= len(capture.events):
        return None
    event = capture.events[index]
    event_id = event.get("eventID") if isinstance(event, dict) else None
    return event_id if isinstance(event_id, str) else None


def _render(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text
