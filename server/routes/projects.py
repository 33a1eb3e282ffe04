"""GET /api/tasks/me/nemo_agent: the caller's projects (tasks with their sessions), newest first.

The skills never list projects (they keep the session id they made); the studio does, to open
one again. One row per session with what a project card shows.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlmodel import col, select

from database.engine import read_session
from server import session_store
from server.auth import iso_utc
from server.deps import CtxDep, CurrentUser, check_user_segment
from server.errors import envelope
from server.responses import AUTH_ERRORS, Envelope, errors
from server.tables import ChatSession

router = APIRouter(tags=["sessions"])


class ProjectCard(BaseModel):
    task_id: str
    session_id: str
    task_name: str
    title: str | None
    version: int
    duration_ms: int
    uploads: int
    cover_media_id: str | None
    updated_at: str


class ProjectList(BaseModel):
    projects: list[ProjectCard]


@router.get(
    "/api/tasks/{user}/nemo_agent",
    response_model=Envelope[ProjectList],
    responses=errors(*AUTH_ERRORS),
    summary="The caller's projects, most recently changed first",
)
def list_projects(
    user: str,
    ctx: CtxDep,
    caller: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> dict[str, Any]:
    check_user_segment(user, caller)
    with read_session(ctx.engine) as db:
        rows = db.exec(
            select(ChatSession)
            .where(ChatSession.user_id == caller.id)
            .order_by(col(ChatSession.updated_at).desc(), col(ChatSession.id).desc())
            .limit(limit)
        ).all()
    cards = []
    for row in rows:
        state, version = session_store.get_state(ctx.engine, row.id)
        draft = state.draft
        photos = [f for f in state.video_infos if f.file_type in ("image", "video")]
        cards.append(
            ProjectCard(
                task_id=row.task_id,
                session_id=row.id,
                task_name=row.task_name,
                title=draft.m.title if draft is not None else None,
                version=version,
                duration_ms=draft.d if draft is not None else 0,
                uploads=len(state.video_infos),
                cover_media_id=photos[0].media_id if photos else None,
                updated_at=iso_utc(row.updated_at),
            )
        )
    return envelope({"projects": [c.model_dump() for c in cards]})
