"""ASGI middleware: what every request body must be before a route sees it.

- Any body: a sender that goes silent mid-body is dropped after `idle_timeout_s` without a byte
  (400, HTTP 408). uvicorn has no body timeout, so a stalled upload would otherwise hold its
  connection and its temp files forever. Only the body is timed: once it is complete, a route may
  wait on the connection as long as it likes (an SSE stream listens for the disconnect).
- JSON bodies (and bodies without a Content-Type, or labelled as a form, which the app reads as
  JSON): at most
  `max_json_bytes`, refused from Content-Length before reading and counted while reading
  (chunked bodies too); then parsed once here, and refused unless every number is finite (no
  `NaN`, `Infinity`, `1e999`), nesting stays within MAX_JSON_DEPTH, and every string is valid
  Unicode (no lone surrogate escape like `\\ud800`, which no database or stream can store). Those
  are the inputs that otherwise surface later as a RecursionError, a NaN box that crashes a
  render three times, or a chat stream cut with 5000; refused here, each is one 400 that says
  what to fix, on every route at once. The route then reads the same bytes again.
Multipart bodies stream on to the route (uploads count their own bytes against their limits).
"""

from __future__ import annotations

import json
import math
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.errors import ApiError, ErrorCode, error_response
from server.form_json import FORM

MAX_JSON_DEPTH = 64  # a draft is 6 deep; clients' state_delta a few more
_PARSE_IN_THREAD_BYTES = 64 * 1024  # larger bodies are parsed off the event loop


class BodyRefused(ApiError):
    """A body this guard will not hand to a route."""


def stalled(idle_timeout_s: float) -> ApiError:
    return ApiError(
        ErrorCode.BAD_REQUEST,
        f"the request body stalled (nothing received for {idle_timeout_s:g} s); send it again",
        status=408,
    )


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            # A form is JSON mislabelled by `curl -d` (server/form_json.py relabels it after this).
            return media in (b"", b"application/json", FORM) or media.endswith(b"+json")
    return True  # no Content-Type: read as JSON (create_app's strict_content_type=False)


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BodyRefused(ErrorCode.BAD_REQUEST, f"numbers must be finite; {text[:40]} is not")
    return value


def _no_constant(name: str) -> Any:
    raise BodyRefused(ErrorCode.BAD_REQUEST, f"numbers must be finite; {name} is not JSON")


def check_json(body: bytes) -> None:
    """Raise BodyRefused unless the body is JSON within the rules above. A body that is not JSON
    at all passes: the route answers that with its own, more specific message."""
    try:
        value = json.loads(body, parse_float=_finite, parse_constant=_no_constant)
    except RecursionError:
        raise BodyRefused(
            ErrorCode.BAD_REQUEST, f"JSON nested too deeply (at most {MAX_JSON_DEPTH} levels)"
        ) from None
    except (ValueError, UnicodeDecodeError):
        return
    # Iterative walk: depth and strings, without recursing on the caller's nesting.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > MAX_JSON_DEPTH:
                raise BodyRefused(
                    ErrorCode.BAD_REQUEST, f"JSON nested too deeply (at most {MAX_JSON_DEPTH} levels)"
                )
            for key, child in item.items():
                _check_text(key)
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            if depth > MAX_JSON_DEPTH:
                raise BodyRefused(
                    ErrorCode.BAD_REQUEST, f"JSON nested too deeply (at most {MAX_JSON_DEPTH} levels)"
                )
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _check_text(item)
        elif isinstance(item, int) and not isinstance(item, bool) and item.bit_length() > 64:
            raise BodyRefused(ErrorCode.BAD_REQUEST, "integers must fit in 64 bits")


def _check_text(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BodyRefused(
            ErrorCode.BAD_REQUEST,
            "text must be valid Unicode: a lone surrogate (\\ud800-\\udfff) is not a character; "
            "send the character itself or its full surrogate pair",
        ) from None


class BodyGuard:
    def __init__(self, app: ASGIApp, *, max_json_bytes: int, idle_timeout_s: float) -> None:
        self.app = app
        self.max_json_bytes = max_json_bytes
        self.idle_timeout_s = idle_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not _is_json(scope):
            await self.app(scope, self._timed(receive), send)
            return
        try:
            body = await self._read_json_body(scope, receive)
            if body:
                if len(body) > _PARSE_IN_THREAD_BYTES:
                    await anyio.to_thread.run_sync(check_json, body)
                else:
                    check_json(body)
        except ApiError as refused:
            await error_response(refused)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    def _too_large(self) -> ApiError:
        limit_mb = self.max_json_bytes / (1024 * 1024)
        return BodyRefused(
            ErrorCode.BAD_REQUEST,
            f"JSON body too large (limit {limit_mb:g} MB, NEMO_MAX_JSON_MB); send a smaller draft",
            status=413,
        )

    async def _read_json_body(self, scope: Scope, receive: Receive) -> bytes:
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_json_bytes:
            raise self._too_large()  # answered before a byte of the body is read
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await self._receive_within(receive)
            if message["type"] != "http.request":  # the client left: nothing to answer
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_json_bytes:
                raise self._too_large()
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def _receive_within(self, receive: Receive) -> Message:
        with anyio.move_on_after(self.idle_timeout_s) as scope:
            return await receive()
        assert scope.cancelled_caught
        raise stalled(self.idle_timeout_s)

    def _timed(self, receive: Receive) -> Receive:
        """receive() with the idle timeout until the body is complete, then as it was."""
        done = False

        async def timed() -> Message:
            nonlocal done
            if done:
                return await receive()
            message = await self._receive_within(receive)
            if message["type"] != "http.request" or not message.get("more_body", False):
                done = True
            return message

        return timed


class _Disconnected(ApiError):
    def __init__(self) -> None:
        super().__init__(ErrorCode.BAD_REQUEST, "the client disconnected")


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
