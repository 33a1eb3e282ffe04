"""The encoder through the `ffmpeg` command (ffmpeg_command.py): the path h264_nvenc takes when
PyAV's FFmpeg lacks it. Run here with libx264 (`encoder="ffmpeg-libx264"`), which exercises the
same pipe, soundtrack file and muxing; the file must be what the in-process encoder writes."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest

from renderer.encode.choice import choose_encoder
from renderer.encode.ffmpeg_command import FfmpegMuxer
from renderer.encode.muxer import EncoderSettings
from renderer.errors import RenderError
from renderer.render import render
from renderer.schema.output import OutputSpec
from tests.renderer.render_check import (
    assert_output_streams,
    dominant_hz,
    draft,
    frames,
    media_factory,
    needs_ffprobe,
    solid,
    sound,
)

pytestmark = [
    needs_ffprobe,
    pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="the ffmpeg command is not installed"),
]


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, Path]:
    return {"red": solid(tmp_path, "red.png", (255, 0, 0)), "blue": solid(tmp_path, "blue.png", (0, 0, 255))}


def test_the_command_writes_the_same_kind_of_file(tmp_path: Path, sources: dict[str, Path]) -> None:
    d = draft("transition")
    result = render(d, sources, tmp_path / "cmd.mp4.part", OutputSpec(crf=17), encoder="ffmpeg-libx264")
    assert result.encoder == "libx264 (ffmpeg command)"
    out = tmp_path / "cmd.mp4.part"
    _, video, audio = assert_output_streams(out)  # forced mp4 despite ".part"
    assert int(video["nb_frames"]) == 20 and video["r_frame_rate"] == "10/1"
    assert float(video["duration"]) == pytest.approx(2.0, abs=0.001)
    assert float(audio["duration"]) == pytest.approx(2.0, abs=0.03)
    body = out.read_bytes()
    assert 0 <= body.find(b"moov") < body.find(b"mdat")  # +faststart
    assert b"crf=17.0" in body  # the rate control reached x264
    # and the picture is the in-process encoder's (same x264 settings; threads may round apart)
    render(d, sources, tmp_path / "lib.mp4", OutputSpec(crf=17), encoder="libx264")
    ours, theirs = np.array(frames(tmp_path / "lib.mp4")), np.array(frames(out))
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).mean() < 1.0


def test_the_soundtrack_goes_through_the_command(tmp_path: Path, sources: dict[str, Path]) -> None:
    media = {"grey": sources["red"], "tone": media_factory.wav_tone(tmp_path, seconds=3.0)}  # 440 Hz
    out = tmp_path / "o.mp4"
    render(draft("music"), media, out, OutputSpec(), encoder="ffmpeg-libx264")
    samples = sound(out)
    assert samples.shape[1] == pytest.approx(3 * 48000, abs=1024)
    assert dominant_hz(samples[:, 48000:]) == pytest.approx(440, abs=5)


def test_cancel_kills_the_command_and_leaves_nothing(tmp_path: Path, sources: dict[str, Path]) -> None:
    calls = iter(range(1000))
    out = tmp_path / "o.mp4.part"
    with pytest.raises(RenderError) as caught:
        render(
            draft("transition"),
            sources,
            out,
            OutputSpec(),
            encoder="ffmpeg-libx264",
            should_cancel=lambda: next(calls) >= 2,  # after a few frames went to the command
        )
    assert caught.value.code == "cancelled"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blue.png", "red.png"]  # no file, no scratch


def test_a_missing_command_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RenderError) as caught:
        choose_encoder("ffmpeg-libx264", OutputSpec(), ffmpeg=str(tmp_path / "no-ffmpeg"))
    assert caught.value.code == "encoder" and "cannot encode libx264" in caught.value.message


def test_an_unwritable_output_is_an_output_error(tmp_path: Path, sources: dict[str, Path]) -> None:
    with pytest.raises(RenderError) as caught:
        render(draft("silent"), sources, tmp_path / "gone" / "o.mp4", OutputSpec(), encoder="ffmpeg-libx264")
    assert caught.value.code == "output"


def test_a_command_that_dies_says_what_it_said(tmp_path: Path) -> None:
    """The command stops half way (a GPU lost, a disk full): the render fails with its last words,
    not a broken pipe."""
    dying = tmp_path / "ffmpeg"
    dying.write_text("#!/bin/sh\nhead -c 100 >/dev/null\necho 'Error: NVENC session lost' >&2\nexit 1\n")
    dying.chmod(dying.stat().st_mode | stat.S_IEXEC)
    settings = EncoderSettings(codec="libx264", crf=23, preset="veryfast", via="ffmpeg")
    silence = np.zeros((2, 48000), np.float32)
    muxer = FfmpegMuxer(tmp_path / "o.mp4", 64, 64, 10, settings, silence, binary=str(dying))
    frame = np.zeros((96, 64), np.uint8)
    with pytest.raises(RenderError) as caught:
        for _ in range(10_000):  # far more than the pipe's buffer holds
            muxer.add_video(frame)
        muxer.finish()
    muxer.abort()
    assert caught.value.code == "encoder"
    assert "NVENC session lost" in caught.value.message
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("nemo-encode-")]
    assert os.access(tmp_path, os.W_OK)
