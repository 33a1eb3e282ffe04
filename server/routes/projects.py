"""The caller's projects, for opening one again (the studio's project list and chat history):

- GET /api/tasks/me/nemo_agent: one row per session with what a project card shows, newest first.
- GET /api/tasks/me/nemo_agent/{session_id}/conversation: the chat so far as messages (who, text,
  the tools a reply used), read from the session's stored ADK events; drafts are left out (the
  state route has the latest one).

The skills never list projects (they keep the session id they made); the studio does.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlmodel import col, select

from database.engine import read_session
from server import session_store
from server.auth import iso_utc
from server.deps import CtxDep, CurrentUser, check_user_segment, owned_session
from server.errors import envelope
from server.responses import AUTH_ERRORS, SESSION_ERRORS, Envelope, errors
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


CONVERSATION_LIMIT = 200


class ChatMessage(BaseModel):
    role: Literal["user", "model", "error"]
    text: str
    tools: list[str] = []
    timestamp: float


class Conversation(BaseModel):
    messages: list[ChatMessage]


@router.get(
    "/api/tasks/{user}/nemo_agent/{session_id}/conversation",
    response_model=Envelope[Conversation],
    responses=errors(*SESSION_ERRORS),
    summary="The session's chat so far: the user's messages and the replies, with the tools each used",
)
def conversation(user: str, session_id: str, ctx: CtxDep, caller: CurrentUser) -> dict[str, Any]:
    check_user_segment(user, caller)
    with read_session(ctx.engine) as db:
        session = owned_session(db, caller, session_id)
    messages: list[ChatMessage] = []
    tools: list[str] = []
    for event in session_store.events(ctx.engine, session.id):
        if event.partial:  # the final event repeats the partial chunks' text whole
            continue
        if event.error_code or event.error_message:
            text = event.error_message or event.text
            messages.append(ChatMessage(role="error", text=text, timestamp=event.timestamp))
            tools = []
            continue
        parts = event.content.parts if event.content is not None else []
        tools += [p.function_call.name for p in parts if p.function_call is not None]
        if not event.text:
            continue
        role: Literal["user", "model"] = "user" if event.author == "user" else "model"
        messages.append(ChatMessage(role=role, text=event.text, tools=tools if role == "model" else [],
                                    timestamp=event.timestamp))  # fmt: skip
        if role == "model":
            tools = []
    return envelope({"messages": [m.model_dump() for m in messages[-CONVERSATION_LIMIT:]]})
