"""The soundtrack as heard in the rendered file: the song itself, loops, fades, clips' sound."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from render_check import dominant_hz, draft, media_factory, render_file, solid, sound


@pytest.fixture
def grey(tmp_path: Path) -> Path:
    return solid(tmp_path, "grey.png", (90, 90, 90))


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples**2)))


def test_music_is_heard_at_its_own_pitch(tmp_path: Path, grey: Path) -> None:
    tone = media_factory.mp3_tone(tmp_path, seconds=2.0)  # 440 Hz
    out = render_file(draft("music"), {"grey": grey, "tone": tone}, tmp_path / "o.mp4")
    samples = sound(out)
    assert dominant_hz(samples[:, 48000:96000]) == pytest.approx(440, abs=3)


def test_loop_fills_the_whole_duration_and_fade_in_starts_quiet(tmp_path: Path, grey: Path) -> None:
    tone = media_factory.mp3_tone(tmp_path, seconds=1.0)  # shorter than the 3 s segment
    samples = sound(render_file(draft("music"), {"grey": grey, "tone": tone}, tmp_path / "o.mp4"))
    second = 48000
    start, middle, late = (
        samples[:, :4800],
        samples[:, second + 2400 : second + 7200],
        samples[:, 2 * second + 2400 :],
    )
    assert _rms(late[:, :48000]) > 0.1  # still playing in the third second: looped, not run out
    assert _rms(start) < 0.3 * _rms(middle)  # fade_in: the first 0.1 s is much quieter


def test_trim_stops_the_song_at_the_segment_end(tmp_path: Path, grey: Path) -> None:
    tone = media_factory.mp3_tone(tmp_path, seconds=3.0)
    d = draft("music")
    d.t[1].sg[0].d = 1000
    d.t[1].sg[0].m.loop = False
    samples = sound(render_file(d, {"grey": grey, "tone": tone}, tmp_path / "o.mp4"))
    assert _rms(samples[:, 24000:43000]) > 0.1
    assert _rms(samples[:, 52000:140000]) < 0.01


def test_a_clips_own_sound_is_mixed_in(tmp_path: Path) -> None:
    clip = media_factory.mp4_clip(tmp_path, seconds=3.0)  # carries a 440 Hz tone
    samples = sound(render_file(draft("clip_audio"), {"clip": clip}, tmp_path / "o.mp4"))
    assert _rms(samples[:, 12000:80000]) > 0.1
    assert dominant_hz(samples[:, 12000:60000]) == pytest.approx(440, abs=3)


def test_loud_sources_are_soft_limited_not_clipped(tmp_path: Path, grey: Path) -> None:
    tone = media_factory.mp3_tone(tmp_path, seconds=2.0)
    d = draft("music")
    d.t[1].sg[0].m.vol = 4.0  # 0.25 amplitude x 4 = full scale, before AAC overshoot
    samples = sound(render_file(d, {"grey": grey, "tone": tone}, tmp_path / "o.mp4"))
    assert float(np.abs(samples).max()) < 1.0
