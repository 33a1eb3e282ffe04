"""A render request: the body clients send, its checks (attribution, session, draft, output), and
the insert of the pending job row. Export costs no credits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from database.engine import read_session
from render_jobs import lease
from render_jobs.table import RENDER_ID_PATTERN, RenderJob
from renderer.schema.draft import Draft
from renderer.schema.output import OutputSpec
from server.context import AppContext
from server.deps import Attribution, owned_session
from server.errors import ApiError, ErrorCode
from server.renders.sources import SourceResolver, bad_draft
from server.tables import User


class RenderRequest(BaseModel):
    """The render call's body (api-contract.md): `sessionId` as clients send it; `session_id` too."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str = Field(..., pattern=RENDER_ID_PATTERN, max_length=128, description="chosen by the client")
    # Unbounded on purpose: an id that is not one of the caller's sessions is 1002, not a 400.
    session_id: str = Field(..., alias="sessionId")
    draft: dict[str, Any]
    output: dict[str, Any] = Field(default_factory=dict)


def _first_errors(prefix: str, exc: ValidationError) -> str:
    """`draft.t.0.sg.1.m.fit: unknown fit 'x'; ...`: the client's field, in its own key names."""
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in (prefix, *err.get("loc", ())))
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def with_ids(draft: dict[str, Any]) -> dict[str, Any]:
    """The draft with an `id` on every track and segment that lacks one (hand-written drafts leave
    them out, and every peer's timeline format tolerates that): `track_<n>` and `<track>_seg_<n>`,
    by position, never reusing an id the draft already has. Anything not shaped like a draft is
    returned as it is, for validation to name what is wrong."""
    tracks = draft.get("t")
    if not isinstance(tracks, list):
        return draft
    taken = {str(x["id"]) for t in tracks if isinstance(t, dict) for x in [t, *_segments(t)] if x.get("id")}

    def fresh(base: str) -> str:
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        return name

    filled = []
    for ti, track in enumerate(tracks):
        if not isinstance(track, dict):
            filled.append(track)
            continue
        track = {**track}
        if not track.get("id"):
            track["id"] = fresh(f"track_{ti + 1}")
        if isinstance(track.get("sg"), list):
            track["sg"] = [
                {**seg, "id": fresh(f"{track['id']}_seg_{si + 1}")}
                if isinstance(seg, dict) and not seg.get("id")
                else seg
                for si, seg in enumerate(track["sg"])
            ]
        filled.append(track)
    return {**draft, "t": filled}


def _segments(track: dict[str, Any]) -> list[dict[str, Any]]:
    return [seg for seg in track.get("sg") or [] if isinstance(seg, dict)]


def _duplicate(render_id: str) -> ApiError:
    return ApiError(ErrorCode.DUPLICATE_RENDER, f"duplicate render id {render_id!r}; choose a new id")


def submit(
    ctx: AppContext,
    resolver: SourceResolver,
    hand_off: Callable[[int], bool],
    user: User,
    body: RenderRequest,
    attribution: Attribution,
    base_url: str,
) -> RenderJob:
    """Validate the request, resolve its sources, insert the pending job, then hand it to Celery."""
    settings = ctx.settings
    if settings.require_attribution and user.anonymous and not attribution.present:
        raise ApiError(
            ErrorCode.EXPORT_BLOCKED,
            "export needs the X-Skill-Source, X-Skill-Version and X-Skill-Platform headers",
        )
    with read_session(ctx.engine) as db:
        session = owned_session(db, user, body.session_id)
    if lease.find(ctx.engine, user.id, body.id) is not None:
        raise _duplicate(body.id)
    try:
        draft = Draft.model_validate(with_ids(body.draft))
    except ValidationError as exc:
        raise ApiError(ErrorCode.BAD_REQUEST, "invalid draft: " + _first_errors("draft", exc)) from None
    try:
        output = OutputSpec.model_validate(body.output or {})
    except ValidationError as exc:
        raise ApiError(ErrorCode.BAD_REQUEST, "invalid output: " + _first_errors("output", exc)) from None
    if draft.d <= 0 or not any(track.sg for track in draft.t):
        raise bad_draft("draft.d", "the draft is empty; nothing to render")
    sources = resolver.resolve(user, session.id, draft, base_url)
    try:
        job = lease.create(
            ctx.engine,
            render_id=body.id,
            user_id=user.id,
            session_id=session.id,
            draft=draft.to_json(),
            sources=sources,
            output=output.model_dump(mode="json", exclude_none=True),
            max_attempts=settings.render.max_attempts,
            attribution=(attribution.source, attribution.version, attribution.platform),
            base_url=settings.public_url or base_url,
            now=ctx.clock.time(),
        )
    except lease.DuplicateRenderId:
        raise _duplicate(body.id) from None
    assert job.id is not None
    hand_off(job.id)  # after the commit: the task reads the row
    return job
