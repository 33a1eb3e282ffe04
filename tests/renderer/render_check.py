"""Helpers for renderer tests: load golden drafts, render them, read the result back with the
`ffprobe` command (not our code) and PyAV, make simple test media."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from renderer.render import render
from renderer.schema.draft import Draft
from renderer.schema.output import OutputSpec
from tests.ffprobe import ffprobe

TESTS = Path(__file__).resolve().parent.parent
DRAFTS = TESTS / "drafts"
sys.path.insert(0, str(TESTS))

import media_factory  # noqa: E402, F401  (re-exported: tests take their media from here)

needs_ffprobe = pytest.mark.skipif(
    shutil.which("ffprobe") is None, reason="the ffprobe command is not installed"
)


def draft(name: str, **changes: Any) -> Draft:
    data = json.loads((DRAFTS / f"{name}.json").read_text())
    data.update(changes)
    return Draft.model_validate(data)


def render_file(d: Draft, sources: dict[str, Path], out: Path, **output: Any) -> Path:
    render(d, sources, out, OutputSpec(**output), device="cpu")
    return out


def frames(path: Path) -> list[np.ndarray]:
    """Every video frame as (h, w, 3) int RGB."""
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24").astype(int) for f in container.decode(video=0)]


def sound(path: Path) -> np.ndarray:
    """The audio stream as (2, n) float32 at its own rate (48 kHz for our renders)."""
    with av.open(str(path)) as container:
        chunks = [f.to_ndarray() for f in container.decode(audio=0)]
    return np.concatenate(chunks, axis=1).astype(np.float32)


def solid(directory: Path, name: str, rgb: tuple[int, int, int], size: tuple[int, int] = (240, 320)) -> Path:
    path = directory / name
    Image.new("RGB", size, rgb).save(path)
    return path


def dominant_hz(samples: np.ndarray, rate: int = 48_000) -> float:
    mono = samples.mean(axis=0)
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(mono.size)))
    return float(np.argmax(spectrum) * rate / mono.size)


def near(pixel: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 30) -> bool:
    return bool(np.abs(pixel - np.array(rgb)).max() <= tolerance)


def assert_output_streams(out: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """What every render must be (api-contract.md, renderer spec): an MP4 (whatever the file's
    name) with H.264 High yuv420p tagged BT.709 limited range, and AAC-LC 48 kHz stereo. Returns
    (ffprobe's answer, the video stream, the audio stream) for the test's own checks."""
    info = ffprobe(out)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert info["format"]["format_name"].startswith("mov,mp4")
    assert (video["codec_name"], video["profile"], video["pix_fmt"]) == ("h264", "High", "yuv420p")
    assert (video["color_primaries"], video["color_transfer"], video["color_space"]) == ("bt709",) * 3
    assert video["color_range"] == "tv"
    assert (audio["codec_name"], audio["profile"]) == ("aac", "LC")
    assert (int(audio["sample_rate"]), audio["channels"]) == (48000, 2)
    return info, video, audio
