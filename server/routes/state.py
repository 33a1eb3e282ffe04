"""GET /api/state/nemo_agent/me/{session_id}/latest and /{version}: the session's state."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from agent.state import CanvasConfig
from database.engine import read_session
from server import session_store
from server.deps import CtxDep, CurrentUser, check_user_segment, owned_session
from server.errors import ApiError, ErrorCode, envelope
from server.responses import SESSION_ERRORS, Envelope, errors

router = APIRouter(tags=["state"])


class StateAnswer(BaseModel):
    session_id: str
    task_id: str
    task_name: str
    version: int
    state: dict[str, Any] = Field(
        description="`draft` (null until the first edit), `video_infos` (the upload answer's file "
        "objects), `canvas_config` (`width`, `height`, `ratio`), `video_analyses` (by media_id: "
        "`file_type`; photos and clips `orientation` and `dominant_colors` (`#rrggbb`, most covered "
        "first); songs `bpm` and `beat_offset_ms` when found), `generated_media` (`type`, `url`, "
        "`duration`, `prompt`, `created_at`)"
    )


@router.get(
    "/api/state/nemo_agent/{user}/{session_id}/{version}",
    response_model=Envelope[StateAnswer],
    responses=errors(*SESSION_ERRORS),
    summary="The session's state: `latest`, or an older version by number (undo reads these)",
)
def get_state(user: str, session_id: str, version: str, ctx: CtxDep, caller: CurrentUser) -> dict[str, Any]:
    check_user_segment(user, caller)
    # One read session inside this one worker-thread call: a DbDep would cost two more thread
    # hops on the hottest route clients poll.
    with read_session(ctx.engine) as db:
        session = owned_session(db, caller, session_id)
    if version == "latest":
        wanted = None
    elif version.isdigit() and len(version) <= 9:
        wanted = int(version)
    else:
        raise ApiError(ErrorCode.BAD_REQUEST, "version must be `latest` or a version number")
    state, number = session_store.get_state(ctx.engine, session.id, wanted)
    body = state.to_json()
    # The undo history is the agent's bookkeeping, not part of the contract's `state`; clients
    # poll this answer, so it carries only what they read.
    body.pop("history", None)
    # Clients index these keys without checking: they are always there (null draft until the
    # first edit; the default canvas until one is chosen).
    body.setdefault("draft", None)
    body.setdefault("canvas_config", CanvasConfig().model_dump())
    # Stored versions drop null fields; these lists answer with every field of the contract,
    # null when unknown: `video_infos` exactly as the upload answered, and `generated_media` with
    # its `duration` and `prompt` (api-contract.md, state).
    body["video_infos"] = [f.model_dump(mode="json") for f in state.video_infos]
    body["generated_media"] = [g.model_dump(mode="json") for g in state.generated_media]
    return envelope(
        {
            "session_id": session.id,
            "task_id": session.task_id,
            "task_name": session.task_name,
            "version": number,
            "state": body,
        }
    )
