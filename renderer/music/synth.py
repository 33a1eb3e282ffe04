"""The built-in tracks' samples, synthesised by our own code (numpy only) from the catalogue's recipes.

No audio is downloaded or bundled: each track is a small composition (chords, bass, drums,
melody) rendered from fixed seeds, so the same name always gives the same bytes. A draft names a
track as `src: "builtin:<name>"`; `ensure_track` writes its WAV once into a cache directory.
Tracks are whole bars long and note tails wrap around to the start, so looping is seamless and
the beat grid (`beats_ms`) continues across the loop point.
"""

from __future__ import annotations

import os
import tempfile
import wave
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

from renderer.music.catalogue import CATALOGUE, RECIPES_BY_NAME, SAMPLE_RATE, VERSION, Recipe

# ---- synthesis primitives (vectorised; every note is one array expression) ----


def _hz(midi: float) -> float:
    return float(440.0 * 2.0 ** ((midi - 69) / 12))


@lru_cache(maxsize=256)
def _t(seconds: float) -> np.ndarray:
    return (np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE).astype(np.float32)


@lru_cache(maxsize=4096)  # arrangements repeat notes; each is computed once
def _tone(
    midi: float,
    seconds: float,
    partials: tuple[float, ...],
    attack: float,
    decay: float,
    bright_decay: float = 0.0,
    cents: float = 0.0,
) -> np.ndarray:
    """Additive note: partial k at k*f, amplitude partials[k-1], higher partials dying faster."""
    t = _t(seconds)
    f = _hz(midi) * 2.0 ** (cents / 1200)
    x = (2 * np.pi * f) * t
    s1, c1 = np.sin(x), np.cos(x)
    two_c = 2 * c1
    prev, cur = np.zeros_like(t), s1  # sin(0x), sin(1x): the rest by the angle recurrence
    fade = np.exp(-t * bright_decay) if bright_decay else None
    weight = np.ones_like(t)
    out = np.zeros_like(t)
    for k, amp in enumerate(partials, start=1):
        if k * f >= SAMPLE_RATE / 2.2:
            break
        if amp:
            out += amp * cur * weight
        prev, cur = cur, two_c * cur - prev
        if fade is not None:
            weight = weight * fade
    env = np.minimum(1.0, t / max(attack, 1e-3)) * np.exp(-t / decay)
    release = np.minimum(1.0, (seconds - t) / 0.05)  # no click at the note's end
    shaped: np.ndarray = out * env * release
    return shaped


def _kick(rng: np.random.Generator, punch: float = 1.0) -> np.ndarray:
    t = _t(0.4)
    freq = 48 + 110 * np.exp(-t * 28 * punch)
    phase = 2 * np.pi * np.cumsum(freq) / SAMPLE_RATE
    kick: np.ndarray = np.sin(phase) * np.exp(-t * 7) + 0.02 * rng.standard_normal(t.size) * np.exp(-t * 200)
    return kick


def _snare(rng: np.random.Generator, tone_hz: float = 190, decay: float = 18) -> np.ndarray:
    t = _t(0.3)
    noise = np.diff(rng.standard_normal(t.size + 1)) * 0.5
    snare: np.ndarray = 0.7 * noise * np.exp(-t * decay) + 0.5 * np.sin(2 * np.pi * tone_hz * t) * np.exp(
        -t * 30
    )
    return snare


def _hat(rng: np.random.Generator, decay: float = 70, seconds: float = 0.08) -> np.ndarray:
    t = _t(seconds)
    noise = np.diff(np.diff(rng.standard_normal(t.size + 2))) * 0.25
    return noise * np.exp(-t * decay)


