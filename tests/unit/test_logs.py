"""tracecode.logs: logfmt and JSON lines with structured fields."""

from __future__ import annotations

import io
import json
import logging

import pytest

from tracecode.logs import configure_logging


@pytest.fixture
def restore_root_logger() -> object:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield None
    root.handlers[:] = handlers
    root.setLevel(level)


def test_logfmt_line_carries_extra_fields(restore_root_logger: object) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "logfmt", stream)

    logging.getLogger("tracecode.test").info(
        "broker started", extra={"pid": 42, "path": "/tmp/a b"}
    )

    line = stream.getvalue().strip()
    assert "level=info" in line
    assert "logger=tracecode.test" in line
    assert 'msg="broker started"' in line
    assert "pid=42" in line
    assert 'path="/tmp/a b"' in line


def test_json_line_is_one_object(restore_root_logger: object) -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream)

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("x").exception("failed", extra={"topic": "t", "count": 3})

    document = json.loads(stream.getvalue())
    assert document["msg"] == "failed"
    assert document["level"] == "error"
    assert (document["topic"], document["count"]) == ("t", 3)
    assert "RuntimeError: boom" in document["exc"]


def test_level_filters(restore_root_logger: object) -> None:
    stream = io.StringIO()
    configure_logging("WARNING", "logfmt", stream)

    logging.getLogger("x").info("hidden")

    assert stream.getvalue() == ""
