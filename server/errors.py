"""The error table of api-contract.md, the one error type, the envelope and the one handler.

A test keeps `ErrorCode`, the contract's table and `openapi.yaml` identical.

The exception map: every exception type of ours, who raises it, and where it stops. Only `ApiError`
reaches a client; every other one is caught at the boundary named here and becomes an ApiError, a
job row, an event or a log line.

    Exception                                   the one handler here: 500 INTERNAL, logged
    +-- ApiError (server/errors.py)             any request refusal -> the envelope, `code`, status
    +-- FetchError (server/fetch_url.py)        the URL guard refused or failed -> ApiError
    |                                           URL_REFUSED / FILE_TOO_LARGE (routes/uploads.py,
    |                                           renders/sources.py)
    +-- LeaseLost (server/turn_lock.py)         another process took a session's turn -> the turn
    |                                           stops quietly (turns.py); its reader hears of it
    +-- DroppedConnection (server/fake/)        fake mode only: drop the stream on purpose
    +-- ValueError
    |   +-- StorageError (server/storage.py)    a storage key that leaves the root -> 404 (routes/media.py)
    +-- ToolError (agent/tools.py)              a tool refused its arguments -> back to the planner
    |                                           as the function response (runner.py); never raised out
    +-- Question (agent/rule_edits.py)          the rule planner needs an answer -> a reply text
    +-- LLMUnavailable (agent/llm_planner.py)   the endpoint failed after retries -> the fallback
    |                                           planner takes the turn (or, mid-turn, a note says so)
    +-- MediaError (renderer/media/sniff.py)    not media we accept -> UNSUPPORTED_FILE_TYPE /
    |                                           FILE_TOO_LARGE (uploads.py); RenderError in decoders
    +-- RenderError (renderer/errors.py)        a render that cannot succeed -> Failed(code, message)
    |                                           from the child (render_jobs/child.py) -> the job row
    |                                           `failed` with that code; anything else in the child
    |                                           is Crashed -> retried, then failed
    +-- DuplicateRenderId (render_jobs/lease.py) -> ApiError DUPLICATE_RENDER (renders/submission.py)

After an SSE stream has started no handler can run: the chat route catches at the generator and
sends the final `author: system` error event (api-contract.md).
"""

from __future__ import annotations

import errno
import logging
from enum import IntEnum
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("nemo.errors")


class ErrorCode(IntEnum):
    TOKEN_INVALID = 1001
    SESSION_NOT_FOUND = 1002
    INSUFFICIENT_CREDITS = 2001
    UNSUPPORTED_FILE_TYPE = 4001
    FILE_TOO_LARGE = 4002
    BAD_REQUEST = 400
    EXPORT_BLOCKED = 402
    RATE_LIMITED = 429
    # ours, for cases the client documents do not name
    URL_REFUSED = 4003
    RENDER_NOT_FOUND = 4004
    DUPLICATE_RENDER = 4009
    INTERNAL = 5000


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.TOKEN_INVALID: 401,
    ErrorCode.SESSION_NOT_FOUND: 404,
    ErrorCode.INSUFFICIENT_CREDITS: 402,
    ErrorCode.UNSUPPORTED_FILE_TYPE: 415,
    ErrorCode.FILE_TOO_LARGE: 413,
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.EXPORT_BLOCKED: 402,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.URL_REFUSED: 400,
    ErrorCode.RENDER_NOT_FOUND: 404,
    ErrorCode.DUPLICATE_RENDER: 409,
    ErrorCode.INTERNAL: 500,
}


class ApiError(Exception):
    """Every refusal the API makes. `data` rides in the envelope (e.g. `bind_url` for 2001)."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data
        self.headers = headers
        # The body's code is authoritative (api-contract.md); a more precise HTTP status than the
        # code's conventional one helps HTTP-minded clients (413 body too large, 507 disk full).
        self.status = status

    @property
    def status_code(self) -> int:
        return self.status or HTTP_STATUS[self.code]


def envelope(data: Any = None, *, code: int = 0, message: str = "success") -> dict[str, Any]:
    return {"code": code, "message": message, "data": data if data is not None else {}}


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(
        envelope(error.data, code=int(error.code), message=error.message),
        status_code=error.status_code,
        headers=error.headers,
    )


DISK_FULL_MESSAGE = (
    "the server's disk is full, so nothing was stored; try again later (the operator must free space)"
)


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC/EDQUOT anywhere in the chain, or SQLite's SQLITE_FULL ("database or disk is full")."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "database or disk is full" in str(current):
            return True
        current = current.__cause__ or current.__context__ or getattr(current, "orig", None)
    return False


def disk_full_error() -> ApiError:
    return ApiError(ErrorCode.INTERNAL, DISK_FULL_MESSAGE, status=507)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body",))
        parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else str(err.get("msg")))
    return "invalid request: " + "; ".join(parts)


def install_handlers(app: FastAPI) -> None:
    """The one place exceptions become answers; nothing else builds an error body."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(ApiError(ErrorCode.BAD_REQUEST, _validation_message(exc)))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {401: ErrorCode.TOKEN_INVALID, 404: ErrorCode.RENDER_NOT_FOUND}.get(
            exc.status_code, ErrorCode.BAD_REQUEST
        )
        message = str(exc.detail) if exc.status_code < 500 else "internal error"
        if exc.status_code == 404:
            message = "not found"
        body = envelope(code=int(code), message=message)
        return JSONResponse(body, status_code=exc.status_code)

    async def _environment(request: Request, exc: Exception) -> JSONResponse:
        # Registered per class (not only under Exception), so Starlette answers from its inner
        # exception middleware: the outer one re-raises after answering, and uvicorn then drops the
        # connection, which a client still sending an upload sees as a reset instead of the answer.
        if is_disk_full(exc):  # not a bug: the one 5xx whose reason the caller is told
            log.error("disk full on %s %s: %s", request.method, request.url.path, exc)
            return error_response(disk_full_error())
        return await _unexpected(request, exc)

    app.add_exception_handler(OSError, _environment)
    app.add_exception_handler(DBAPIError, _environment)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(ApiError(ErrorCode.INTERNAL, "internal error; the server log has the details"))