class _Mix:
    """A stereo buffer whose overflow wraps to the start, which keeps the track loopable."""

    def __init__(self, n: int) -> None:
        self.buf = np.zeros((2, n), dtype=np.float32)

    def add(self, sig: np.ndarray, at_s: float, gain: float = 1.0, pan: float = 0.0) -> None:
        n = self.buf.shape[1]
        start = round(at_s * SAMPLE_RATE) % n
        left, right = gain * np.sqrt(0.5 * (1 - pan)), gain * np.sqrt(0.5 * (1 + pan))
        pos = 0
        while pos < sig.size:  # at most two passes unless a note outlasts the whole track
            take = min(sig.size - pos, n - start)
            self.buf[0, start : start + take] += left * sig[pos : pos + take]
            self.buf[1, start : start + take] += right * sig[pos : pos + take]
            pos += take
            start = 0

    def echo(self, delay_s: float, feedback: float, taps: int = 3) -> None:
        """Ping-pong echo by rolling the buffer: a cheap room that wraps around like the notes."""
        dry = self.buf.copy()
        shift = int(delay_s * SAMPLE_RATE)
        for i in range(1, taps + 1):
            d, g = (i * shift) % dry.shape[1], feedback**i
            src = dry[::-1] if i % 2 else dry
            self.buf[:, d:] += g * src[:, : dry.shape[1] - d]
            self.buf[:, :d] += g * src[:, dry.shape[1] - d :]

    def master(self) -> np.ndarray:
        x = self.buf - self.buf.mean(axis=1, keepdims=True)
        rms = float(np.sqrt(np.mean(x**2))) or 1.0
        x = np.tanh(x * (0.2 / rms) * 1.6) / float(np.tanh(1.6))  # soft limit around a common loudness
        mastered: np.ndarray = x * np.float32(0.89 / max(float(np.abs(x).max()), 1e-9))
        return mastered


# ---- the six arrangements ----

Part = Callable[[Recipe, _Mix, np.random.Generator], None]
PAD = (1.0, 0.5, 0.3, 0.2, 0.12, 0.08)
EPIANO = (1.0, 0.25, 0.08, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.04)
PLUCK = (1.0, 0.6, 0.4, 0.25, 0.15, 0.1, 0.06)
BASS = (1.0, 0.35, 0.12)
STRINGS = tuple(1.0 / k for k in range(1, 10))


def _chords(
    r: Recipe,
    mix: _Mix,
    voice: tuple[float, ...],
    gain: float,
    attack: float,
    decay: float,
    octave: int = 12,
    bars_long: int = 1,
) -> None:
    bar_s = 4 * r.beat_s
    for bar in range(0, r.bars, bars_long):
        root, ivs = r.chord_at(bar)
        for i, iv in enumerate(ivs):
            for cents, pan in ((-4.0, -0.5), (4.0, 0.5)):  # detuned pair: width without reverb
                note = _tone(root + octave + iv, bar_s * bars_long + 0.6, voice, attack, decay, 0.8, cents)
                mix.add(note, bar * bar_s + 0.012 * i, gain / len(ivs), pan)


def _bass(r: Recipe, mix: _Mix, pattern: tuple[float, ...], gain: float, length_beats: float) -> None:
    for bar in range(r.bars):
        root = r.chord_at(bar)[0]
        for beat in pattern:
            note = np.tanh(1.5 * _tone(root - 12, length_beats * r.beat_s, BASS, 0.005, 0.5))
            mix.add(note, (bar * 4 + beat) * r.beat_s, gain)


def _drums(
    r: Recipe,
    mix: _Mix,
    rng: np.random.Generator,
    kicks: tuple[float, ...],
    snares: tuple[float, ...],
    hats: tuple[float, ...],
    swing: float = 0.0,
    gain: float = 1.0,
    from_bar: int = 0,
) -> None:
    kick, snare, hat = _kick(rng), _snare(rng), _hat(rng)
    for bar in range(from_bar, r.bars):
        for b in kicks:
            mix.add(kick, (bar * 4 + b) * r.beat_s, 0.9 * gain)
        for b in snares:
            mix.add(snare, (bar * 4 + b) * r.beat_s, 0.45 * gain, 0.1)
        for b in hats:
            late = swing * r.beat_s if (b * 2) % 2 == 1 else 0.0  # swing the off-beat eighths
            mix.add(hat, (bar * 4 + b) * r.beat_s + late, 0.22 * gain * rng.uniform(0.7, 1.0), -0.3)


