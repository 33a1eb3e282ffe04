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
from renderer.schema.output import X264_PRESETS, OutputSpec
from server.config import RenderSettings
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


def check_cost(limits: RenderSettings, draft: Draft, output: OutputSpec) -> None:
    """What one render may cost this server, checked before anything is queued: its length, its
    number of segments, and encoder settings that multiply encode time (slow presets, low crf)."""
    seconds = draft.d / 1000
    if seconds > limits.max_duration_seconds:
        raise bad_draft(
            "draft.d",
            f"{seconds:g} s is longer than this server renders (at most {limits.max_duration_seconds:g} s)",
        )
    segments = sum(len(track.sg) for track in draft.t)
    if segments > limits.max_segments:
        raise bad_draft("draft.t", f"{segments} segments; this server renders at most {limits.max_segments}")
    if output.preset is not None and X264_PRESETS.index(output.preset) > X264_PRESETS.index(
        limits.slowest_preset
    ):
        raise ApiError(
            ErrorCode.BAD_REQUEST,
            f"invalid output: output.preset {output.preset!r} is slower than this server allows "
            f"(slowest: {limits.slowest_preset!r})",
        )
    if output.crf is not None and output.crf < limits.min_crf:
        raise ApiError(
            ErrorCode.BAD_REQUEST,
            f"invalid output: output.crf {output.crf} is below this server's lowest ({limits.min_crf}); "
            "higher crf is smaller and faster",
        )


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
    check_cost(settings.render, draft, output)
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
            max_lost_leases=settings.render.max_lost_leases,
            max_active=settings.render.max_active_per_user,
            attribution=(attribution.source, attribution.version, attribution.platform),
            base_url=settings.public_url or base_url,
            now=ctx.clock.time(),
        )
    except lease.DuplicateRenderId:
        raise _duplicate(body.id) from None
    except lease.TooManyActive as exc:
        raise ApiError(
            ErrorCode.RATE_LIMITED,
            f"you have {exc.active} renders queued or running (at most {settings.render.max_active_per_user} "
            "at once); wait for one to finish, or cancel one",
            headers={"Retry-After": "30"},
        ) from None
    assert job.id is not None
    hand_off(job.id)  # after the commit: the task reads the row
    return job
