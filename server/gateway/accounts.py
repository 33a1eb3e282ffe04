"""The gateway's account routes: POST /auth/verify, GET /billing/balance, GET /billing/usage/conversations.

Keys are our tokens (`nmv_usr_...`): a user gets one from POST /api/auth/anonymous-token, as the
skills do (README, "Clients"). A bad key is code 1001 with HTTP 401, which the CLI reads as an
auth error (it checks the status as well as its own gateway's codes 1010/1011).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.concurrency import run_in_threadpool

from database.engine import read_session
from server import credits
from server.auth import identify, iso_utc
from server.deps import CtxDep, CurrentUser
from server.errors import ApiError, ErrorCode, envelope
from server.gateway.models import GatewayBalance, UsagePage, Verified, VerifyRequest
from server.gateway.usage import usage_page
from server.responses import AUTH_ERRORS, Envelope, errors

router = APIRouter(tags=["gateway"])

MAX_PAGE_SIZE = 100  # the CLI caps page_size at 100 too
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@router.post(
    "/auth/verify",
    response_model=Envelope[Verified],
    responses=errors(*AUTH_ERRORS),
    summary="Check a key (the body's `token`, else the Authorization header's): 1001 when it is not valid",
)
async def verify(
    ctx: CtxDep,
    body: VerifyRequest | None = None,
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    header = f"Bearer {body.token.strip()}" if body is not None and body.token else authorization

    def check() -> dict[str, Any]:
        with read_session(ctx.engine) as db:
            user, expires_at = identify(db, ctx.secret, header, now=ctx.clock.now())
        return {"user_id": user.id, "anonymous": user.anonymous, "expires_at": iso_utc(expires_at)}

    return envelope(Verified(**await run_in_threadpool(check)).model_dump())


@router.get(
    "/billing/balance",
    response_model=Envelope[GatewayBalance],
    responses=errors(*AUTH_ERRORS),
    summary="The caller's credits: available, frozen, total and total_consumed",
)
def balance(ctx: CtxDep, caller: CurrentUser) -> dict[str, Any]:
    now = credits.balance(ctx.engine, caller.id)
    return envelope({**now.model_dump(), "total_consumed": credits.spent(ctx.engine, caller.id)})


def _day(value: str | None, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        if not _DATE.match(value):
            raise ValueError(value)
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ApiError(ErrorCode.BAD_REQUEST, f"{name} must be a date as YYYY-MM-DD (UTC)") from None


@router.get(
    "/billing/usage/conversations",
    response_model=Envelope[UsagePage],
    responses=errors(*AUTH_ERRORS),
    summary="Credit history, newest first: each charged chat turn, and the credits granted",
)
def usage_conversations(
    ctx: CtxDep,
    caller: CurrentUser,
    page_no: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE,
    start_date: Annotated[str | None, Query(description="YYYY-MM-DD, UTC, inclusive")] = None,
    end_date: Annotated[str | None, Query(description="YYYY-MM-DD, UTC, inclusive")] = None,
) -> dict[str, Any]:
    since = _day(start_date, "start_date")
    last_day = _day(end_date, "end_date")
    until = last_day + timedelta(days=1) if last_day is not None else None
    page = usage_page(ctx.engine, caller, page_no=page_no, page_size=page_size, since=since, until=until)
    return envelope(page.model_dump(mode="json"))
