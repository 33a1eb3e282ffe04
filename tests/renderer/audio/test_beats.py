"""Beat grids of songs: what "cut to the beat" uses for uploaded music."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from renderer.audio.beats import estimate_beats
from renderer.music.catalogue import CATALOGUE
from renderer.music.synth import ensure_track

FRAME_MS = 1000 / 30


def _wav(path: Path, mono: np.ndarray, rate: int = 48000) -> Path:
    pcm = (np.stack([mono, mono], axis=1).clip(-1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(2)
        fh.setsampwidth(2)
        fh.setframerate(rate)
        fh.writeframes(pcm.tobytes())
    return path


def _click_track(path: Path, bpm: float, offset_ms: float, seconds: float = 20.0) -> Path:
    rate = 48000
    out = np.zeros(int(seconds * rate), np.float32)
    click = np.sin(2 * np.pi * 90 * np.arange(2400) / rate) * np.exp(-np.arange(2400) / 400)
    t = offset_ms / 1000
    while t < seconds - 0.1:
        i = int(t * rate)
        out[i : i + len(click)] += click.astype(np.float32) * 0.8
        t += 60 / bpm
    return _wav(path, out)


def _errors_ms(found: list[int], truth: list[int]) -> np.ndarray:
    ref = np.array(truth)
    return np.array([abs(b - ref[np.argmin(np.abs(ref - b))]) for b in found if b <= ref[-1]])


def test_a_click_track_gives_its_tempo_and_beats(tmp_path: Path) -> None:
    grid = estimate_beats(_click_track(tmp_path / "clicks.wav", 128.0, 300.0))
    assert grid is not None
    assert grid.bpm == pytest.approx(128.0, abs=1.0)
    truth = [round(300 + i * 60_000 / 128) for i in range(60)]
    assert np.percentile(_errors_ms(grid.beats_ms, truth), 90) < FRAME_MS


@pytest.mark.parametrize("name", ["lofi", "upbeat", "cinematic", "electronic"])
def test_built_in_tracks_have_their_beats_found_within_a_frame(name: str, tmp_path: Path) -> None:
    track = CATALOGUE[name]
    grid = estimate_beats(ensure_track(name, tmp_path))
    assert grid is not None
    assert grid.bpm == pytest.approx(track.bpm, rel=0.02)
    assert np.percentile(_errors_ms(grid.beats_ms, track.beats_ms), 90) < FRAME_MS


def test_noise_has_no_beat(tmp_path: Path) -> None:
    noise = np.random.default_rng(3).normal(0, 0.2, 48000 * 15).astype(np.float32)
    assert estimate_beats(_wav(tmp_path / "noise.wav", noise)) is None


def test_a_few_seconds_are_too_short_to_call(tmp_path: Path) -> None:
    assert estimate_beats(_click_track(tmp_path / "short.wav", 120.0, 0.0, seconds=3.0)) is None
