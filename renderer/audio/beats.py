"""Tempo and beat times of a song, so "cut to the beat" works on the user's own music too.

A plain onset-strength method (spectral flux of the log spectrum), tempo from the onset
envelope's autocorrelation weighted toward moderate tempos, phase by the best-scoring grid, then
each beat snapped to the nearest onset peak. Good enough to place cuts within a frame on music
with a steady pulse; songs without one get None rather than a made-up grid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import BaseModel

from renderer.audio.soundtrack import decode_audio

ANALYSIS_RATE = 12_000  # decimated from 48 kHz: a kick and a snare need no more
_FRAME = 512
_HOP = 128
_MIN_BPM, _MAX_BPM = 60.0, 200.0
_PRIOR_BPM = 120.0  # tempo octave errors resolve toward here
_MIN_CONFIDENCE = 0.15  # autocorrelation peak above its surroundings; noise scores ~0


class BeatGrid(BaseModel):
    bpm: float
    beat_offset_ms: int
    beats_ms: list[int]
    confidence: float


def _onset_envelope(mono: np.ndarray) -> np.ndarray:
    if len(mono) < _FRAME * 4:
        return np.zeros(0, np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(mono, _FRAME)[::_HOP]
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(_FRAME).astype(np.float32), axis=1))
    logmag = np.log1p(1000.0 * spectrum)
    flux = np.maximum(np.diff(logmag, axis=0), 0.0).sum(axis=1)
    # Remove the slow trend (loudness changes) so only onsets remain.
    width = int(ANALYSIS_RATE / _HOP)  # about one second
    trend = np.convolve(flux, np.ones(width) / width, mode="same")
    env = np.maximum(flux - trend, 0.0)
    peak = float(env.max()) if env.size else 0.0
    strength: np.ndarray = (env / peak).astype(np.float32) if peak > 0 else env.astype(np.float32)
    return strength


def _tempo(env: np.ndarray) -> tuple[float, float]:
    """(period in envelope frames, confidence).

    Each candidate period scores by how much onset strength its best-phased grid collects (a comb)
    times the envelope's autocorrelation at that lag, squared: the comb alone likes off-beat
    patterns (3:2), the autocorrelation alone likes half-beats; the product picks the pulse.
    Measured on the six built-in tracks: five exact, one (a strummed 96 BPM) read as 64.
    """
    fps = ANALYSIS_RATE / _HOP
    centred = env - env.mean()
    n = len(centred)
    spectrum = np.fft.rfft(centred, 2 * n)
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[:n]
    if acf[0] <= 0:
        return 0.0, 0.0
    acf = acf / acf[0]
    lo, hi = fps * 60 / _MAX_BPM, fps * 60 / _MIN_BPM
    if hi + 2 >= n:
        return 0.0, 0.0
    periods = np.arange(lo, hi, 0.25)
    # Sharp onsets would miss a grid whose period is a quarter frame off after forty beats:
    # score against a slightly blurred envelope so the comb forgives the period's quantisation.
    kernel = np.exp(-0.5 * (np.arange(-6, 7) / 2.0) ** 2)
    blurred = np.convolve(env, kernel / kernel.sum(), mode="same")
    best_period, best_score = 0.0, -1.0
    for period in periods:
        count = int((n - 1) / period)
        grid = np.arange(count) * period
        phases = np.arange(0.0, period, 1.0)
        idx = np.clip(np.round(grid[None, :] + phases[:, None]).astype(int), 0, n - 1)
        comb = float(blurred[idx].mean(axis=1).max())
        correlation = max(float(np.interp(period, np.arange(n), acf)), 0.0)
        bpm = 60 * fps / period
        prior = float(np.exp(-0.5 * (np.log2(bpm / _PRIOR_BPM)) ** 2))
        score = comb * correlation**2 * prior
        if score > best_score:
            best_period, best_score = float(period), score
    lags = np.arange(int(lo), int(np.ceil(hi)) + 1)
    confidence = float(np.interp(best_period, np.arange(n), acf) - np.median(acf[lags]))
    return best_period, confidence


def _phase(env: np.ndarray, period: float) -> float:
    """The offset (in envelope frames) whose grid collects the most onset strength."""
    count = int((len(env) - 1) / period)
    positions = np.arange(count) * period
    best, best_score = 0.0, -1.0
    for offset in np.arange(0.0, period, 0.25):
        idx = np.clip(np.round(positions + offset).astype(int), 0, len(env) - 1)
        score = float(env[idx].sum())
        if score > best_score:
            best, best_score = float(offset), score
    return best


def estimate_beats(path: Path, max_seconds: float = 600.0) -> BeatGrid | None:
    """The beat grid of an audio file, or None when it has no steady pulse."""
    stereo = decode_audio(path, 0.0, int(max_seconds * 48_000))
    if stereo.shape[1] < 48_000 * 4:  # under four seconds: too short to call a tempo
        return None
    mono = stereo.mean(axis=0)
    # 48 kHz -> 12 kHz: average groups of four (a crude low-pass, enough for onsets).
    usable = len(mono) // 4 * 4
    mono = mono[:usable].reshape(-1, 4).mean(axis=1)
    env = _onset_envelope(mono)
    period, confidence = _tempo(env) if env.size else (0.0, 0.0)
    if period <= 0 or confidence < _MIN_CONFIDENCE:
        return None
    offset = _phase(env, period)
    frame_ms = 1000.0 * _HOP / ANALYSIS_RATE
    # The flux at frame i compares windows i and i+1, so an attack registers about one hop plus
    # half a window after frame i starts (measured on the built-in tracks: this centres the error).
    latency_ms = 1000.0 * (_FRAME / 2 + 1.75 * _HOP) / ANALYSIS_RATE
    snap = max(1, round(period * 0.1))
    beats: list[int] = []
    position = offset
    while position < len(env):
        i = round(position)
        lo, hi = max(0, i - snap), min(len(env), i + snap + 1)
        local = lo + int(np.argmax(env[lo:hi])) if env[lo:hi].max() > 0.2 else i
        beats.append(max(0, round(local * frame_ms + latency_ms)))
        position += period
    bpm = 60_000.0 / (period * frame_ms)
    return BeatGrid(
        bpm=round(bpm, 2), beat_offset_ms=beats[0], beats_ms=beats, confidence=round(confidence, 3)
    )
