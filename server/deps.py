"""FastAPI dependencies every route module uses: the app context, a DB session, the caller.

Routes take these through the `Annotated` aliases (`CtxDep`, `DbDep`, `CurrentUser`,
`AttributionDep`), never by reaching into `request.app.state` themselves.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlmodel import Session

from database.engine import read_session
from server.auth import hash_token, identify, parse_bearer
from server.context import AppContext
from server.errors import ApiError, ErrorCode
from server.rate_limit import limiter_for
from server.tables import ChatSession, User


def get_ctx(request: Request) -> AppContext:
    return request.app.state.ctx  # type: ignore[no-any-return]


CtxDep = Annotated[AppContext, Depends(get_ctx)]


def get_db(ctx: CtxDep) -> Iterator[Session]:
    """A read session for the request. Writes go through the owning module's transaction()
    (session_store, credits, ...): on SQLite a read here never blocks them."""
    with read_session(ctx.engine) as db:
        yield db


DbDep = Annotated[Session, Depends(get_db)]


async def current_user(ctx: CtxDep, authorization: Annotated[str | None, Header()] = None) -> User:
    return await user_of(ctx, authorization)


async def user_of(ctx: AppContext, authorization: str | None) -> User:
    """The caller behind `Authorization: Bearer <token>` (1001 otherwise), counted by the per-token
    rate limit. Shared by the HTTP routes and the gateway's WebSocket, whose token rides in the URL."""
    # async on purpose: a cached token costs no thread hop and no query (see TokenCache).
    digest = hash_token(ctx.secret, parse_bearer(authorization))
    now = ctx.clock.now()
    cached = ctx.tokens.get(digest, now)
    if cached is not None:
        user = cached
    else:
        user, expires_at = await run_in_threadpool(_identify, ctx, authorization, now)
        ctx.tokens.put(digest, user, expires_at)
    limiter = limiter_for(ctx)
    if limiter is not None:  # counted per valid token, by its keyed hash (429 + Retry-After past it)
        if limiter.in_memory:
            limiter.check(digest)
        else:  # a network store (Redis) must not block the event loop
            await run_in_threadpool(limiter.check, digest)
    return user


def _identify(ctx: AppContext, authorization: str | None, now: datetime) -> tuple[User, datetime]:
    with read_session(ctx.engine) as db:
        return identify(db, ctx.secret, authorization, now=now)


CurrentUser = Annotated[User, Depends(current_user)]


class Attribution(BaseModel):
    """The X-Skill-* headers clients send; recorded on every call, gating only when configured."""

    source: str | None = None
    version: str | None = None
    platform: str | None = None

    @property
    def present(self) -> bool:
        return bool(self.source or self.version or self.platform)


ATTRIBUTION_MAX_CHARS = 256  # what the job row keeps of each header


def _kept(value: str | None) -> str | None:
    return value[:ATTRIBUTION_MAX_CHARS] if value else value


def attribution(
    x_skill_source: Annotated[str | None, Header()] = None,
    x_skill_version: Annotated[str | None, Header()] = None,
    x_skill_platform: Annotated[str | None, Header()] = None,
) -> Attribution:
    # The headers are accepted on every call (api-contract.md): an over-long one is cut to what is
    # recorded, never a reason to refuse the call.
    return Attribution(
        source=_kept(x_skill_source), version=_kept(x_skill_version), platform=_kept(x_skill_platform)
    )


AttributionDep = Annotated[Attribution, Depends(attribution)]


def public_base_url(request: Request, ctx: AppContext) -> str:
    """The base of every URL an answer hands out (cdn_url, outputUrl, claim_url), no trailing
    slash: NEMO_PUBLIC_URL when set. Else where the client reached us, path prefix included, but
    only when its Host names loopback or one of NEMO_ALLOWED_HOSTS: the Host header is the
    caller's to choose, and links are stored (state, renders) and handed to people, so any other
    Host gets links to the address the server was told to listen on instead."""
    settings = ctx.settings
    if settings.public_url:
        return settings.public_url.rstrip("/")
    if trusted_host(request.url.hostname, settings.allowed_hosts):
        return str(request.base_url).rstrip("/")
    host = settings.host if settings.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    root = request.scope.get("root_path", "")
    return f"http://{host}:{settings.port}{root}".rstrip("/")


def trusted_host(hostname: str | None, allowed: list[str]) -> bool:
    """A Host the links may name: loopback (any spelling ipaddress knows, or `localhost`) or an
    operator-listed name (case-insensitive, no port)."""
    if not hostname:
        return False
    name = hostname.lower().rstrip(".").strip("[]")
    if name == "localhost" or name in {h.lower().rstrip(".") for h in allowed}:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_user_segment(segment: str, user: User) -> None:
    """`/me/` in paths: the literal `me` or the caller's own id; anything else is 1001."""
    if segment not in ("me", user.id):
        raise ApiError(ErrorCode.TOKEN_INVALID, "the user in the path is not the token's user")


def owned_session(db: Session, user: User, session_id: str) -> ChatSession:
    """The caller's session, or 1002: a missing session and another user's look the same."""
    row = db.get(ChatSession, session_id) if session_id.isdigit() and len(session_id) <= 32 else None
    if row is None or row.user_id != user.id:
        raise ApiError(ErrorCode.SESSION_NOT_FOUND, "session not found; create a new session")
    return row
