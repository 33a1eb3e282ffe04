"""Still pictures for the studio: the draft at any time, thumbnails of uploads, a render's poster.

A still of the draft is drawn by the renderer's own Compositor on the render's own plan, so it is
the frame the export will show at that time (tests/studio compares them by pixels), and only what
that one frame needs is decoded: a SourcePool with no lookahead loads just the segments visible
at the frame. Every picture leaves here as a JPEG converted from the renderer's yuv420p planes
(BT.709, limited range: what the MP4 is tagged as).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from renderer.compose.compositor import Compositor
from renderer.compose.sources import SourcePool
from renderer.media.decode_image import is_photo, load_photo
from renderer.media.decode_video import ClipReader
from renderer.plan import build_plan
from renderer.planes import FrameBuffer, planes_to_bgr
from renderer.schema.draft import Draft
from renderer.schema.output import OutputSpec

if TYPE_CHECKING:
    from agent.state import MediaFile
    from agent.tools.base import FrameLook
    from server.context import AppContext

log = logging.getLogger("nemo.stills")

JPEG_QUALITY = 88
THUMB_LONG_SIDE_PX = 320
POSTER_LONG_SIDE_PX = 1920
POSTER_AT_SECONDS = 1.0  # past a fade-in from black, and inside even a one-second render


def encode_jpeg(bgr: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # only for an empty picture, which nothing here makes
        raise ValueError("could not encode the picture as JPEG")
    return bytes(data.tobytes())


def frame_index(t_seconds: float, fps: int, n_frames: int) -> int:
    """The frame shown at `t_seconds` (frames start at k/fps); clamped to the draft."""
    return max(0, min(n_frames - 1, math.floor(t_seconds * fps + 1e-6)))


def draft_still(
    draft: Draft, sources: Mapping[str, Path], t_seconds: float, output: OutputSpec
) -> np.ndarray:
    """The draft's frame at `t_seconds` as BGR, at the size `output` asks for (as a render would)."""
    plan = build_plan(draft, sources, output)
    frame = frame_index(t_seconds, plan.fps, max(1, plan.n_frames))
    pool = SourcePool(plan, lookahead=0)
    try:
        buffer = FrameBuffer(plan.width, plan.height)
        Compositor(plan, pool, "cpu").draw(frame, buffer)
        return planes_to_bgr(buffer.planes)
    finally:
        pool.close()


def _fit_long_side(width: int, height: int, long_side: int) -> float:
    return min(1.0, long_side / max(width, height))


def media_thumbnail(path: Path, long_side: int = THUMB_LONG_SIDE_PX) -> bytes | None:
    """A small JPEG of a photo or of a clip's first frame; None for sound-only files."""
    if is_photo(path):
        planes, _ = load_photo(path, lambda w, h: _fit_long_side(w, h, long_side), (0, 0, 0))
        return encode_jpeg(planes_to_bgr(planes))
    return video_frame_jpeg(path, 0.0, long_side)


def video_frame_jpeg(path: Path, t_seconds: float, long_side: int) -> bytes | None:
    """A JPEG of a video file's frame at `t_seconds` (its last frame when shorter); None when the
    file has no picture."""
    from renderer.errors import RenderError

    try:
        reader = ClipReader(path, 0.0, lambda w, h: _fit_long_side(w, h, long_side))
    except RenderError:
        return None
    try:
        return encode_jpeg(planes_to_bgr(reader.planes_at(t_seconds)))
    finally:
        reader.close()


DARK_BELOW, BRIGHT_ABOVE = 0.3, 0.65  # mean luma (0..1) of a dark and of a bright picture


def picture_facts(bgr: np.ndarray) -> dict[str, Any]:
    """What a planner can say about a picture: how bright it is and its main colours."""
    from server.media_analysis import dominant_colors

    luma = float(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).mean()) / 255
    brightness = "dark" if luma < DARK_BELOW else "bright" if luma > BRIGHT_ABOVE else "medium"
    small = cv2.resize(
        bgr, (64, max(1, round(64 * bgr.shape[0] / bgr.shape[1]))), interpolation=cv2.INTER_AREA
    )
    rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB).reshape(-1, 3)
    return {"brightness": brightness, "luma": round(luma, 3), "colors": dominant_colors(rgb)}


def looker(ctx: AppContext, user_id: str, session_id: str, infos: list[MediaFile]) -> FrameLook:
    """The look_at tool's eyes for one turn (agent.tools.ToolContext.look): the draft's still at t,
    small (480p), measured. Segments name uploads by their cdn_url, which is matched here against
    the session's uploads and handed to the render sources as media ids; None when the picture
    cannot be drawn (the tool then answers from the draft alone)."""
    by_url = {f.cdn_url: f.media_id for f in infos}

    def look(draft: Draft, t_seconds: float) -> dict[str, Any] | None:
        from database.engine import read_session
        from renderer.errors import RenderError
        from renderer.schema.draft import TrackType
        from server.errors import ApiError
        from server.tables import User

        tracks = []
        for track in draft.t:
            if track.tt == TrackType.AUDIO:
                continue  # sound is not drawn
            segs = [s.model_copy(update={"src": by_url.get(s.src or "", s.src)}) for s in track.sg]
            tracks.append(track.model_copy(update={"sg": segs}))
        pictures = draft.model_copy(update={"t": tracks})
        with read_session(ctx.engine) as db:
            user = db.get(User, user_id)
        if user is None:
            return None
        try:
            keys = ctx.renders.sources.resolve(user, session_id, pictures, ctx.settings.public_url or "")
            root = ctx.renders.data_dir
            sources = {src: root / key for src, key in keys.items()}
            return picture_facts(draft_still(pictures, sources, t_seconds, OutputSpec(resolution="480p")))
        except (ApiError, RenderError, OSError) as exc:
            log.info("look_at could not draw the draft at %.2f s: %s", t_seconds, exc)
            return None

    return look
