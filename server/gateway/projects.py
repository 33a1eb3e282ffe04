"""The gateway's projects: GET/POST /projects, GET /projects/{id}, GET /projects/{id}/sessions,
GET /api/v1/state/frontend/{id} and POST /files/upload.

A project is one of our tasks: `project_id` is the `task_id`, `name` the `task_name`, and its
sessions are the task's one chat session (POST /projects makes both, as
POST /api/tasks/me/with-session/nemo_agent does). So the skills and the CLI see the same work:
a project the CLI made is a session the skill can open, and the reverse. A project that is not
the caller's is 1002, as a missing one.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Request

from agent.state import CanvasConfig
from database.engine import read_session
from server import session_store
from server.auth import iso_utc
from server.context import AppContext
from server.deps import CtxDep, CurrentUser, owned_session
from server.errors import ApiError, ErrorCode, envelope
from server.gateway.models import (
    FrontendState,
    Project,
    ProjectCreate,
    ProjectCreated,
    ProjectList,
    ProjectSessions,
)
from server.responses import AUTH_ERRORS, SESSION_ERRORS, Envelope, errors
from server.routes.uploads import UploadAnswer, publish, read_multipart, request_too_large
from server.tables import ChatSession, User

router = APIRouter(tags=["gateway"])

MAX_PAGE_SIZE = 100
_NOT_FOUND = "project not found; list yours with `nemovideo project list`"


def project_json(session: ChatSession) -> dict[str, Any]:
    return {
        "project_id": session.task_id,
        "name": session.task_name,
        "created_at": iso_utc(session.created_at),
        "updated_at": iso_utc(session.updated_at),
    }


def session_json(session: ChatSession) -> dict[str, Any]:
    return {
        "session_id": session.id,
        "project_id": session.task_id,
        "created_at": iso_utc(session.created_at),
        "updated_at": iso_utc(session.updated_at),
        "version": session.version,
    }


def owned_project(ctx: AppContext, user: User, project_id: str) -> ChatSession:
    """The session of the caller's project, or 1002 (missing and not-yours look the same)."""
    session = session_store.session_of_task(ctx.engine, project_id)
    if session is None or session.user_id != user.id:
        raise ApiError(ErrorCode.SESSION_NOT_FOUND, _NOT_FOUND)
    return session


@router.post(
    "/projects",
    response_model=Envelope[ProjectCreated],
    responses=errors(*AUTH_ERRORS),
    summary="Create a project (a task) with its chat session",
)
def create_project(ctx: CtxDep, caller: CurrentUser, body: ProjectCreate | None = None) -> dict[str, Any]:
    body = body or ProjectCreate()
    row = session_store.create_session(
        ctx.engine, user_id=caller.id, task_name=body.name or "project", language=body.language, ids=ctx.ids
    )
    return envelope({**project_json(row), "session": session_json(row)})


@router.get(
    "/projects",
    response_model=Envelope[ProjectList],
    responses=errors(*AUTH_ERRORS),
    summary="The caller's projects, most recently changed first",
)
def list_projects(
    ctx: CtxDep,
    caller: CurrentUser,
    page_no: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE,
) -> dict[str, Any]:
    rows, total = session_store.sessions_of_user(
        ctx.engine, caller.id, offset=(page_no - 1) * page_size, limit=page_size
    )
    listed = ProjectList.model_validate(
        {
            "projects": [project_json(r) for r in rows],
            "total": total,
            "page_no": page_no,
            "page_size": page_size,
        }
    )
    return envelope(listed.model_dump())


@router.get(
    "/projects/{project_id}",
    response_model=Envelope[Project],
    responses=errors(*SESSION_ERRORS),
    summary="One of the caller's projects",
)
def get_project(project_id: str, ctx: CtxDep, caller: CurrentUser) -> dict[str, Any]:
    return envelope(project_json(owned_project(ctx, caller, project_id)))


@router.get(
    "/projects/{project_id}/sessions",
    response_model=Envelope[ProjectSessions],
    responses=errors(*SESSION_ERRORS),
    summary="The project's chat sessions (one: a task has one session)",
)
def project_sessions(project_id: str, ctx: CtxDep, caller: CurrentUser) -> dict[str, Any]:
    return envelope({"sessions": [session_json(owned_project(ctx, caller, project_id))]})


@router.get(
    "/api/v1/state/frontend/{project_id}",
    response_model=Envelope[FrontendState],
    responses=errors(*SESSION_ERRORS),
    summary="The project's latest state as the CLI reads it: `project.timeline_draft` is the draft",
)
def frontend_state(project_id: str, ctx: CtxDep, caller: CurrentUser) -> dict[str, Any]:
    session = owned_project(ctx, caller, project_id)
    state, version = session_store.get_state(ctx.engine, session.id)
    project: dict[str, Any] = {}
    if state.draft is not None:
        stored = state.to_json()
        project["timeline_draft"] = stored["draft"]
        project["canvas_config"] = (state.canvas_config or CanvasConfig()).model_dump(mode="json")
    if state.video_infos:
        project["video_infos"] = [f.model_dump(mode="json") for f in state.video_infos]
    if state.generated_media:
        project["generated_media"] = [g.model_dump(mode="json") for g in state.generated_media]
    answer = FrontendState(project_id=project_id, session_id=session.id, version=version, project=project)
    return envelope(answer.model_dump())


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "session_id": {"type": "string", "description": "the project's session"},
                        "project_id": {"type": "string", "description": "or the project itself"},
                    },
                }
            }
        },
    }
}


@router.post(
    "/files/upload",
    response_model=Envelope[UploadAnswer],
    responses=errors(
        ErrorCode.TOKEN_INVALID,
        ErrorCode.SESSION_NOT_FOUND,
        ErrorCode.UNSUPPORTED_FILE_TYPE,
        ErrorCode.FILE_TOO_LARGE,
    ),
    openapi_extra=_UPLOAD_BODY,
    summary="Upload a file (multipart `file`) into the session named by the `session_id` field",
)
async def upload_file(
    request: Request, ctx: CtxDep, caller: CurrentUser, background: BackgroundTasks
) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise ApiError(
            ErrorCode.BAD_REQUEST, "send multipart/form-data with a `file` part and a `session_id` field"
        )
    limit = ctx.settings.max_request_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise request_too_large(limit)
    chosen: list[str] = []

    def check_fields(fields: dict[str, str]) -> None:
        # The session rides in the body (after the file, as the CLI sends it), so it is checked
        # once the body is in temp files and before any file is kept.
        session_id = fields.get("session_id") or request.query_params.get("session_id")
        project_id = fields.get("project_id") or request.query_params.get("project_id")
        if session_id:
            with read_session(ctx.engine) as db:
                chosen.append(owned_session(db, caller, session_id.strip()).id)
        elif project_id:
            chosen.append(owned_project(ctx, caller, project_id.strip()).id)
        else:
            raise ApiError(ErrorCode.BAD_REQUEST, "name the session: a `session_id` form field")

    published, failures = await read_multipart(ctx, request, content_type, limit, check_fields)
    return envelope(await publish(ctx, request, caller.id, chosen[0], published, failures, background))
