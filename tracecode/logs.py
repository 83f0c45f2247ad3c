"""Logging set-up for the shell: logfmt lines for people, JSON lines for machines.

Library code logs with ``logging.getLogger(__name__)`` and passes structured fields through
``extra={...}``; both formats print those fields next to the message.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

LogFormat = Literal["logfmt", "json"]

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRIBUTES}


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


def _logfmt_value(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    if text and not any(c in text for c in ' ="\\\n\t'):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _document(record: logging.LogRecord, formatter: logging.Formatter) -> dict[str, object]:
    """What both formats write of ``record``: time, level, logger, message, fields, traceback."""
    document: dict[str, object] = {
        "ts": _timestamp(record),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
        **_fields(record),
    }
    if record.exc_info:
        document["exc"] = formatter.formatException(record.exc_info)
    return document


class LogfmtFormatter(logging.Formatter):
    """``ts=... level=... logger=... msg="..." key=value ...`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        pairs = _document(record, self)
        return " ".join(f"{key}={_logfmt_value(value)}" for key, value in pairs.items())


class JsonFormatter(logging.Formatter):
    """One JSON object per line; values JSON cannot hold are written as strings."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_document(record, self), default=str, ensure_ascii=False)


def configure_logging(
    level: str = "WARNING", log_format: LogFormat = "logfmt", stream: TextIO | None = None
) -> None:
    """Send all log records at ``level`` and above to ``stream`` (stderr) in ``log_format``."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else LogfmtFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
