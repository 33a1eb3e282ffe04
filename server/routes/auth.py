"""POST /api/auth/anonymous-token: a token per client id, idempotent for its 7-day life for the
caller that owns the client id (server/auth.py, issue_anonymous)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel

from server.auth import iso_utc, issue_anonymous
from server.deps import CtxDep
from server.errors import ApiError, ErrorCode, envelope
from server.responses import Envelope, errors

router = APIRouter(tags=["auth"])

MAX_CLIENT_ID = 64


class AnonymousToken(BaseModel):
    token: str
    user_id: str
    expires_at: str
    credits: int


def _bearer_or_none(authorization: str | None) -> str | None:
    """The token in an Authorization header, if any; this call needs none, so junk is ignored."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


@router.post(
    "/api/auth/anonymous-token",
    response_model=Envelope[AnonymousToken],
    responses=errors(ErrorCode.RATE_LIMITED),
    summary="Get (or get back) the anonymous token of a client id",
)
def anonymous_token(
    request: Request,
    ctx: CtxDep,
    x_client_id: Annotated[str | None, Header(description="the client's stable id, <= 64 chars")] = None,
    authorization: Annotated[
        str | None,
        Header(description="optional: a token this client id was given before (proves it is yours)"),
    ] = None,
) -> dict[str, Any]:
    client_id = (x_client_id or "").strip()
    if not client_id:
        raise ApiError(ErrorCode.BAD_REQUEST, "missing X-Client-Id header")
    if len(client_id) > MAX_CLIENT_ID or not client_id.isprintable():
        raise ApiError(
            ErrorCode.BAD_REQUEST, f"X-Client-Id must be 1 to {MAX_CLIENT_ID} printable characters"
        )
    settings = ctx.settings
    issued = issue_anonymous(
        ctx.engine,
        ctx.secret,
        client_id=client_id,
        ip=request.client.host if request.client else "unknown",
        credits=settings.anon_credits,
        ttl=timedelta(days=settings.token_ttl_days),
        per_ip=settings.anon_tokens_per_ip,
        now=ctx.clock.now(),
        ids=ctx.ids,
        presented=_bearer_or_none(authorization),
    )
    return envelope(
        {
            "token": issued.token,
            "user_id": issued.user_id,
            "expires_at": iso_utc(issued.expires_at),
            "credits": issued.credits,
        }
    )
