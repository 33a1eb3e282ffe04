"""Still pictures for the studio: the draft at any time, thumbnails of uploads, a render's poster.

A still of the draft is drawn by the renderer's own Compositor on the render's own plan, so it is
the frame the export will show at that time (tests/studio compares them by pixels), and only what
that one frame needs is decoded: a SourcePool with no lookahead loads just the segments visible
at the frame. Every picture leaves here as a JPEG converted from the renderer's yuv420p planes
(BT.709, limited range: what the MP4 is tagged as).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

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
