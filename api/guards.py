"""Limits on what one client may ask: a request rate on the public endpoints (so codes cannot
be enumerated quickly) and a request body size on every endpoint.

The rate is counted per client address in this process (``limits``' moving window in
memory): behind a load balancer with several replicas each counts its own share, and the
address is the one uvicorn reports (the proxy's ``X-Forwarded-For`` when uvicorn trusts it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

PUBLIC_PREFIXES = ("/v1/track/", "/v1/lanes/", "/v1/verify/")
"""Paths anyone may call, the ones the rate applies to (and the page, when it looks a code
up)."""

Next = Callable[[Request], Awaitable[Response]]


class RequestLimits:
    """An HTTP middleware (``app.middleware("http")``) enforcing both limits."""

    def __init__(self, rate: str, max_body_bytes: int) -> None:
        self._rate = parse(rate)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._max_body = max_body_bytes

    async def __call__(self, request: Request, call_next: Next) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self._max_body):
            return JSONResponse(
                {"error": f"the request body may hold at most {self._max_body} bytes"}, 413
            )
        path = request.url.path
        if path.startswith(PUBLIC_PREFIXES) or (path == "/" and "code" in request.query_params):
            client = request.client.host if request.client else "unknown"
            if not self._limiter.hit(self._rate, client):
                reset = self._limiter.get_window_stats(self._rate, client).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                return JSONResponse(
                    {"error": f"too many requests: at most {self._rate} per client"},
                    429,
                    headers={"Retry-After": str(wait)},
                )
        return await call_next(request)
