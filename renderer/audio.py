"""The soundtrack: decode, resample to 48 kHz stereo, trim or loop, fade, mix, soft-limit.

Each item is decoded only as far as it is heard (a 3-minute song under a 30 s video decodes 30 s).
Loops crossfade at the seam and every item starts and ends with a 5 ms ramp, so nothing clicks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import av
import numpy as np

from renderer.decode_video import open_media
from renderer.encode import SAMPLE_RATE
from renderer.errors import RenderError
from renderer.timeline import AudioItem

DECLICK_SECONDS = 0.005
LOOP_SEAM_SECONDS = 0.05
LIMIT_THRESHOLD = 0.89  # about -1 dBFS: above it, peaks are bent smoothly towards 1.0


def has_audio(path: Path) -> bool:
    try:
        container = open_media(path)
    except RenderError:
        return False
    with container:
        return bool(container.streams.audio)


def decode_audio(path: Path, ss_seconds: float, max_samples: int) -> np.ndarray:
    """(2, n) float32 at 48 kHz, from `ss_seconds`, at most `max_samples` long."""
    chunks: list[np.ndarray] = []
    have = 0
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=SAMPLE_RATE)
    container = open_media(path)
    with container:
        if not container.streams.audio:
            return np.zeros((2, 0), np.float32)
        stream = container.streams.audio[0]
        if ss_seconds > 0 and stream.time_base is not None:
            container.seek(int(ss_seconds / stream.time_base), stream=stream, backward=True)
        skip: int | None = None
        try:
            for frame in container.decode(stream):
                if skip is None:
                    start = float(frame.time) if frame.time is not None else ss_seconds
                    skip = max(0, round((ss_seconds - start) * SAMPLE_RATE))
                for out in resampler.resample(frame):
                    have += _take(out.to_ndarray(), chunks)
                if have - skip >= max_samples:
                    break
            for out in resampler.resample(None):
                have += _take(out.to_ndarray(), chunks)
        except av.FFmpegError as exc:
            raise RenderError("bad_media", f"{path.name}: cannot decode audio ({exc})") from exc
    if not chunks:
        return np.zeros((2, 0), np.float32)
    samples = np.concatenate(chunks, axis=1)[:, skip or 0 :]
    return samples[:, :max_samples]


def _take(array: np.ndarray, chunks: list[np.ndarray]) -> int:
    chunks.append(array.astype(np.float32, copy=False).reshape(2, -1))
    return int(chunks[-1].shape[1])


def looped(source: np.ndarray, length: int) -> np.ndarray:
    """Repeat `source` to `length` samples, crossfading each seam over LOOP_SEAM_SECONDS."""
    size = source.shape[1]
    if size >= length or size == 0:
        return source[:, :length]
    seam = min(round(LOOP_SEAM_SECONDS * SAMPLE_RATE), size // 4)
    out = np.zeros((2, length + size), np.float32)
    ramp = np.linspace(0.0, 1.0, seam, dtype=np.float32) if seam else np.zeros(0, np.float32)
    piece = source.copy()
    if seam:
        piece[:, size - seam :] *= ramp[::-1]
    first = True
    pos = 0
    while pos < length:
        current = piece
        if not first and seam:
            current = piece.copy()
            current[:, :seam] *= ramp
        out[:, pos : pos + size] += current
        pos += size - seam
        first = False
    return out[:, :length]


def envelope(length: int, fade_in: int, fade_out: int) -> np.ndarray:
    gain = np.ones(length, np.float32)
    declick = round(DECLICK_SECONDS * SAMPLE_RATE)
    head = min(length, max(fade_in, declick))
    tail = min(length, max(fade_out, declick))
    if head:
        gain[:head] *= np.linspace(0.0, 1.0, head, dtype=np.float32)
    if tail:
        gain[length - tail :] *= np.linspace(1.0, 0.0, tail, dtype=np.float32)
    return gain


def soft_limit(mix: np.ndarray) -> np.ndarray:
    magnitude = np.abs(mix)
    over = magnitude > LIMIT_THRESHOLD
    if over.any():
        room = 1.0 - LIMIT_THRESHOLD
        bent = LIMIT_THRESHOLD + room * np.tanh((magnitude[over] - LIMIT_THRESHOLD) / room)
        mix[over] = np.sign(mix[over]) * bent
    return mix


def mix(
    items: Iterable[AudioItem],
    duration_seconds: float,
    on_item: Callable[[], None] | None = None,
) -> np.ndarray:
    """The whole soundtrack as (2, n) float32; silence where nothing plays."""
    total = round(duration_seconds * SAMPLE_RATE)
    out = np.zeros((2, total), np.float32)
    for item in items:
        start = round(item.start_seconds * SAMPLE_RATE)
        length = min(round(item.duration_seconds * SAMPLE_RATE), total - start)
        if length > 0 and item.vol > 0:
            source = decode_audio(item.path, item.ss_seconds, length)
            sound = looped(source, length) if item.loop else source
            n = sound.shape[1]
            if n:
                gain = envelope(
                    n,
                    round(item.fade_in_seconds * SAMPLE_RATE),
                    round(item.fade_out_seconds * SAMPLE_RATE) if n == length else 0,
                )
                if n < length:  # the source ran out: end it with a short ramp, not a click
                    gain *= envelope(n, 0, round(DECLICK_SECONDS * SAMPLE_RATE))
                out[:, start : start + n] += sound * (gain * item.vol)
        if on_item is not None:
            on_item()
    return soft_limit(out)
