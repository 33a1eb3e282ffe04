"""H.264 + AAC into MP4: encoder choice, quality mapping, colour tags, interleaved muxing.

Quality mapping (libx264 CRF / preset; h264_nvenc gets the same number as its constant quality
`cq` with the NVENC preset of the same speed class):

    quality  crf  preset      nvenc preset
    low      28   veryfast    p2
    medium   23   veryfast    p4
    high     20   faster      p5

`output.crf` and `output.preset` override the table. Output is always H.264 High, yuv420p,
BT.709 primaries/transfer/matrix, limited ("tv") range; audio AAC-LC 48 kHz stereo.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import av
import numpy as np
from av.container import OutputContainer
from av.video.stream import VideoStream

from renderer.errors import RenderError
from renderer.output import ENCODERS, OutputSpec

log = logging.getLogger("nemo.renderer")

SAMPLE_RATE = 48_000
QUALITY_TABLE: dict[str, tuple[int, str]] = {
    "low": (28, "veryfast"),
    "medium": (23, "veryfast"),
    "high": (20, "faster"),
}
_NVENC_PRESET = {
    "ultrafast": "p1",
    "superfast": "p1",
    "veryfast": "p2",
    "faster": "p3",
    "fast": "p4",
    "medium": "p4",
    "slow": "p5",
    "slower": "p6",
    "veryslow": "p7",
}
_BT709 = 1  # AVCOL_PRI_BT709 == AVCOL_TRC_BT709 == AVCOL_SPC_BT709
_TV_RANGE = 1  # AVCOL_RANGE_MPEG


@dataclass(frozen=True)
class EncoderSettings:
    codec: str  # "libx264" | "h264_nvenc"
    crf: int
    preset: str
    via: str = "pyav"  # "pyav" (in process) | "ffmpeg" (the ffmpeg command, encode_ffmpeg.py)

    @property
    def label(self) -> str:
        return self.codec if self.via == "pyav" else f"{self.codec} (ffmpeg command)"


def rate_control(output: OutputSpec) -> tuple[int, str]:
    """(crf, x264 preset) for an output spec: the quality table, overridden by crf/preset."""
    crf, preset = QUALITY_TABLE[output.quality]
    return (output.crf if output.crf is not None else crf), (output.preset or preset)


def _has_nvidia_driver() -> bool:
    return Path("/dev/nvidiactl").exists()


def nvenc_available() -> bool:
    """True when this PyAV's FFmpeg has h264_nvenc *and* a GPU lets it open a session."""
    if "h264_nvenc" not in av.codecs_available or not _has_nvidia_driver():
        return False
    try:
        context = av.CodecContext.create("h264_nvenc", "w")
        context.width, context.height, context.pix_fmt = 256, 256, "yuv420p"
        context.time_base = "1/30"  # type: ignore[assignment]
        context.open()
        context.close()  # type: ignore[attr-defined]
    except (av.FFmpegError, OSError, ValueError, AttributeError):
        return False
    return True


def choose_encoder(requested: str, output: OutputSpec, ffmpeg: str = "ffmpeg") -> EncoderSettings:
    """h264_nvenc where the GPU has NVENC (in process when PyAV's FFmpeg has it, else through the
    `ffmpeg` command when that has it), else libx264 in process. Logged."""
    from renderer.encode_ffmpeg import ffmpeg_has_encoder

    crf, preset = rate_control(output)
    if requested not in ENCODERS:
        raise RenderError("bad_output", f"unknown encoder {requested!r}; use one of {', '.join(ENCODERS)}")
    codec, via = "libx264", "pyav"
    if requested == "ffmpeg-libx264":
        if not ffmpeg_has_encoder(ffmpeg, "libx264"):
            raise RenderError(
                "encoder", f"encoder ffmpeg-libx264 asked for, but {ffmpeg!r} cannot encode libx264"
            )
        via = "ffmpeg"
    elif requested in ("auto", "h264_nvenc") and nvenc_available():
        codec = "h264_nvenc"
    elif (
        requested in ("auto", "h264_nvenc")
        and _has_nvidia_driver()
        and ffmpeg_has_encoder(ffmpeg, "h264_nvenc")
    ):
        codec, via = "h264_nvenc", "ffmpeg"
    elif requested == "h264_nvenc":
        log.warning("h264_nvenc requested but not usable here; falling back to libx264")
    settings = EncoderSettings(codec=codec, crf=crf, preset=preset, via=via)
    log.info("encoder: %s (crf %d, preset %s)", settings.label, crf, preset)
    return settings


