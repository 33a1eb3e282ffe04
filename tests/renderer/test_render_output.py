"""The rendered file itself: codecs, profile, colour tags, audio format, exact duration, sizes."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from renderer.errors import RenderError
from renderer.priority import BEHIND_ENCODER
from renderer.render import render
from renderer.schema.output import OutputSpec, RenderProgress
from tests.renderer.render_check import (
    assert_output_streams,
    draft,
    ffprobe,
    needs_ffprobe,
    render_file,
    solid,
    sound,
)

pytestmark = needs_ffprobe


@pytest.fixture
def red(tmp_path: Path) -> Path:
    return solid(tmp_path, "red.png", (255, 0, 0))


def test_output_is_h264_high_bt709_with_aac_stereo_48k_and_exact_duration(tmp_path: Path, red: Path) -> None:
    out = render_file(draft("silent"), {"red": red}, tmp_path / "out.mp4.part")
    info, video, _ = assert_output_streams(out)  # forced mp4 despite ".part"
    assert (video["width"], video["height"]) == (180, 320)
    assert int(video["nb_frames"]) == 15  # 1.5 s at 10 fps
    assert float(video["duration"]) == pytest.approx(1.5, abs=0.001)
    assert float(info["format"]["duration"]) == pytest.approx(1.5, abs=0.03)


def test_a_draft_without_audio_still_has_a_silent_audio_stream(tmp_path: Path, red: Path) -> None:
    out = render_file(draft("silent"), {"red": red}, tmp_path / "out.mp4")
    samples = sound(out)
    assert samples.shape[1] >= 48000 * 1.4
    assert float(abs(samples).max()) < 1e-3


def test_faststart_puts_the_index_before_the_media(tmp_path: Path, red: Path) -> None:
    out = render_file(draft("silent"), {"red": red}, tmp_path / "out.mp4")
    head = out.read_bytes()
    assert 0 <= head.find(b"moov") < head.find(b"mdat")


def test_resolution_scales_the_short_side_and_never_upscales(tmp_path: Path, red: Path) -> None:
    big = draft("silent", m={"width": 720, "height": 1280, "fps": 10})
    out = render_file(big, {"red": red}, tmp_path / "small.mp4", resolution="480p")
    video = ffprobe(out)["streams"][0]
    assert (video["width"], video["height"]) == (480, 854)
    out = render_file(draft("silent"), {"red": red}, tmp_path / "same.mp4", resolution="1080p")
    video = ffprobe(out)["streams"][0]
    assert (video["width"], video["height"]) == (180, 320)


def test_fps_override_changes_the_frame_count_not_the_duration(tmp_path: Path, red: Path) -> None:
    out = render_file(draft("silent"), {"red": red}, tmp_path / "out.mp4", fps=24)
    video = ffprobe(out)["streams"][0]
    assert int(video["nb_frames"]) == 36
    assert video["r_frame_rate"] == "24/1"


def test_quality_and_crf_reach_the_encoder(tmp_path: Path, red: Path) -> None:
    # x264 writes its settings into the stream (an SEI message); read them from the file
    low = render_file(draft("silent"), {"red": red}, tmp_path / "low.mp4", quality="low").read_bytes()
    assert b"crf=28.0" in low
    custom = render_file(
        draft("silent"), {"red": red}, tmp_path / "c.mp4", quality="low", crf=17, preset="ultrafast"
    ).read_bytes()
    assert b"crf=17.0" in custom


def test_progress_only_grows_and_ends_at_100(tmp_path: Path, red: Path) -> None:
    seen: list[RenderProgress] = []
    render(
        draft("silent"), {"red": red}, tmp_path / "o.mp4", OutputSpec(), device="cpu", on_progress=seen.append
    )
    values = [p.progress for p in seen]
    assert values == sorted(values) and values[-1] == 100
    assert {p.phase for p in seen} >= {"decode", "compose", "mux"}


def test_cancel_stops_the_render_and_leaves_no_file(tmp_path: Path, red: Path) -> None:
    out = tmp_path / "o.mp4.part"
    with pytest.raises(RenderError) as caught:
        render(draft("silent"), {"red": red}, out, OutputSpec(), device="cpu", should_cancel=lambda: True)
    assert caught.value.code == "cancelled"
    assert not out.exists()


def test_helper_threads_yield_the_cpu_to_the_encoder_and_leave_the_caller_as_it_was(
    tmp_path: Path, red: Path
) -> None:
    # Photos are decoded, frames composited and audio encoded at a lower priority than x264's
    # (the render ends sooner on a busy machine; bench/README.md), in threads of their own: the
    # caller's own priority, which it could not raise back, is untouched.
    def nice(thread: threading.Thread | None = None) -> int:
        tid = (thread or threading.current_thread()).native_id
        assert tid is not None
        return os.getpriority(os.PRIO_PROCESS, tid)

    before = nice()
    seen: dict[str, set[int]] = {}

    def on_progress(p: RenderProgress) -> None:
        if p.phase == "compose":
            for thread in threading.enumerate():
                if thread.name.startswith("nemo-"):
                    seen.setdefault(thread.name.rstrip("_0123456789"), set()).add(nice(thread))

    render(
        draft("silent"), {"red": red}, tmp_path / "o.mp4", OutputSpec(), device="cpu", on_progress=on_progress
    )
    behind = min(19, before + BEHIND_ENCODER)
    assert before == 19 or behind > before
    expected = {
        "nemo-compose": {behind},
        "nemo-decode": {behind},
        "nemo-encode": {before},
        "nemo-aac": {behind},
    }
    assert {"nemo-compose", "nemo-decode", "nemo-encode"} <= seen.keys()  # AAC may be done already
    assert seen == {name: expected[name] for name in seen}
    assert nice() == before


def test_a_missing_source_names_the_segment(tmp_path: Path) -> None:
    with pytest.raises(RenderError) as caught:
        render(draft("silent"), {}, tmp_path / "o.mp4", OutputSpec(), device="cpu")
    assert caught.value.code == "missing_source"
    assert "s1" in caught.value.message
