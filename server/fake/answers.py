"""The error a fault answers with: the same ApiError (so the same envelope, status and headers)
the real code path raises, with the real message unless the test gave its own."""

from __future__ import annotations

from typing import Any

from server.config import Settings
from server.errors import ApiError, ErrorCode
from server.fake.faults import Fault

_MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.TOKEN_INVALID: "token expired; get a new anonymous token",
    ErrorCode.SESSION_NOT_FOUND: "session not found; create a new session",
    ErrorCode.BAD_REQUEST: "invalid request",
    ErrorCode.EXPORT_BLOCKED: "export needs the X-Skill-Source, X-Skill-Version and X-Skill-Platform headers",
    ErrorCode.RATE_LIMITED: "rate limited; retry later",
    ErrorCode.URL_REFUSED: "the URL is refused by the fetch policy",
    ErrorCode.RENDER_NOT_FOUND: "render not found",
    ErrorCode.DUPLICATE_RENDER: "duplicate render id; choose a new id",
    ErrorCode.INTERNAL: "internal error; the server log has the details",
}


def fault_error(fault: Fault, settings: Settings, filenames: list[str]) -> ApiError:
    assert fault.error is not None
    code = ErrorCode(fault.error)
    data: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    message = _MESSAGES.get(code, code.name.lower())
    if code == ErrorCode.INSUFFICIENT_CREDITS:
        cost = settings.turn_cost
        message = f"not enough credits: this turn needs {cost}, 0 available"
        data = {"required": cost, "available": 0, "bind_url": fault.bind_url or settings.bind_url}
    elif code == ErrorCode.RATE_LIMITED:
        headers = {"Retry-After": str(fault.retry_after)}
    elif code in (ErrorCode.UNSUPPORTED_FILE_TYPE, ErrorCode.FILE_TOO_LARGE):
        from server.uploads import ACCEPTED

        name = filenames[0] if filenames else "file"
        if code == ErrorCode.UNSUPPORTED_FILE_TYPE:
            message = f"{name}: unsupported file type; accepted: {ACCEPTED}"
        else:
            message = f"file too large (limit {settings.max_upload_mb} MB); compress it"
    message = fault.message or message
    if code in (ErrorCode.UNSUPPORTED_FILE_TYPE, ErrorCode.FILE_TOO_LARGE):
        # An upload batch names its bad files (routes/uploads.py does the same).
        names = filenames or ["file"]
        data = {"errors": [{"filename": n, "code": int(code), "message": message} for n in names]}
    return ApiError(code, message, data=data, headers=headers)
