"""/_fake/...: the test's side of the fake (mounted only in fake mode; 404 in normal mode).

- POST /_fake/faults (a FaultSpec), GET /_fake/faults, DELETE /_fake/faults
- GET /_fake/requests: the journal; POST /_fake/reset {"data": bool}
- POST /_fake/credits {"available": n, "user_id"?: ...}: a user's credits, or everyone's and new users'
- GET /_fake/clock, POST /_fake/clock {"advance_seconds": s}: the logical clock
- GET/POST /_fake/render-defaults: size and preset of fake renders
Answers use the API's envelope.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, update
from sqlmodel import SQLModel

from server.deps import CtxDep
from server.errors import ApiError, ErrorCode, envelope
from server.fake.faults import FaultSpec
from server.fake.lifespan import fake_lifespan
from server.fake.state import fake_state
from server.tables import User

# The lifespan rides with the router: mounting /_fake also mounts the fake's shutdown step.
router = APIRouter(prefix="/_fake", tags=["fake"], include_in_schema=False, lifespan=fake_lifespan)


@router.post("/faults")
def add_fault(spec: FaultSpec, ctx: CtxDep) -> dict[str, Any]:
    fault = fake_state(ctx).faults.add(spec)
    return envelope({"fault": fault.model_dump(exclude_none=True)})


@router.get("/faults")
def list_faults(ctx: CtxDep) -> dict[str, Any]:
    return envelope({"faults": fake_state(ctx).faults.pending()})


@router.delete("/faults")
def clear_faults(ctx: CtxDep) -> dict[str, Any]:
    return envelope({"cleared": fake_state(ctx).faults.clear()})


@router.get("/requests")
def journal(ctx: CtxDep) -> dict[str, Any]:
    return envelope({"requests": fake_state(ctx).journal.entries()})


class ResetBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: bool = Field(False, description="also delete every user, session, upload and render")


@router.post("/reset")
def reset(ctx: CtxDep, body: ResetBody | None = None) -> dict[str, Any]:
    fake = fake_state(ctx)
    fake.journal.clear()
    cleared = fake.faults.clear()
    if body is not None and body.data:
        with ctx.engine.begin() as conn:
            for table in reversed(SQLModel.metadata.sorted_tables):
                conn.execute(delete(table))
        ctx.tokens.clear()  # the users behind cached tokens are gone
        fake.ids.restart()
        fake.clock.restart()
        ctx.settings.anon_credits = fake.config.credits
    return envelope({"faults_cleared": cleared, "data_cleared": bool(body and body.data)})


class CreditsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    available: int = Field(..., ge=0)
    user_id: str | None = Field(None, description="one user; unset: every user, and new users from now on")


@router.post("/credits")
def set_credits(body: CreditsBody, ctx: CtxDep) -> dict[str, Any]:
    stmt = update(User).values(credits_available=body.available)
    if body.user_id is not None:
        stmt = stmt.where(User.id == body.user_id)  # type: ignore[arg-type]
    else:
        ctx.settings.anon_credits = body.available
    with ctx.engine.begin() as conn:
        changed = conn.execute(stmt).rowcount
    if body.user_id is not None and changed == 0:
        raise ApiError(ErrorCode.BAD_REQUEST, f"no user {body.user_id!r}")
    return envelope({"users_changed": changed, "available": body.available})


class ClockBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    advance_seconds: float = Field(..., ge=0, le=10 * 365 * 86_400)


def _clock_answer(ctx: CtxDep) -> dict[str, Any]:
    now = fake_state(ctx).clock.now()
    return envelope({"now": now.isoformat().replace("+00:00", "Z"), "time": now.timestamp()})


@router.get("/clock")
def read_clock(ctx: CtxDep) -> dict[str, Any]:
    return _clock_answer(ctx)


@router.post("/clock")
def advance_clock(body: ClockBody, ctx: CtxDep) -> dict[str, Any]:
    fake_state(ctx).clock.advance(body.advance_seconds)
    return _clock_answer(ctx)


class RenderDefaultsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    full_size: bool | None = None
    short_side: int | None = Field(None, ge=16, le=2160)
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"] | None = None


@router.get("/render-defaults")
def read_render_defaults(ctx: CtxDep) -> dict[str, Any]:
    return envelope(vars(fake_state(ctx).render))


@router.post("/render-defaults")
def set_render_defaults(body: RenderDefaultsBody, ctx: CtxDep) -> dict[str, Any]:
    render = fake_state(ctx).render
    for key, value in body.model_dump(exclude_none=True).items():
        setattr(render, key, value)
    return envelope(vars(render))
