"""What a render is asked to produce and what it reports: pure pydantic, shared with the server.

`OutputSpec` is the `output` object of the render call (api-contract.md): ours (`quality`,
`resolution`, `fps`, `preset`) plus the Remotion-style `codec` and `crf` some clients send.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)

Quality = Literal["low", "medium", "high"]
Phase = Literal["queued", "decode", "compose", "encode", "mux"]


class OutputSpec(BaseModel):
    model_config = ConfigDict(extra="allow")

    format: Literal["mp4"] = "mp4"
    quality: Quality = "high"
    resolution: Literal["480p", "540p", "720p", "1080p"] | None = None
    fps: Literal[24, 25, 30, 60] | None = None
    codec: Literal["h264"] = "h264"
    crf: int | None = Field(None, ge=0, le=51)
    preset: Literal[X264_PRESETS] | None = None  # type: ignore[valid-type]


# "ffmpeg-libx264": libx264 through the ffmpeg command (a system build, or to check that path
# where no GPU is); h264_nvenc goes through the command by itself when PyAV's FFmpeg lacks it.
ENCODERS = ("auto", "libx264", "h264_nvenc", "ffmpeg-libx264")


class RenderProgress(BaseModel):
    """One progress report from a running render; `progress` only ever grows."""

    phase: Phase
    progress: int = Field(..., ge=0, le=100)
    eta_seconds: float | None = None


class RenderResult(BaseModel):
    size: int
    duration: float
    width: int
    height: int
    fps: int
    video_codec: str
    encoder: str
    device: str
    parts: int = 1  # processes the frames were split between (renderer/chunks/parts.py)
    phase_seconds: dict[str, float] = Field(default_factory=dict)  # wall seconds per phase, as logged
