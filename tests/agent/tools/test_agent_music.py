"""The built-in music library: real WAV files, deterministic, loopable, beat grid true to the tempo."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from renderer.music.catalogue import CATALOGUE, SAMPLE_RATE, track_for_src
from renderer.music.synth import ensure_track
from tests.ffprobe import ffprobe


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    cache = tmp_path_factory.mktemp("music")
    return {name: ensure_track(name, cache) for name in CATALOGUE}


def _samples(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, SAMPLE_RATE)
        return (
            np.frombuffer(wav.readframes(wav.getnframes()), "<i2").reshape(-1, 2).astype(np.float64) / 32768
        )


def test_six_moods() -> None:
    assert {"lofi", "upbeat", "cinematic", "calm", "acoustic", "electronic"} <= set(CATALOGUE)
    assert len({t.mood for t in CATALOGUE.values()}) == len(CATALOGUE)
    assert track_for_src("builtin:calm") == CATALOGUE["calm"] and track_for_src("http://x/a.mp3") is None


def test_files_are_wav_of_the_advertised_length(library: dict[str, Path]) -> None:
    for name, path in library.items():
        track = CATALOGUE[name]
        assert path.name == f"builtin-{name}-v1.wav"
        probe = ffprobe(path)
        stream = probe["streams"][0]
        assert (stream["codec_type"], int(stream["sample_rate"]), stream["channels"]) == ("audio", 48000, 2)
        assert abs(float(probe["format"]["duration"]) * 1000 - track.duration_ms) <= 1
        assert 60_000 <= track.duration_ms <= 90_000


def test_music_is_audible_not_clipped_and_not_noise(library: dict[str, Path]) -> None:
    for path in library.values():
        x = _samples(path)
        rms = float(np.sqrt(np.mean(x**2)))
        assert 0.1 < rms < 0.5 and float(np.abs(x).max()) < 0.95
        left, right = x[:, 0], x[:, 1]
        assert float(np.corrcoef(left, right)[0, 1]) > 0.3  # a stereo mix, not two unrelated noises
        assert not np.allclose(left, right)  # but not mono either


def test_same_bytes_every_time(library: dict[str, Path], tmp_path: Path) -> None:
    again = ensure_track("lofi", tmp_path)
    assert again.read_bytes() == library["lofi"].read_bytes()
    before = again.stat().st_mtime_ns
    assert ensure_track("lofi", tmp_path).stat().st_mtime_ns == before  # cached, not rewritten
    assert [p.name for p in tmp_path.iterdir()] == ["builtin-lofi-v1.wav"]  # no partial files left
    assert len({p.read_bytes()[:200_000] for p in library.values()}) == len(library)  # distinct tracks


def test_unknown_track_is_a_key_error(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        ensure_track("polka", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_beat_grid_follows_the_tempo_and_the_drums(library: dict[str, Path]) -> None:
    for name, track in CATALOGUE.items():
        beat_ms = 60_000 / track.bpm
        assert track.beats_ms[0] == 0
        assert all(abs(b - i * beat_ms) <= 0.5 for i, b in enumerate(track.beats_ms))
        assert (
            abs(len(track.beats_ms) * beat_ms - track.duration_ms) <= 1
        )  # whole beats: loops stay on the grid
        if name in ("upbeat", "electronic"):  # four-on-the-floor: energy peaks right after each beat
            x = _samples(library[name]).mean(axis=1)
            frame = int(SAMPLE_RATE * 0.02)
            energy = np.array(
                [np.sum(x[int(b * 48) : int(b * 48) + frame] ** 2) for b in track.beats_ms[:-1]]
            )
            between = np.array(
                [
                    np.sum(x[int((b + beat_ms / 4) * 48) : int((b + beat_ms / 4) * 48) + frame] ** 2)
                    for b in track.beats_ms[:-1]
                ]
            )
            assert np.median(energy) > 1.5 * np.median(between)


def test_loops_without_a_click(library: dict[str, Path]) -> None:
    for path in library.values():
        x = _samples(path)
        steps = np.abs(np.diff(x, axis=0))
        seam = np.abs(x[0] - x[-1])
        assert float(seam.max()) <= float(np.percentile(steps, 99.9)) + 1e-3
