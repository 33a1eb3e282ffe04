"""POST /api/tasks/me/with-session/nemo_agent: a task and its session (state version 0)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from server import session_store
from server.deps import CtxDep, CurrentUser, check_user_segment
from server.errors import envelope
from server.responses import AUTH_ERRORS, Envelope, errors

router = APIRouter(tags=["sessions"])


class SessionCreate(BaseModel):
    task_name: str = Field("project", min_length=1, max_length=256)
    language: str | None = Field(None, max_length=32, description="e.g. en, zh-CN; replies follow it")


class SessionCreated(BaseModel):
    task_id: str
    session_id: str
    user_id: str


@router.post(
    "/api/tasks/{user}/with-session/nemo_agent",
    response_model=Envelope[SessionCreated],
    responses=errors(*AUTH_ERRORS),
    summary="Create a task with its chat session",
)
def create_session(
    user: str, ctx: CtxDep, caller: CurrentUser, body: SessionCreate | None = None
) -> dict[str, Any]:
    check_user_segment(user, caller)
    body = body or SessionCreate.model_validate({})
    row = session_store.create_session(
        ctx.engine, user_id=caller.id, task_name=body.task_name, language=body.language, ids=ctx.ids
    )
    return envelope({"task_id": row.task_id, "session_id": row.id, "user_id": caller.id})
