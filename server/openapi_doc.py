"""The app's OpenAPI document: FastAPI's schema plus the contract's error table (`x-error-codes`).

`scripts/export_openapi.py` writes it to `openapi.yaml`; a test checks the file equals what the
app serves, and that the table equals `ErrorCode` and api-contract.md's table.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from server.errors import HTTP_STATUS, ErrorCode

ERROR_MEANINGS: dict[ErrorCode, str] = {
    ErrorCode.TOKEN_INVALID: "token missing, malformed, unknown or expired",
    ErrorCode.SESSION_NOT_FOUND: "session not found (or not the caller's: never reveal which)",
    ErrorCode.INSUFFICIENT_CREDITS: "not enough credits; data.bind_url for anonymous users",
    ErrorCode.UNSUPPORTED_FILE_TYPE: "unsupported file type (sniffed content, not the extension)",
    ErrorCode.FILE_TOO_LARGE: "file too large",
    ErrorCode.BAD_REQUEST: "missing X-Client-Id, or any malformed request (validation)",
    ErrorCode.EXPORT_BLOCKED: "export blocked by plan gating (off by default)",
    ErrorCode.RATE_LIMITED: "rate limited (also: another turn is running on the session); Retry-After set",
    ErrorCode.URL_REFUSED: "URL refused by the fetch policy",
    ErrorCode.RENDER_NOT_FOUND: "render not found",
    ErrorCode.DUPLICATE_RENDER: "duplicate render id",
    ErrorCode.INTERNAL: "internal error (the message never leaks internals)",
}

DESCRIPTION = (
    "Drop-in replacement for the NemoVideo backend (`nemo_agent`). Every JSON answer outside "
    "`/run_sse` and the render proxy is `{code, message, data}`; `code` is authoritative, the HTTP "
    "status conventional (see `x-error-codes`). Every route also works under a path prefix."
)


def error_table() -> list[dict[str, Any]]:
    rows = [{"code": 0, "http": 200, "meaning": "success"}]
    rows += [{"code": int(c), "http": HTTP_STATUS[c], "meaning": ERROR_MEANINGS[c]} for c in ErrorCode]
    return rows


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=DESCRIPTION, routes=app.routes)
    # Validation failures answer 400 with the envelope (errors.py), never FastAPI's 422.
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            operation.get("responses", {}).pop("422", None)
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)
    schema["x-error-codes"] = error_table()
    # OpenAPI has no WebSocket operations; the gateway's chat socket is described beside them.
    from server.gateway.socket_doc import SOCKET_DOC

    schema["x-websockets"] = SOCKET_DOC
    app.openapi_schema = schema
    return schema
