"""Video clips -> Planes per output frame: rotation metadata, `ss` seek, sequential decode.

A clip is decoded forwards only; each output frame takes the latest source frame whose time has
come, and a clip shorter than its segment holds its last frame. Frames are scaled by swscale
straight into yuv420p at the size the plan needs, then turned upright (rotation is in 90s).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import numpy as np
from av.container import InputContainer
from av.video.frame import VideoFrame

from renderer.errors import RenderError
from renderer.media.probe import MediaError, open_av
from renderer.planes import Planes


def open_media(path: Path) -> InputContainer:
    """Open an audio/video file with the upload checks' guarded opener (forced demuxer, file only)."""
    try:
        return open_av(path)
    except MediaError as exc:
        raise RenderError("bad_media", f"{path.name}: {exc.message}") from exc


def _quarter_turns(frame: VideoFrame, metadata: dict[str, str]) -> int:
    """Counter-clockwise quarter turns that make the picture upright (np.rot90's k)."""
    degrees = float(frame.rotation or 0)
    if degrees == 0 and "rotate" in metadata:
        # the legacy tag is clockwise degrees
        degrees = -float(metadata["rotate"])
    return round(degrees / 90) % 4


class ClipReader:
    """Sequential reader of one clip segment; `planes_at(t)` with t the seconds into the segment."""

    def __init__(self, path: Path, ss_seconds: float, scale_for: Callable[[int, int], float]) -> None:
        self.name = path.name
        self.container = open_media(path)
        if not self.container.streams.video:
            self.container.close()
            raise RenderError("bad_media", f"{path.name}: no video stream")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        self.ss = ss_seconds
        if ss_seconds > 0 and self.stream.time_base:  # PyAV 19: 0/1 when unknown, not None
            self.container.seek(int(ss_seconds / self.stream.time_base), stream=self.stream, backward=True)
        self._frames: Iterator[VideoFrame] = self.container.decode(self.stream)
        first = self._next()
        if first is None:
            self.container.close()
            raise RenderError("bad_media", f"{path.name}: no decodable video frames")
        self._current: VideoFrame = first
        self._pending: VideoFrame | None = self._next()
        self._skip_to(ss_seconds)
        self.turns = _quarter_turns(first, dict(self.stream.metadata))
        raw_w, raw_h = first.width, first.height
        self.width, self.height = (raw_h, raw_w) if self.turns % 2 else (raw_w, raw_h)
        factor = min(1.0, scale_for(self.width, self.height))
        out_w = max(2, math.ceil(self.width * factor / 2) * 2)
        out_h = max(2, math.ceil(self.height * factor / 2) * 2)
        self.factor = (out_w / self.width, out_h / self.height)
        self._scaled_size = (out_h, out_w) if self.turns % 2 else (out_w, out_h)
        self._converted: tuple[VideoFrame, Planes] | None = None

    def _next(self) -> VideoFrame | None:
        try:
            return next(self._frames)
        except StopIteration:
            return None
        except av.FFmpegError as exc:
            raise RenderError("bad_media", f"{self.name}: decode failed ({exc})") from exc

    @staticmethod
    def _time(frame: VideoFrame) -> float:
        return float(frame.time) if frame.time is not None else 0.0

    def _skip_to(self, source_seconds: float) -> None:
        # a tiny epsilon so a frame stamped exactly at t is taken despite rounding
        while self._pending is not None and self._time(self._pending) <= source_seconds + 1e-6:
            self._current = self._pending
            self._pending = self._next()

    def planes_at(self, t_seconds: float) -> Planes:
        self._skip_to(self.ss + t_seconds)
        frame = self._current
        if self._converted is not None and self._converted[0] is frame:
            return self._converted[1]
        width, height = self._scaled_size
        scaled = frame.reformat(width=width, height=height, format="yuv420p", dst_colorspace="itu709")
        planes = Planes(*(np.ascontiguousarray(np.rot90(p, self.turns)) for p in _split(scaled)))
        self._converted = (frame, planes)
        return planes

    def close(self) -> None:
        self.container.close()


def _split(frame: VideoFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = frame.to_ndarray()  # (h * 3 / 2, w) for yuv420p
    height, width = frame.height, frame.width
    flat = data.reshape(-1)
    luma, chroma = width * height, width * height // 4
    return (
        flat[:luma].reshape(height, width),
        flat[luma : luma + chroma].reshape(height // 2, width // 2),
        flat[luma + chroma : luma + 2 * chroma].reshape(height // 2, width // 2),
    )
