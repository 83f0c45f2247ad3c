"""A read-only ClickHouse HTTP endpoint for the embedded store, served by the sink process.

chDB locks its data folder to one process, and the sink holds it while it runs. So the sink
serves the store on 127.0.0.1 through the subset of ClickHouse's HTTP interface that clients
use to read: ``/ping``; a query in the body and/or the ``query`` parameter (also as a
multipart form); ``param_<name>`` values for ``{name:Type}`` placeholders, bound by the
engine; the ``FORMAT`` clause or ``default_format``; errors as ``Code: N. DB::Exception``
with ``X-ClickHouse-Exception-Code``. clickhouse-connect, curl and other ClickHouse HTTP
clients therefore work against it unchanged (``http://127.0.0.1:<port>``). Other query
settings are ignored.

Reads only: each query must pass :func:`sinks.sql.check_read_only`, and the engine connection
runs with ``readonly = 1``, which also refuses table functions such as ``file()``.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import logging
import os
import re
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import chdb

from sinks.config import ClickHouseTarget
from sinks.sql import ReadOnlyViolation, check_read_only

log = logging.getLogger(__name__)

_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
_ERROR_CODE = re.compile(r"Code: (\d+)\.")
_READONLY_CODE = 164
_MAX_BODY = 16 * 1024 * 1024


class QueryEndpoint:
    """The endpoint's HTTP server on 127.0.0.1:``port`` (0: any free port), in a thread."""

    def __init__(self, target: ClickHouseTarget, port: int) -> None:
        path = target.chdb_path
        if path is None:
            raise ValueError("the query endpoint serves an embedded (chdb://) target only")
        # chDB compares data paths literally: spell it as clickhouse-connect does.
        self._connection = chdb.connect(os.path.realpath(path))  # type: ignore[no-untyped-call]
        self._lock = threading.Lock()
        self._run(f"USE `{target.database}`")
        self._run("SET readonly = 1")
        self.database = target.database
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="query-endpoint", daemon=True
        )

    @property
    def port(self) -> int:
        """The port the endpoint listens on."""
        return int(self._server.server_address[1])

    def start(self) -> None:
        """Serve requests until :meth:`shutdown`."""
        self._thread.start()
        log.info("query endpoint listening", extra={"url": f"http://127.0.0.1:{self.port}"})

    def shutdown(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._thread.join()

    def server_close(self) -> None:
        """Release the socket and the engine connection."""
        self._server.server_close()
        with self._lock:
            self._connection.close()

    def _run(
        self, sql: str, fmt: str = "TabSeparated", params: dict[str, str] | None = None
    ) -> Any:
        # One engine connection serves all requests: a connection runs one query at a time.
        with self._lock:
            return self._connection.query(sql, fmt, params=params or {})

    def execute(
        self, sql: str, params: dict[str, str], default_format: str
    ) -> tuple[bytes, str, dict[str, str]]:
        """Run one read-only query: (body, format, summary). Raises :class:`ReadOnlyViolation`
        for a refused statement and chDB's error for a failed one."""
        statement = check_read_only(sql)
        match = _TRAILING_FORMAT.search(statement)
        fmt = match.group(1) if match else default_format
        started = time.perf_counter()
        result = self._run(statement, fmt, params)
        summary = {
            "read_rows": str(result.rows_read()),
            "read_bytes": str(result.bytes_read()),
            "elapsed_ns": str(int((time.perf_counter() - started) * 1e9)),
        }
        return result.bytes() or b"", fmt, summary


def _handler_for(endpoint: QueryEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        pass

    Handler.endpoint = endpoint
    return Handler


class _Handler(BaseHTTPRequestHandler):
    endpoint: QueryEndpoint
    server_version = "tracecode-sink"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("query endpoint request", extra={"request": format % args})

    def do_GET(self) -> None:
        self._handle(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, 0, "request body too large")
            return
        self._handle(self.rfile.read(length))

    def _handle(self, body: bytes) -> None:
        url = urlsplit(self.path)
        if url.path == "/ping" or (url.path == "/" and not url.query and not body):
            self._reply(HTTPStatus.OK, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
            return
        if url.path != "/":
            self._error(HTTPStatus.NOT_FOUND, 0, f"no such endpoint: {url.path}")
            return
        fields = dict(parse_qsl(url.query, keep_blank_values=True))
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            fields.update(_form_fields(content_type, body))
            body = b""
        database = fields.get("database")
        if database and database != self.endpoint.database:
            self._error(
                HTTPStatus.BAD_REQUEST,
                81,
                f"this endpoint serves database {self.endpoint.database} only",
            )
            return
        sql = "\n".join(part for part in (fields.get("query", ""), body.decode("utf-8")) if part)
        params = {k.removeprefix("param_"): v for k, v in fields.items() if k.startswith("param_")}
        try:
            data, fmt, summary = self.endpoint.execute(
                sql, params, fields.get("default_format", "TabSeparated")
            )
        except ReadOnlyViolation as error:
            self._error(HTTPStatus.FORBIDDEN, _READONLY_CODE, f"{error}. (READONLY)")
            return
        except Exception as error:  # the engine's error, passed on as ClickHouse would
            message = str(error)
            start = message.find("Code: ")
            message = message[start:] if start >= 0 else message
            code = _ERROR_CODE.search(message)
            status = (
                HTTPStatus.FORBIDDEN
                if code and int(code.group(1)) == _READONLY_CODE
                else HTTPStatus.BAD_REQUEST
            )
            self._error(status, int(code.group(1)) if code else 0, message)
            return
        headers = {
            "Content-Type": "application/octet-stream",
            "X-ClickHouse-Format": fmt,
            "X-ClickHouse-Timezone": "UTC",
            "X-ClickHouse-Summary": json.dumps(summary),
        }
        if "query_id" in fields:
            headers["X-ClickHouse-Query-Id"] = fields["query_id"]
        self._reply(HTTPStatus.OK, data, headers)

    def _error(self, status: HTTPStatus, code: int, message: str) -> None:
        if not message.startswith("Code: "):
            message = f"Code: {code}. DB::Exception: {message}"
        self._reply(
            status,
            (message.rstrip() + "\n").encode(),
            {"Content-Type": "text/plain; charset=UTF-8", "X-ClickHouse-Exception-Code": str(code)},
        )

    def _reply(self, status: HTTPStatus, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _form_fields(content_type: str, body: bytes) -> dict[str, str]:
    """The text fields of a multipart/form-data body (how long parameters are sent)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload.decode("utf-8")
    return fields
