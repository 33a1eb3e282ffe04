"""FakeMiddleware: journal every request, apply queued faults, give renders the fake's defaults.

Pure ASGI, inside the prefix and observer middleware: it sees the route path (prefix removed),
and the access log and metrics still see what a faulted request answered. JSON bodies (small by
contract) are read whole first, so a fault can match on the session named in them and a render
submission can carry the fake's render settings; other bodies stream through untouched, only
summarised on the way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette._utils import get_route_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.context import AppContext
from server.errors import error_response
from server.fake.answers import fault_error
from server.fake.faults import RENDER_SUBMIT_PATHS, Fault
from server.fake.journal import MultipartScanner, json_summary
from server.fake.state import FakeState, fake_state
from server.fake.stream import DroppedConnection, StreamFault

MAX_JSON_BODY = 8 * 1024 * 1024
_SESSION_IN_PATH = re.compile(r"/(\d{10,32})(?=/|$)")


class FakeMiddleware:
    def __init__(self, app: ASGIApp, *, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx

    @property
    def fake(self) -> FakeState:
        return fake_state(self.ctx)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route_path = get_route_path(scope) if scope["type"] == "http" else ""
        if scope["type"] != "http" or route_path.startswith("/_fake"):
            await self.app(scope, receive, send)
            return
        entry = self.fake.journal.start(scope, route_path)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        content_type = headers.get("content-type", "").lower()
        raw_receive = receive
        body: bytes | None = None
        scanner: MultipartScanner | None = None
        if content_type.startswith("application/json") or _small_unknown(scope, headers):
            body, receive = await _read_whole(receive)
            if body is not None:
                entry["body"] = json_summary(body)
        elif content_type.startswith("multipart/"):
            scanner = MultipartScanner.for_content_type(headers.get("content-type", ""))
            if scanner is not None:
                receive = _tee(receive, scanner, entry)

        session_id = _session_of(route_path, body)
        entry["session_id"] = session_id
        fault = self.fake.faults.take(scope["method"], route_path, session_id)
        if fault is not None:
            entry["fault"] = {"id": fault.id, "kind": fault.kind}

        async def recorded_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = int(message["status"])
            await send(message)

        if fault is not None and fault.latency_ms:
            await asyncio.sleep(fault.latency_ms / 1000)
        if fault is not None and fault.error is not None:
            if scanner is not None:  # an upload refusal names the files, as the real one does
                await _drain(receive)
            names = [p["filename"] for p in scanner.parts if p["filename"]] if scanner else []
            error = fault_error(fault, self.ctx.settings, names)
            await error_response(error)(scope, receive, recorded_send)
            return

        if body is not None and scope["method"] == "POST" and route_path in RENDER_SUBMIT_PATHS:
            body = self._render_body(body, fault)
            scope = _with_body_length(scope, len(body))
            receive = _replay(body, raw_receive)

        if fault is None or fault.stream is None:
            await self.app(scope, receive, recorded_send)
            return
        stream = StreamFault(fault, recorded_send, event_ids=self.ctx.ids.event_id, now=self.ctx.clock.time)
        try:
            await self.app(scope, receive, stream.send)
            await stream.finish()
        except BaseException:
            if stream.dropped:
                raise DroppedConnection("fault: connection dropped") from None
            raise

    def _render_body(self, body: bytes, fault: Fault | None) -> bytes:
        """The fake's render settings (small, fastest preset) and any render fault, carried to the
        render child inside `output` (OutputSpec keeps extra keys)."""
        try:
            data = json.loads(body)
        except ValueError:
            return body
        if not isinstance(data, dict):
            return body
        output = data.get("output")
        output = dict(output) if isinstance(output, dict) else {}
        extra = self.fake.render.output_extra(bool(output.pop("fake_full_size", False)))
        if fault is not None and fault.render is not None:
            extra.update(fault=fault.render, seconds=fault.duration(), message=fault.message)
        output["fake"] = extra
        data["output"] = output
        return json.dumps(data).encode()


def _small_unknown(scope: Scope, headers: dict[str, str]) -> bool:
    """A body without a content type that is small enough to look at (curl -d sends form type)."""
    length = headers.get("content-length", "")
    return scope["method"] in ("POST", "PUT", "PATCH") and "content-type" not in headers and length.isdigit()


async def _read_whole(receive: Receive) -> tuple[bytes | None, Receive]:
    """The whole body, and a receive that replays it; (None, passthrough) past MAX_JSON_BODY."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None, _prepend([*_as_messages(chunks), message], receive)
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), _replay(b"".join(chunks), receive)
        if size > MAX_JSON_BODY:
            return None, _prepend(_as_messages(chunks, more=True), receive)


def _as_messages(chunks: list[bytes], more: bool = True) -> list[Message]:
    return [{"type": "http.request", "body": c, "more_body": more} for c in chunks]


def _prepend(messages: list[Message], receive: Receive) -> Receive:
    queue = list(messages)

    async def replay() -> Message:
        return queue.pop(0) if queue else await receive()

    return replay


def _replay(body: bytes, after: Receive) -> Receive:
    """The body once, then the client's own receive (a disconnect is still seen)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await after()

    return replay


def _tee(receive: Receive, scanner: MultipartScanner, entry: dict[str, Any]) -> Receive:
    async def teed() -> Message:
        message = await receive()
        if message["type"] == "http.request":
            scanner.feed(message.get("body", b""))
            entry["body"] = scanner.summary()
        return message

    entry["body"] = scanner.summary()
    return teed


async def _drain(receive: Callable[[], Awaitable[Message]]) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


def _with_body_length(scope: Scope, length: int) -> Scope:
    headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
    headers.append((b"content-length", str(length).encode()))
    return {**scope, "headers": headers}


def _session_of(route_path: str, body: bytes | None) -> str | None:
    if body:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict):
            for key in ("session_id", "sessionId"):
                if isinstance(data.get(key), str):
                    return str(data[key])
    match = _SESSION_IN_PATH.search(route_path)
    return match.group(1) if match else None


class _QuietDrops(logging.Filter):
    """uvicorn logs every exception that ends a response; a fault's dropped connection is wanted."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not _is_drop(exc)


def _is_drop(exc: BaseException | None) -> bool:
    if isinstance(exc, DroppedConnection):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return any(_is_drop(e) for e in exc.exceptions)
    return False


def quiet_dropped_connections() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in logger.filters):
        logger.addFilter(_QuietDrops())
