"""ASGI middleware: one log line and the metrics of each request, with its X-Skill-* attribution.

Pure ASGI (not BaseHTTPMiddleware) so it never buffers or breaks the `/run_sse` stream. The log
line carries method, route, status, time and the attribution headers; never the Authorization
header, a token or a query string (claim links carry a secret in theirs).
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.metrics import ATTRIBUTION_HEADERS, Metrics

log = logging.getLogger("nemo.access")
UVICORN_ACCESS = "uvicorn.access"
# uvicorn's other logger, where it writes `WebSocket /ws/chat?token=nmv_usr_... [accepted]`: the
# official CLI puts its key in the chat socket's URL (its choice, not ours).
UVICORN_SERVER = "uvicorn.error"


class QueryStringRedactor(logging.Filter):
    """On uvicorn's access log: the request line without its query string.

    uvicorn logs `GET /workspace/claim?ct=clm_... HTTP/1.1`, and a claim token is a week-long bearer
    secret; access logs are kept and shipped by people who should not hold it. The record's
    arguments are (client, method, path with query, http version, status); the path keeps `?`
    followed by `[redacted]` so the line still shows a query was there."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0] + "?[redacted]", *args[3:])
        return True


class SocketPathRedactor(logging.Filter):
    """On uvicorn's server log: the paths of its WebSocket lines (`'%s - "WebSocket %s" ...'`,
    arguments (client, path with query)) without their query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(record.msg, str) and "WebSocket" in record.msg and isinstance(args, tuple):
            record.args = tuple(
                a.split("?", 1)[0] + "?[redacted]"
                if isinstance(a, str) and a.startswith("/") and "?" in a
                else a
                for a in args
            )
        return True


def redact_access_log() -> None:
    """Install the redactors on uvicorn's loggers once per process (every app calls it)."""
    for name, kind in ((UVICORN_ACCESS, QueryStringRedactor), (UVICORN_SERVER, SocketPathRedactor)):
        logger = logging.getLogger(name)
        if not any(isinstance(f, kind) for f in logger.filters):
            logger.addFilter(kind())


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
