"""H.264 + AAC into MP4 in process (PyAV): quality mapping, colour tags, interleaved muxing.

Quality mapping (libx264 CRF / preset; h264_nvenc gets the same number as its constant quality
`cq` with the NVENC preset of the same speed class):

    quality  crf  preset      nvenc preset
    low      28   veryfast    p2
    medium   23   veryfast    p4
    high     20   faster      p5

`output.crf` and `output.preset` override the table. Output is always H.264 High, yuv420p,
BT.709 primaries/transfer/matrix, limited ("tv") range; audio AAC-LC 48 kHz stereo. A keyframe at
least every KEYFRAME_SECONDS (web players seek to keyframes), closed GOPs (x264's default), so a
chunked render's parts (renderer/chunks/) start on keyframes and join by stream copy.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import av
import numpy as np
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.video.stream import VideoStream

from renderer.encode.keyframes import keyframe_interval
from renderer.errors import RenderError
from renderer.priority import lower_this_thread
from renderer.schema.output import OutputSpec

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
    via: str = "pyav"  # "pyav" (in process) | "ffmpeg" (the ffmpeg command, ffmpeg_command.py)

    @property
    def label(self) -> str:
        return self.codec if self.via == "pyav" else f"{self.codec} (ffmpeg command)"


def rate_control(output: OutputSpec) -> tuple[int, str]:
    """(crf, x264 preset) for an output spec: the quality table, overridden by crf/preset."""
    crf, preset = QUALITY_TABLE[output.quality]
    return (output.crf if output.crf is not None else crf), (output.preset or preset)


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


def encode_soundtrack(audio: AudioSource, path: Path) -> None:
    """The whole soundtrack as AAC in an audio-only MP4, for muxing by stream copy (the ffmpeg
    command's input; a chunked render's join)."""
    with av.open(str(path), mode="w", format="mp4") as container:
        sound = add_aac_stream(container)
        for frame in audio_frames(audio, 0, audio.shape[1]):
            container.mux(sound.encode(frame))
        container.mux(sound.encode(None))


AAC_AHEAD_PACKETS = 1500  # 1024 samples each: 32 s of audio (~0.75 MB at 192 kb/s) encoded ahead


class AacAhead(threading.Thread):
    """Encodes the whole soundtrack to AAC packets, ahead of the video, in a thread of its own.

    FFmpeg's AAC encoder costs about a second of CPU per 30 s of stereo, and on the encoder
    thread that second would delay every x264_encoder_encode call behind it. Here it runs at
    the compositor's lower priority, in the time x264 leaves idle (priority.py); the queue of
    packets is bounded, so it never runs more than AAC_AHEAD_PACKETS ahead."""

    def __init__(self, sound: Any, audio: AudioSource) -> None:
        super().__init__(name="nemo-aac", daemon=True)
        self.sound, self.audio = sound, audio
        self.packets: queue.Queue[av.Packet[AudioStream] | BaseException | None] = queue.Queue(
            AAC_AHEAD_PACKETS
        )
        self.stopping = threading.Event()
        self._next: av.Packet[AudioStream] | None = None
        self._done = False

    def run(self) -> None:
        lower_this_thread()
        try:
            for frame in audio_frames(self.audio, 0, self.audio.shape[1]):
                self._put_all(self.sound.encode(frame))
            self._put_all(self.sound.encode(None))
            self._put(None)
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the muxing thread, which raises it
            with contextlib.suppress(_Stopped):
                self._put(exc)

    def _put_all(self, packets: list[av.Packet[AudioStream]]) -> None:
        for packet in packets:
            self._put(packet)

    def _put(self, item: av.Packet[AudioStream] | BaseException | None) -> None:
        while not self.stopping.is_set():
            try:
                self.packets.put(item, timeout=0.2)
                return
            except queue.Full:
                continue
        raise _Stopped

    def take_until(self, sample: int | None) -> Iterator[av.Packet[AudioStream]]:
        """Packets starting before `sample` (all when None), in order; waits for them."""
        while not self._done:
            if self._next is None:
                item = self.packets.get()
                if item is None:
                    self._done = True
                    return
                if isinstance(item, BaseException):
                    self._done = True
                    raise RenderError("encoder", f"audio encoding failed: {item}") from item
                self._next = item
            if sample is not None and self._next.pts is not None and self._next.pts >= sample:
                return
            packet, self._next = self._next, None
            yield packet

    def stop(self) -> None:
        self.stopping.set()
        self.join()


class _Stopped(Exception):
    """The muxer was aborted: the AAC thread stops where it is."""


class Muxer:
    """Owns the output container; video frames in order, audio interleaved up to the video time."""

    def __init__(
        self,
        out_path: Path,
        width: int,
        height: int,
        fps: int,
        settings: EncoderSettings,
        audio: AudioSource | None,
        threads: int = 0,
    ) -> None:
        """`audio` None: a video-only file (a chunked render's part; the join adds the sound).
        `threads`: x264's threads (0: as many as it likes)."""
        self.fps = fps
        # libx264 copies each picture into its own frames inside x264_encoder_encode, before
        # encode() returns: it can read our buffer in place (no 3 MB copy per frame). Other
        # encoders may hold a frame until later, so they get a copy.
        self.zero_copy = settings.codec == "libx264"
        self._frames = 0
        try:
            # format forced: the caller's path ends in ".part"
            self.container: OutputContainer = av.open(
                str(out_path), mode="w", format="mp4", options={"movflags": "+faststart"}
            )
        except (av.FFmpegError, OSError) as exc:
            raise RenderError("output", f"cannot create the output file ({exc})") from exc
        video = self.container.add_stream(settings.codec, rate=fps, options=video_options(settings, fps))
        assert isinstance(video, VideoStream)  # a video codec's name, from choose_encoder
        self.video = video
        self.video.width, self.video.height, self.video.pix_fmt = width, height, "yuv420p"
        context: Any = self.video.codec_context
        context.color_primaries = context.color_trc = context.colorspace = _BT709
        context.color_range = _TV_RANGE
        context.thread_count = threads
        self.sound = add_aac_stream(self.container) if audio is not None else None
        try:
            # Opens both encoders and writes the header here, before the AAC thread starts: it
            # must not race the muxer opening its codec on the first packet.
            self.container.start_encoding()
        except (av.FFmpegError, ValueError) as exc:
            self._close()
            out_path.unlink(missing_ok=True)
            raise RenderError("encoder", f"cannot open the {settings.codec} encoder ({exc})") from exc
        self._aac = AacAhead(self.sound, audio) if audio is not None else None
        if self._aac is not None:
            self._aac.start()

    def add_video(self, yuv420p: np.ndarray) -> None:
        """Encode one (h * 3 / 2, w) yuv420p frame. The array may be reused once this returns."""
        if self.zero_copy:
            frame = av.VideoFrame.from_numpy_buffer(yuv420p, format="yuv420p")
        else:
            frame = av.VideoFrame.from_ndarray(yuv420p, format="yuv420p")
        frame.color_range = _TV_RANGE
        frame.colorspace = _BT709
        frame.pts = self._frames
        self._frames += 1
        self.container.mux(self.video.encode(frame))
        if self._aac is not None:
            for packet in self._aac.take_until(round(self._frames / self.fps * SAMPLE_RATE)):
                self.container.mux(packet)

    def finish(self) -> None:
        self.container.mux(self.video.encode(None))
        if self._aac is not None:
            for packet in self._aac.take_until(None):
                self.container.mux(packet)
        self.container.close()

    def abort(self) -> None:
        if self._aac is not None:
            self._aac.stop()
        self._close()

    def _close(self) -> None:
        try:
            self.container.close()
        except (av.FFmpegError, OSError, ValueError):
            log.debug("closing an aborted output failed", exc_info=True)


def video_options(settings: EncoderSettings, fps: int) -> dict[str, str]:
    keyint = str(keyframe_interval(fps))
    if settings.codec == "h264_nvenc":
        return {
            "g": keyint,
            "preset": _NVENC_PRESET.get(settings.preset, "p4"),
            "rc": "vbr",
            "cq": str(settings.crf),
            "b": "0",
            "profile": "high",
        }
    options = {"g": keyint, "crf": str(settings.crf), "preset": settings.preset}
    if settings.crf > 0:
        # crf 0 is x264's lossless mode, which High profile forbids (High 4:4:4 Predictive carries it)
        options["profile"] = "high"
    return options