def _melody(
    r: Recipe,
    mix: _Mix,
    rng: np.random.Generator,
    voice: tuple[float, ...],
    gain: float,
    step_beats: float,
    density: float,
    octave: int,
    from_bar: int,
    decay: float,
) -> None:
    steps_per_bar = int(4 / step_beats)
    for bar in range(from_bar, r.bars):
        root, ivs = r.chord_at(bar)
        scale = sorted({(root + iv) % 12 for iv in ivs} | {(root + 2) % 12})
        for s in range(steps_per_bar):
            if rng.random() > density:
                continue
            pitch = 60 + octave + scale[int(rng.integers(len(scale)))]
            note = _tone(pitch, step_beats * r.beat_s * 2, voice, 0.004, decay, 2.0)
            mix.add(
                note,
                (bar * 4 + s * step_beats) * r.beat_s,
                gain * rng.uniform(0.6, 1.0),
                float(rng.uniform(-0.4, 0.4)),
            )


def _lofi(r: Recipe, mix: _Mix, rng: np.random.Generator) -> None:
    _chords(r, mix, EPIANO, 0.55, 0.01, 1.6)
    _bass(r, mix, (0.0, 2.5), 0.5, 1.5)
    _drums(r, mix, rng, (0.0, 2.5), (1.0, 3.0), (0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5), swing=0.08, gain=0.8)
    _melody(r, mix, rng, EPIANO, 0.18, 0.5, 0.35, 12, 4, 0.6)
    n = mix.buf.shape[1]
    pops = rng.integers(0, n, size=n // 4000)  # vinyl crackle and hiss
    mix.buf[:, pops] += rng.uniform(-0.015, 0.015, size=pops.size).astype(np.float32)
    mix.buf += 0.004 * rng.standard_normal(mix.buf.shape, dtype=np.float32)
    mix.echo(0.75 * r.beat_s, 0.25)


def _upbeat(r: Recipe, mix: _Mix, rng: np.random.Generator) -> None:
    _chords(r, mix, PLUCK, 0.3, 0.005, 0.3)
    for bar in range(r.bars):  # off-beat stabs
        for b in (0.5, 1.5, 2.5, 3.5):
            root, ivs = r.chord_at(bar)
            for iv in ivs:
                mix.add(_tone(root + 24 + iv, 0.2, PLUCK, 0.003, 0.08, 3.0), (bar * 4 + b) * r.beat_s, 0.08)
    _bass(r, mix, tuple(i * 0.5 for i in range(8)), 0.4, 0.45)
    _drums(r, mix, rng, (0.0, 1.0, 2.0, 3.0), (1.0, 3.0), (0.5, 1.5, 2.5, 3.5), gain=0.9)
    _melody(r, mix, rng, PLUCK, 0.16, 0.5, 0.55, 12, 4, 0.25)
    mix.echo(0.5 * r.beat_s, 0.2)


def _cinematic(r: Recipe, mix: _Mix, rng: np.random.Generator) -> None:
    _chords(r, mix, STRINGS, 0.6, 1.2, 4.0, octave=0)
    _chords(r, mix, PAD, 0.35, 0.8, 3.0, octave=12)
    boom = _kick(rng, punch=0.5)
    for bar in range(r.bars):
        mix.add(boom, bar * 4 * r.beat_s, 1.0)
        mix.add(boom, (bar * 4 + 2.5) * r.beat_s, 0.5)
    for bar in range(r.bars // 2, r.bars):  # ostinato builds the second half
        root = r.chord_at(bar)[0]
        for e in range(8):
            pitch = root + 24 + (7 if e % 4 == 3 else 0)
            mix.add(_tone(pitch, 0.4, PLUCK, 0.005, 0.15, 2.0), (bar * 4 + e * 0.5) * r.beat_s, 0.12)
    _bass(r, mix, (0.0,), 0.45, 4.0)
    mix.echo(r.beat_s, 0.3, taps=4)


def _calm(r: Recipe, mix: _Mix, rng: np.random.Generator) -> None:
    _chords(r, mix, PAD, 0.6, 1.5, 5.0, bars_long=2)
    _melody(r, mix, rng, (1.0, 0.0, 0.2, 0.0, 0.05), 0.2, 1.0, 0.45, 12, 0, 1.2)
    _bass(r, mix, (0.0,), 0.3, 4.0)
    mix.echo(1.5 * r.beat_s, 0.35, taps=4)


def _acoustic(r: Recipe, mix: _Mix, rng: np.random.Generator) -> None:
    strum = (0.0, 1.0, 1.5, 2.5, 3.0, 3.5)
    for bar in range(r.bars):
        root, ivs = r.chord_at(bar)
        notes = [root + 12 + iv for iv in ivs] + [root + 24 + ivs[0], root + 24 + ivs[-1]]
        for b in strum:
            down = b == int(b)
            order = notes if down else notes[::-1]
            for i, pitch in enumerate(order):
                mix.add(
                    _tone(pitch, 1.0, PLUCK, 0.002, 0.5, 4.0),
                    (bar * 4 + b) * r.beat_s + 0.012 * i,
                    (0.12 if down else 0.07),
                    0.3 - 0.1 * i,
                )
    _bass(r, mix, (0.0, 2.0), 0.35, 1.8)
    shaker = _hat(rng, decay=40, seconds=0.12)
    for beat in range(r.bars * 8):
        mix.add(shaker, beat * 0.5 * r.beat_s, 0.12 if beat % 2 else 0.07, 0.4)
    _drums(r, mix, rng, (0.0, 2.0), (), (), gain=0.6)
    mix.echo(0.5 * r.beat_s, 0.15)


def _electronic(r: Recipe, mix: _Mix, rng: np.random.Generator) -> None:
    pads = _Mix(mix.buf.shape[1])
    _chords(r, pads, STRINGS, 0.5, 0.05, 3.0)
    beat_phase = (np.arange(pads.buf.shape[1], dtype=np.float32) / SAMPLE_RATE) % np.float32(r.beat_s)
    pads.buf *= 1 - 0.7 * np.exp(-beat_phase * 9)  # side-chain pump under the kick
    mix.buf += pads.buf
    for bar in range(r.bars):  # sixteenth-note arpeggio
        root, ivs = r.chord_at(bar)
        for s in range(16):
            pitch = root + 24 + ivs[s % len(ivs)] + (12 if s % 8 >= 4 else 0)
            mix.add(
                _tone(pitch, 0.2, PLUCK, 0.002, 0.07, 2.5),
                (bar * 4 + s * 0.25) * r.beat_s,
                0.09,
                0.5 if s % 2 else -0.5,
            )
    _bass(r, mix, (0.5, 1.5, 2.5, 3.5), 0.5, 0.4)
    _drums(r, mix, rng, (0.0, 1.0, 2.0, 3.0), (1.0, 3.0), tuple(i * 0.25 for i in range(16)), gain=1.0)
    mix.echo(0.75 * r.beat_s, 0.2)


_ARRANGEMENTS: dict[str, Part] = {
    "lofi": _lofi,
    "upbeat": _upbeat,
    "cinematic": _cinematic,
    "calm": _calm,
    "acoustic": _acoustic,
    "electronic": _electronic,
}


def synthesise(name: str) -> np.ndarray:
    """The track as float samples, shape (2, n), within -1..1. Unknown name -> KeyError."""
    recipe = RECIPES_BY_NAME[name]
    mix = _Mix(recipe.n_samples)
    _ARRANGEMENTS[name](recipe, mix, np.random.default_rng(recipe.seed))
    return mix.master()


def _write_wav(path: Path, samples: np.ndarray) -> None:
    pcm = np.round(np.clip(samples, -1, 1) * 32767).astype("<i2").T.copy()
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as raw, wave.open(raw, "wb") as out:
            out.setnchannels(2)
            out.setsampwidth(2)
            out.setframerate(SAMPLE_RATE)
            out.writeframes(pcm.tobytes())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)  # atomic: readers see the whole file or none
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ensure_track(name: str, cache_dir: Path) -> Path:
    """`<cache_dir>/builtin-<name>-v1.wav`, synthesised on first use. Unknown name -> KeyError."""
    if name not in RECIPES_BY_NAME:
        raise KeyError(f"unknown built-in track {name!r}; known: {', '.join(CATALOGUE)}")
    path = Path(cache_dir) / f"builtin-{name}-{VERSION}.wav"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_wav(path, synthesise(name))
    return path
