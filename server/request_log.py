"""ASGI middleware: one log line and the metrics of each request, with its X-Skill-* attribution.

Pure ASGI (not BaseHTTPMiddleware) so it never buffers or breaks the `/run_sse` stream. The log
line carries method, route, status, time and the attribution headers; never the Authorization
header, a token or a query string (claim links carry a secret in theirs).
"""

from __future__ import annotations

import logging
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.metrics import ATTRIBUTION_HEADERS, Metrics

log = logging.getLogger("nemo.access")

# Query parameters that carry a secret: the CLI's key on its chat socket (`/ws/chat?token=`; the
# client puts it there, we cannot), and claim links (`?ct=`). uvicorn logs request paths with their
# query string (its access log, and "WebSocket <path> [accepted]"), so those lines are redacted.
_SECRET_IN_QUERY = re.compile(r"([?&](?:token|ct)=)[^&\s\"']+")
SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    return _SECRET_IN_QUERY.sub(r"\1[redacted]", text)


class QuerySecretFilter(logging.Filter):
    """Rewrites a record's message and string arguments with the secrets taken out (in place:
    uvicorn's access formatter unpacks the arguments by position)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_server_logs() -> None:
    """Install the filter on uvicorn's loggers, once per process."""
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, QuerySecretFilter) for f in logger.filters):
            logger.addFilter(QuerySecretFilter())


class RequestObserver:
    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees if the app fails before answering

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            headers = {
                k.decode("latin-1").lower(): v.decode("latin-1", "replace")[:256]
                for k, v in scope.get("headers", [])
                if k.decode("latin-1").lower() in ATTRIBUTION_HEADERS
            }
            self.metrics.observe_request(scope["method"], route, status, seconds, headers)
            log.info(
                "%s %s -> %d in %.1f ms (route %s) skill source=%s version=%s platform=%s",
                scope["method"],
                scope["path"],
                status,
                seconds * 1000,
                route,
                headers.get("x-skill-source", "-"),
                headers.get("x-skill-version", "-"),
                headers.get("x-skill-platform", "-"),
            )
