"""Which encoder a render gets (encode/choice.py), on machines we don't have: an NVENC probe double
stands in for the GPU (a boundary we don't own); the `ffmpeg` command is a script that succeeds or
fails the way a real one with or without NVENC does."""

from __future__ import annotations

import logging
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest

from renderer.encode.choice import SystemNvencProbe, choose_encoder
from renderer.encode.muxer import video_options
from renderer.schema.output import OutputSpec


@dataclass
class FakeNvenc:
    driver: bool
    in_process: bool

    def has_driver(self) -> bool:
        return self.driver

    def opens_in_process(self) -> bool:
        return self.in_process


def _command(directory: Path, succeeds: bool) -> str:
    """An `ffmpeg` that answers every probe with success (an NVENC build on a GPU) or failure."""
    path = directory / ("ffmpeg-ok" if succeeds else "ffmpeg-no")
    path.write_text(f"#!/bin/sh\nexit {0 if succeeds else 1}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_nvenc_in_process_where_the_gpu_opens_a_session(tmp_path: Path) -> None:
    settings = choose_encoder("auto", OutputSpec(quality="medium"), probe=FakeNvenc(True, True))
    assert (settings.codec, settings.via, settings.crf) == ("h264_nvenc", "pyav", 23)
    options = video_options(settings, 30)
    assert options["cq"] == "23" and options["preset"] == "p2" and options["g"] == "60"


def test_nvenc_through_the_command_when_only_it_has_nvenc(tmp_path: Path) -> None:
    settings = choose_encoder(
        "h264_nvenc", OutputSpec(), ffmpeg=_command(tmp_path, True), probe=FakeNvenc(True, False)
    )
    assert (settings.codec, settings.via) == ("h264_nvenc", "ffmpeg")


def test_no_driver_means_libx264_even_when_nvenc_is_asked_for(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="nemo.renderer"):
        settings = choose_encoder(
            "h264_nvenc", OutputSpec(), ffmpeg=_command(tmp_path, True), probe=FakeNvenc(False, True)
        )
    assert (settings.codec, settings.via) == ("libx264", "pyav")
    assert "falling back to libx264" in caplog.text


def test_a_driver_without_an_encoder_means_libx264(tmp_path: Path) -> None:
    """A GPU with no NVENC (the H200 of issue 16): neither PyAV nor the command opens a session."""
    settings = choose_encoder(
        "auto", OutputSpec(), ffmpeg=_command(tmp_path, False), probe=FakeNvenc(True, False)
    )
    assert (settings.codec, settings.via) == ("libx264", "pyav")
    assert video_options(settings, 25)["g"] == "50"  # a keyframe at least every 2 s


def test_the_system_probe_answers_here() -> None:
    probe = SystemNvencProbe()
    if not Path("/dev/nvidiactl").exists():
        assert not probe.has_driver() and not probe.opens_in_process()
