"""Previews of a session's draft and media, for the studio (and any client that wants to look):

- `GET /api/state/nemo_agent/me/{session_id}/preview/frame?t=` the draft's still at `t` seconds
  (JPEG), drawn by the renderer's compositor (server/stills.py): the export's frame at that time.
- `GET /api/state/nemo_agent/me/{session_id}/preview/waveform` the music's loudness envelope,
  per audio segment, for drawing the timeline.
- `POST /api/state/nemo_agent/me/{session_id}/preview/render` a quick low-resolution render of the
  whole draft (a render job with a server-chosen id `preview_...`; poll it like any render).
- `GET /api/upload-video/nemo_agent/me/{session_id}/{media_id}/thumbnail` a small JPEG of an upload.
- `GET /api/render/proxy/lambda/{render_id}/poster` a JPEG of a finished render's frame at 1 s.

All need the bearer token, like the rest of the API; a browser fetches them and shows the bytes
(the studio makes object URLs), so no token ever rides in a URL. Stills and waveforms are made
per request (a still: one frame's decode and composite); thumbnails and posters are cached in
storage beside what they show.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from database.engine import read_session
from renderer.errors import RenderError
from renderer.schema.draft import Draft, TrackType
from renderer.schema.output import OutputSpec
from server import session_store, stills
from server.deps import (
    AttributionDep,
    CtxDep,
    CurrentUser,
    check_user_segment,
    owned_session,
    public_base_url,
)
from server.errors import ApiError, ErrorCode, envelope
from server.renders.links import RenderStatus, status_answer
from server.renders.service import PREVIEW_FLAG
from server.renders.submission import RenderRequest
from server.responses import SESSION_ERRORS, Envelope, errors
from server.tables import Media, User

router = APIRouter(tags=["preview"])

Resolution = Literal["480p", "540p", "720p", "1080p"]
PREVIEW_RENDER_OUTPUT = {"resolution": "480p", "quality": "low", "preset": "ultrafast", PREVIEW_FLAG: True}
WAVEFORM_PEAKS_PER_SECOND = 20
WAVEFORM_MAX_PEAKS = 2000
_JPEG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/jpeg": {}}, "description": "a JPEG picture"}
}


def _jpeg(data: bytes, cache: str) -> Response:
    return Response(
        data, media_type="image/jpeg", headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"}
    )


def _session_draft(ctx: CtxDep, caller: User, user: str, session_id: str) -> tuple[str, Draft, int]:
    check_user_segment(user, caller)
    with read_session(ctx.engine) as db:
        session = owned_session(db, caller, session_id)
    state, version = session_store.get_state(ctx.engine, session.id)
    draft = state.draft
    if draft is None or draft.d <= 0 or not any(track.sg for track in draft.t):
        raise ApiError(ErrorCode.BAD_REQUEST, "the draft is empty; upload media and ask for a video first")
    return session.id, draft, version


def _local_sources(
    ctx: CtxDep, caller: User, session_id: str, draft: Draft, base_url: str
) -> dict[str, Path]:
    """Every src of `draft` -> the file the renderer reads (as the render worker maps them)."""
    keys = ctx.renders.sources.resolve(caller, session_id, draft, base_url)
    root = ctx.renders.data_dir
    paths: dict[str, Path] = {}
    for src, key in keys.items():
        if key.startswith("builtin:"):
            from renderer.music.synth import ensure_track

            paths[src] = ensure_track(key.removeprefix("builtin:"), root / "builtin")
        else:
            paths[src] = root / key
    return paths


def _render_error(exc: RenderError) -> ApiError:
    return ApiError(ErrorCode.BAD_REQUEST, f"cannot draw the draft: {exc}")


@router.get(
    "/api/state/nemo_agent/{user}/{session_id}/preview/frame",
    response_class=Response,
    responses={**_JPEG, **errors(*SESSION_ERRORS)},
    summary="The draft's picture at `t` seconds (JPEG), as the export will show it",
)
def preview_frame(
    user: str,
    session_id: str,
    request: Request,
    ctx: CtxDep,
    caller: CurrentUser,
    t: Annotated[float, Query(ge=0, le=86400, description="seconds from the start of the draft")] = 0.0,
    resolution: Annotated[
        Resolution | None, Query(description="short side of the picture; unset: the draft's own size")
    ] = None,
) -> Response:
    sid, draft, _ = _session_draft(ctx, caller, user, session_id)
    # Sound is not drawn: only the pictures' sources are resolved (no music synthesised for a still).
    pictures = draft.model_copy(update={"t": [tr for tr in draft.t if tr.tt != TrackType.AUDIO]})
    sources = _local_sources(ctx, caller, sid, pictures, public_base_url(request, ctx))
    try:
        bgr = stills.draft_still(pictures, sources, t, OutputSpec(resolution=resolution))
    except RenderError as exc:
        raise _render_error(exc) from None
    return _jpeg(stills.encode_jpeg(bgr), "private, no-store")


class WaveformTrack(BaseModel):
    seg_id: str
    track_id: str
    start_ms: int
    duration_ms: int
    peaks_per_second: int
    peaks: list[float] = Field(description="0..1, the loudest sample of each slice")


class Waveforms(BaseModel):
    segments: list[WaveformTrack]


@router.get(
    "/api/state/nemo_agent/{user}/{session_id}/preview/waveform",
    response_model=Envelope[Waveforms],
    responses=errors(*SESSION_ERRORS),
    summary="Loudness peaks of the draft's music segments (for drawing waveforms)",
)
def preview_waveform(
    user: str, session_id: str, request: Request, ctx: CtxDep, caller: CurrentUser
) -> dict[str, Any]:
    from renderer.audio.soundtrack import decode_audio
    from renderer.encode.muxer import SAMPLE_RATE

    sid, draft, _ = _session_draft(ctx, caller, user, session_id)
    music = draft.model_copy(update={"t": [tr for tr in draft.t if tr.tt == TrackType.AUDIO]})
    sources = _local_sources(ctx, caller, sid, music, public_base_url(request, ctx))
    segments = []
    for track in music.t:
        for seg in track.sg:
            seconds = min(seg.d, max(0, draft.d - seg.st)) / 1000
            n = max(1, min(WAVEFORM_MAX_PEAKS, round(seconds * WAVEFORM_PEAKS_PER_SECOND)))
            try:
                samples = decode_audio(sources[seg.src or ""], seg.ss / 1000, int(seconds * SAMPLE_RATE))
            except RenderError as exc:
                raise _render_error(exc) from None
            mono = np.abs(samples).max(axis=0) if samples.size else np.zeros(0, np.float32)
            if seg.m.loop and 0 < mono.size < int(seconds * SAMPLE_RATE):  # a short loop repeats
                mono = np.resize(mono, int(seconds * SAMPLE_RATE))
            peaks = [float(s.max()) if s.size else 0.0 for s in np.array_split(mono, n)]
            top = max(peaks) or 1.0
            segments.append(
                WaveformTrack(
                    seg_id=seg.id,
                    track_id=track.id,
                    start_ms=seg.st,
                    duration_ms=int(seconds * 1000),
                    peaks_per_second=WAVEFORM_PEAKS_PER_SECOND,
                    peaks=[round(p / top, 3) for p in peaks],
                )
            )
    return envelope({"segments": [s.model_dump() for s in segments]})


class PreviewRenderBody(BaseModel):
    resolution: Resolution = "480p"


@router.post(
    "/api/state/nemo_agent/{user}/{session_id}/preview/render",
    response_model=RenderStatus,
    responses=errors(*SESSION_ERRORS, ErrorCode.EXPORT_BLOCKED),
    summary="Start a quick low-resolution render of the whole draft; poll it as a render",
)
def preview_render(
    user: str,
    session_id: str,
    request: Request,
    ctx: CtxDep,
    caller: CurrentUser,
    attribution: AttributionDep,
    body: PreviewRenderBody | None = None,
) -> RenderStatus:
    sid, draft, version = _session_draft(ctx, caller, user, session_id)
    wanted = body or PreviewRenderBody()
    render = RenderRequest.model_validate(
        {
            "id": f"preview_{version}_{secrets.token_hex(4)}",
            "sessionId": sid,
            "draft": draft.to_json(),
            "output": {**PREVIEW_RENDER_OUTPUT, "resolution": wanted.resolution},
        }
    )
    base = public_base_url(request, ctx)
    job = ctx.renders.submit(caller, render, attribution, base)
    return status_answer(job, base, ctx.secret)


@router.get(
    "/api/upload-video/nemo_agent/{user}/{session_id}/{media_id}/thumbnail",
    response_class=Response,
    responses={**_JPEG, **errors(*SESSION_ERRORS, ErrorCode.RENDER_NOT_FOUND)},
    summary="A small JPEG of an upload (a photo, or a clip's first frame); 4004 for sound files",
)
def media_thumbnail(user: str, session_id: str, media_id: str, ctx: CtxDep, caller: CurrentUser) -> Response:
    check_user_segment(user, caller)
    with read_session(ctx.engine) as db:
        owned_session(db, caller, session_id)
        media = db.get(Media, media_id) if len(media_id) <= 64 else None
    if media is None or media.user_id != caller.id or media.file_type == "audio":
        raise ApiError(ErrorCode.RENDER_NOT_FOUND, "no picture for this media_id in your uploads")
    key = f"thumbs/{media.sha256}-{stills.THUMB_LONG_SIDE_PX}.jpg"
    storage = ctx.storage
    if storage.exists(key):
        data = storage.path_for(key).read_bytes()
    else:
        made = stills.media_thumbnail(storage.path_for(ctx.renders.sources.render_key(media)))
        if made is None:
            raise ApiError(ErrorCode.RENDER_NOT_FOUND, "this upload has no picture")
        data = made
        storage.write_bytes(key, data)
    return _jpeg(data, "private, max-age=86400")


@router.get(
    "/api/render/proxy/lambda/{render_id}/poster",
    response_class=Response,
    responses={**_JPEG, **errors(ErrorCode.TOKEN_INVALID, ErrorCode.RENDER_NOT_FOUND)},
    summary="A finished render's poster: its frame at 1 s (JPEG)",
)
def render_poster(render_id: str, ctx: CtxDep, caller: CurrentUser) -> Response:
    path, _ = ctx.renders.output_file(caller, render_id)
    poster = path.with_name(path.name + ".poster.jpg")
    if poster.is_file():
        data = poster.read_bytes()
    else:
        made = stills.video_frame_jpeg(path, stills.POSTER_AT_SECONDS, stills.POSTER_LONG_SIDE_PX)
        if made is None:
            raise ApiError(ErrorCode.RENDER_NOT_FOUND, f"render {render_id!r} has no picture")
        data = made
        _store(poster, data)
    return _jpeg(data, "private, max-age=86400")


def _store(path: Path, data: bytes) -> None:
    """Write beside, then rename: a reader never sees half a picture."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
