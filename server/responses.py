"""Response shapes for the OpenAPI document: the envelope around each route's data, and the error
answers each route can give. Routes return `envelope(...)` dicts; these models only describe them.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from server.errors import HTTP_STATUS, ErrorCode

T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    """`{"code": 0, "message": "success", "data": {...}}` (api-contract.md, Conventions)."""

    code: int = 0
    message: str = "success"
    data: T


class ErrorEnvelope(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"example": {"code": 1001, "message": "unknown token", "data": {}}}
    )

    code: int
    message: str
    data: dict[str, Any]


def errors(*codes: ErrorCode) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: one entry per HTTP status its error codes use."""
    by_status: dict[int, list[ErrorCode]] = {}
    for code in (*codes, ErrorCode.BAD_REQUEST, ErrorCode.INTERNAL):
        by_status.setdefault(HTTP_STATUS[code], []).append(code)
    return {
        status: {
            "model": ErrorEnvelope,
            "description": "codes " + ", ".join(str(int(c)) for c in sorted(set(found))),
        }
        for status, found in sorted(by_status.items())
    }


AUTH_ERRORS = (ErrorCode.TOKEN_INVALID,)
SESSION_ERRORS = (ErrorCode.TOKEN_INVALID, ErrorCode.SESSION_NOT_FOUND)
