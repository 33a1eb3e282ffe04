"""The encoder through the `ffmpeg` command, for when PyAV's own FFmpeg lacks the encoder (an
NVENC-enabled system build beside a PyAV without it), or to run that path on purpose
(`encoder="ffmpeg-libx264"`).

The soundtrack is encoded first, in process, to a temporary AAC file (the command needs all its
inputs when it starts); then raw yuv420p frames are piped to the command, which encodes the
picture, copies the AAC beside it and writes the MP4 with the same tags as the in-process muxer
(H.264 High, BT.709, limited range, +faststart). It has the in-process muxer's interface, so
render.py drives either. The command line is built here rather than with ffmpeg-python: that
package is unmaintained since 2019, and the dozen arguments below are all it would build.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
import tempfile
import threading
from functools import lru_cache
from pathlib import Path

import av
import numpy as np

from renderer.encode.muxer import AudioSource, EncoderSettings, encode_soundtrack, video_options
from renderer.errors import RenderError

log = logging.getLogger("nemo.renderer")

PROBE_SECONDS = 20


@lru_cache(maxsize=8)
def ffmpeg_has_encoder(binary: str, codec: str) -> bool:
    """True when the `binary` command can open `codec` on this machine: one tiny frame encoded
    to nothing (an NVENC build on a machine without the GPU's encoder says no here)."""
    if shutil.which(binary) is None:
        return False
    args = [binary, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=black:s=256x256:r=30"]
    args += ["-frames:v", "1", "-c:v", codec, "-f", "null", "-"]
    try:
        done = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=PROBE_SECONDS)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


class FfmpegMuxer:
    """encode.Muxer's interface over the `ffmpeg` command (see the module's docstring)."""

    def __init__(
        self,
        out_path: Path,
        width: int,
        height: int,
        fps: int,
        settings: EncoderSettings,
        audio: AudioSource,
        binary: str = "ffmpeg",
    ) -> None:
        self.out_path = out_path
        self.frame_bytes = width * height * 3 // 2
        try:
            self._scratch = tempfile.TemporaryDirectory(prefix="nemo-encode-", dir=out_path.parent)
        except OSError as exc:
            raise RenderError("output", f"cannot create the output file ({exc})") from exc
        soundtrack = Path(self._scratch.name) / "soundtrack.m4a"
        try:
            encode_soundtrack(audio, soundtrack)
        except (av.FFmpegError, OSError) as exc:
            self._scratch.cleanup()
            raise RenderError("output", f"cannot write the soundtrack ({exc})") from exc
        args = [binary, "-hide_banner", "-loglevel", "error", "-y"]
        args += ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}", "-r", str(fps)]
        args += ["-i", "pipe:0", "-i", str(soundtrack), "-map", "0:v:0", "-map", "1:a:0"]
        args += ["-c:v", settings.codec, "-pix_fmt", "yuv420p"]
        for key, value in video_options(settings, fps).items():
            args += [f"-{key}:v", value]
        args += ["-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709"]
        args += ["-color_range", "tv", "-c:a", "copy", "-movflags", "+faststart", "-f", "mp4", str(out_path)]
        log.info("encoding through %s", " ".join(args[:1] + args[5:]))
        try:
            self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            self._scratch.cleanup()
            raise RenderError("encoder", f"cannot start {binary!r} ({exc})") from exc
        # drained on a thread: a chatty command must never block on a full stderr pipe
        self._stderr: list[bytes] = []
        self._drain = threading.Thread(target=self._read_stderr, name="nemo-ffmpeg-stderr", daemon=True)
        self._drain.start()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.append(line)
            del self._stderr[:-40]  # the last lines say what went wrong

    def _failure(self, what: str) -> RenderError:
        self._drain.join(timeout=5)
        said = b"".join(self._stderr).decode("utf-8", "replace").strip()
        return RenderError("encoder", f"the ffmpeg command {what}" + (f": {said[-600:]}" if said else ""))

    def add_video(self, yuv420p: np.ndarray) -> None:
        """Encode one (h * 3 / 2, w) yuv420p frame. The array may be reused once this returns."""
        assert self.process.stdin is not None and yuv420p.nbytes == self.frame_bytes
        try:
            self.process.stdin.write(np.ascontiguousarray(yuv420p).data)
        except (BrokenPipeError, ValueError) as exc:
            self.process.wait()
            raise self._failure(f"stopped (exit status {self.process.returncode})") from exc

    def finish(self) -> None:
        assert self.process.stdin is not None
        with contextlib.suppress(BrokenPipeError):  # the status below says why it stopped
            self.process.stdin.close()
        status = self.process.wait()
        self._scratch.cleanup()
        if status != 0:
            raise self._failure(f"failed (exit status {status})")

    def abort(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._drain.join(timeout=5)
        self._scratch.cleanup()
