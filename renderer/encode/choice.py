"""Which H.264 encoder a render uses: h264_nvenc where the GPU has NVENC (in process through PyAV, or
through the `ffmpeg` command when only that has it), else libx264 in process.

Its own module so the two muxers (muxer.py in process, ffmpeg_command.py through the command) never
import each other: this one imports both sides' facts and neither imports it back.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import av

from renderer.encode.ffmpeg_command import ffmpeg_has_encoder
from renderer.encode.muxer import EncoderSettings, rate_control
from renderer.errors import RenderError
from renderer.schema.output import ENCODERS, OutputSpec

log = logging.getLogger("nemo.renderer")


class NvencProbe(Protocol):
    """What choose_encoder asks the machine about NVENC; tests pass a double (no GPU needed)."""

    def has_driver(self) -> bool:
        """An NVIDIA driver is loaded (the device node exists)."""
        ...

    def opens_in_process(self) -> bool:
        """PyAV's FFmpeg has h264_nvenc and a GPU lets it open an encoding session."""
        ...


class SystemNvencProbe:
    """The real probe: the driver's device node, then a 256x256 h264_nvenc session opened."""

    def has_driver(self) -> bool:
        return Path("/dev/nvidiactl").exists()

    def opens_in_process(self) -> bool:
        return nvenc_available()


def nvenc_available() -> bool:
    """True when this PyAV's FFmpeg has h264_nvenc *and* a GPU lets it open a session."""
    if "h264_nvenc" not in av.codecs_available or not Path("/dev/nvidiactl").exists():
        return False
    try:
        context = av.CodecContext.create("h264_nvenc", "w")
        context.width, context.height, context.pix_fmt = 256, 256, "yuv420p"
        context.time_base = Fraction(1, 30)  # PyAV 19 takes a Fraction or AVRational, not "1/30"
        context.open()
        context.close()  # type: ignore[attr-defined]
    except (av.FFmpegError, OSError, ValueError, AttributeError):
        return False
    return True


def choose_encoder(
    requested: str, output: OutputSpec, ffmpeg: str = "ffmpeg", probe: NvencProbe | None = None
) -> EncoderSettings:
    """h264_nvenc where the GPU has NVENC (in process when PyAV's FFmpeg has it, else through the
    `ffmpeg` command when that has it), else libx264 in process. Logged. `probe`: the machine's
    NVENC facts (SystemNvencProbe by default)."""
    probe = probe if probe is not None else SystemNvencProbe()
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
    elif requested in ("auto", "h264_nvenc") and probe.has_driver() and probe.opens_in_process():
        codec = "h264_nvenc"
    elif (
        requested in ("auto", "h264_nvenc")
        and probe.has_driver()
        and ffmpeg_has_encoder(ffmpeg, "h264_nvenc")
    ):
        codec, via = "h264_nvenc", "ffmpeg"
    elif requested == "h264_nvenc":
        log.warning("h264_nvenc requested but not usable here; falling back to libx264")
    settings = EncoderSettings(codec=codec, crf=crf, preset=preset, via=via)
    log.info("encoder: %s (crf %d, preset %s)", settings.label, crf, preset)
    return settings