class AudioSource(Protocol):
    """The soundtrack as the muxer reads it: (2, n) float32 at SAMPLE_RATE, sliced forwards
    (audio.Soundtrack produces it block by block; a plain array works too)."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    def __getitem__(self, key: tuple[slice, slice]) -> np.ndarray: ...


class VideoMuxer(Protocol):
    """What render.py drives: Muxer (in process) or encode_ffmpeg.FfmpegMuxer (the command)."""

    def add_video(self, yuv420p: np.ndarray) -> None: ...

    def finish(self) -> None: ...

    def abort(self) -> None: ...


def audio_frames(audio: AudioSource, start: int, stop: int) -> Iterator[av.AudioFrame]:
    """AAC-sized frames of `audio` from sample `start` up to `stop` (or its end), timestamped."""
    size = 1024  # AAC-LC frame
    position, stop = start, min(stop, audio.shape[1])
    while position < stop:
        chunk = audio[:, position : position + size]
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="stereo")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = position
        position += chunk.shape[1]
        yield frame


def add_aac_stream(container: OutputContainer) -> Any:
    sound = container.add_stream("aac", rate=SAMPLE_RATE, layout="stereo")
    sound.options = {"b": "192k"}
    return sound


class Muxer:
    """Owns the output container; video frames in order, audio interleaved up to the video time."""

    def __init__(
        self,
        out_path: Path,
        width: int,
        height: int,
        fps: int,
        settings: EncoderSettings,
        audio: AudioSource,
        threads: int = 0,
    ) -> None:
        self.fps = fps
        # libx264 copies each picture into its own frames inside x264_encoder_encode, before
        # encode() returns: it can read our buffer in place (no 3 MB copy per frame). Other
        # encoders may hold a frame until later, so they get a copy.
        self.zero_copy = settings.codec == "libx264"
        self.audio = audio
        self._audio_pos = 0
        self._frames = 0
        try:
            # format forced: the caller's path ends in ".part"
            self.container: OutputContainer = av.open(
                str(out_path), mode="w", format="mp4", options={"movflags": "+faststart"}
            )
        except (av.FFmpegError, OSError) as exc:
            raise RenderError("output", f"cannot create the output file ({exc})") from exc
        video = self.container.add_stream(settings.codec, rate=fps, options=video_options(settings))
        assert isinstance(video, VideoStream)  # a video codec's name, from choose_encoder
        self.video = video
        self.video.width, self.video.height, self.video.pix_fmt = width, height, "yuv420p"
        context: Any = self.video.codec_context
        context.color_primaries = context.color_trc = context.colorspace = _BT709
        context.color_range = _TV_RANGE
        context.thread_count = threads
        self.sound = add_aac_stream(self.container)

    def add_video(self, yuv420p: np.ndarray) -> None:
        """Encode one (h * 3 / 2, w) yuv420p frame. The array may be reused once this returns."""
        if self.zero_copy:
            frame = av.VideoFrame.from_numpy_buffer(yuv420p, format="yuv420p")
        else:
            frame = av.VideoFrame.from_ndarray(yuv420p, format="yuv420p")
        frame.color_range = _TV_RANGE  # type: ignore[assignment]
        frame.colorspace = _BT709  # type: ignore[assignment]
        frame.pts = self._frames
        self._frames += 1
        self.container.mux(self.video.encode(frame))
        self._add_audio_until(round(self._frames / self.fps * SAMPLE_RATE))

    def _add_audio_until(self, sample: int) -> None:
        for frame in audio_frames(self.audio, self._audio_pos, sample):
            self._audio_pos += frame.samples
            self.container.mux(self.sound.encode(frame))

    def finish(self) -> None:
        self.container.mux(self.video.encode(None))
        self._add_audio_until(self.audio.shape[1])
        self.container.mux(self.sound.encode(None))
        self.container.close()

    def abort(self) -> None:
        try:
            self.container.close()
        except (av.FFmpegError, OSError, ValueError):
            log.debug("closing an aborted output failed", exc_info=True)


def video_options(settings: EncoderSettings) -> dict[str, str]:
    if settings.codec == "h264_nvenc":
        return {
            "preset": _NVENC_PRESET.get(settings.preset, "p4"),
            "rc": "vbr",
            "cq": str(settings.crf),
            "b": "0",
            "profile": "high",
        }
    return {"crf": str(settings.crf), "preset": settings.preset, "profile": "high"}
