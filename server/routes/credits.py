"""GET /api/credits/balance/simple: available, frozen (held by running turns), total."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from server import credits
from server.deps import CtxDep, CurrentUser
from server.errors import envelope
from server.responses import AUTH_ERRORS, Envelope, errors

router = APIRouter(tags=["credits"])


@router.get(
    "/api/credits/balance/simple",
    response_model=Envelope[credits.Balance],
    responses=errors(*AUTH_ERRORS),
    summary="The caller's credit balance",
)
def balance(ctx: CtxDep, caller: CurrentUser) -> dict[str, Any]:
    return envelope(credits.balance(ctx.engine, caller.id).model_dump())
