"""The soundtrack, streamed: decode, resample to 48 kHz stereo, trim or loop, fade, duck, mix,
normalise so that the draft at `vol` 1.0 lands at -14 LUFS, limit true peaks to -1 dBTP.

Every `vol` shows in the export. The normalising gain is measured on the *reference mix*, the same
draft with every item's `vol` at 1.0 (same fades, same ducking, same silences), and that one gain
is applied to the mix as drafted. So a draft at vol 1.0 lands at the target, and a song at vol 0.35
comes out 20*log10(0.35) = -9.1 dB under it even when it is the only sound; normalising the mix as
drafted instead would undo the user's vol (0.35 and 0.08 both came out at -14 LUFS). Both mixes
come from the same decoded samples in the same pass: the reference costs a second sum, no decode.

Memory is bounded by design, whatever the length: the mix is made in BLOCK-sample blocks (2 s)
and in two passes over the decoded sources. Pass 1 mixes every block and feeds it to a
LoudnessMeter, which keeps one float per 100 ms; pass 2 mixes the same blocks again (decoding is
deterministic, so they are identical), applies the normalising gain and the true-peak limiter, and
hands them to the muxer as it asks. Each source is decoded only as far as it is heard and is open
only while it plays; a looped source shorter than LOOP_CACHE_SECONDS is kept decoded, a longer one
is decoded again on each lap. Ten minutes of mix (230 MB as one float32 array) runs in a few MB.

Click-free by construction: every item starts and ends with a DECLICK ramp (and a source that runs
out early ends with one), each loop lap crossfades LOOP_SEAM seconds of its tail into the next
lap's head, fades are equal-power so a clip crossfading with the picture (its `m.tr.d`, set up by
plan.py) keeps a constant level. Music is ducked while a clip's own sound is audible.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path
from typing import IO

import av
import numpy as np

from renderer.audio.loudness import MAX_GAIN_DB, TARGET_LUFS, LoudnessMeter, PeakLimiter, normalising_gain
from renderer.encode.muxer import SAMPLE_RATE
from renderer.errors import RenderError
from renderer.media.decode_video import open_media
from renderer.plan import AudioItem, RenderPlan

BLOCK = 2 * SAMPLE_RATE
DECLICK_SECONDS = 0.006
LOOP_SEAM_SECONDS = 0.05
LOOP_CACHE_SECONDS = 30.0
DUCK_DB = -10.0
DUCK_ATTACK_SECONDS = 0.2
DUCK_RELEASE_SECONDS = 0.5
DUCK_HOLD_SECONDS = 0.3  # pauses between words do not let the music swell back
DUCK_THRESHOLD = 10 ** (-45 / 20)  # RMS over a hop above which a clip counts as audible
HOP = SAMPLE_RATE // 100  # ducking is decided every 10 ms
TRUE_PEAK_MARGIN = 1.5  # true peaks can pass sample peaks by a few dB
LIMITED_TRIALS = 3
# How far before a trim point audio is sought: a few codec frames (AAC: 21 ms each at 48 kHz).
SEEK_PREROLL_SECONDS = 0.2


def has_audio(path: Path) -> bool:
    try:
        container = open_media(path)
    except RenderError:
        return False
    with container:
        return bool(container.streams.audio)


def _decoded(path: Path, ss_seconds: float) -> Iterator[np.ndarray]:
    """(2, n) float32 chunks at 48 kHz, from exactly `ss_seconds` to the end of the file."""
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=SAMPLE_RATE)
    container = open_media(path)
    with container:
        if not container.streams.audio:
            return
        stream = container.streams.audio[0]
        if ss_seconds > 0 and stream.time_base:  # PyAV 19: 0/1 when unknown, not None
            # Land before ss and skip up to it by the frames' times: with PyAV 19's FFmpeg the first
            # AAC frame after a seek is dropped (decoder pre-roll), so seeking to ss itself starts
            # up to a frame (21 ms) late and the sound runs ahead of the picture.
            target = max(0.0, ss_seconds - SEEK_PREROLL_SECONDS)
            container.seek(int(target / stream.time_base), stream=stream, backward=True)
        skip: int | None = None
        try:
            for frame in container.decode(stream):
                if skip is None:
                    start = float(frame.time) if frame.time is not None else ss_seconds
                    skip = max(0, round((ss_seconds - start) * SAMPLE_RATE))
                for out in resampler.resample(frame):
                    chunk, skip = _skipped(out.to_ndarray(), skip)
                    if chunk.shape[1]:
                        yield chunk
            for out in resampler.resample(None):
                chunk, skip = _skipped(out.to_ndarray(), skip or 0)
                if chunk.shape[1]:
                    yield chunk
        except av.FFmpegError as exc:
            raise RenderError("bad_media", f"{path.name}: cannot decode audio ({exc})") from exc


def _skipped(array: np.ndarray, skip: int) -> tuple[np.ndarray, int]:
    samples = array.astype(np.float32, copy=False).reshape(2, -1)
    drop = min(skip, samples.shape[1])
    return samples[:, drop:], skip - drop


def decode_audio(path: Path, ss_seconds: float, max_samples: int) -> np.ndarray:
    """(2, n) float32 at 48 kHz, from `ss_seconds`, at most `max_samples` long."""
    source = _SourceReader(path, ss_seconds, loop=False)
    out = source.read(max_samples)
    source.close()
    return out


def _ramp(n: int) -> np.ndarray:
    """Equal-power fade-in gains for n samples: sin^2 + cos^2 = 1 across a crossfade."""
    return np.sin(0.5 * np.pi * (np.arange(n, dtype=np.float32) + 0.5) / max(n, 1)).astype(np.float32)


class _SourceReader:
    """A source's samples in order, looped with a crossfaded seam, or ending with a declick ramp.

    Keeps `hold` samples back so that it knows the end of the file before handing out its last
    samples (the seam and the end ramp need them)."""

    def __init__(self, path: Path, ss_seconds: float, loop: bool) -> None:
        self.path, self.ss, self.loop = path, ss_seconds, loop
        self.seam = round(LOOP_SEAM_SECONDS * SAMPLE_RATE)
        self.declick = round(DECLICK_SECONDS * SAMPLE_RATE)
        self.hold = max(self.seam, self.declick)
        self._chunks = _decoded(path, ss_seconds)
        self._parts: list[np.ndarray] = []
        self._have = 0
        self._ended = False
        self._lap_size = 0  # samples decoded in the current lap
        self._cache: list[np.ndarray] | None = [] if loop else None
        self._cached_lap: np.ndarray | None = None

    def read(self, n: int) -> np.ndarray:
        """Up to n samples; fewer only when a non-looped source has ended."""
        while self._have < n + self.hold and not self._ended:
            self._fill()
        buffer = self._joined()
        out = buffer[:, :n]
        rest = buffer[:, out.shape[1] :]
        self._parts, self._have = [rest], rest.shape[1]
        return out

    def _joined(self) -> np.ndarray:
        if len(self._parts) != 1:
            joined = np.concatenate(self._parts, axis=1) if self._parts else np.zeros((2, 0), np.float32)
            self._parts = [joined]
        return self._parts[0]

    def _append(self, chunk: np.ndarray) -> None:
        self._parts.append(chunk)
        self._have += chunk.shape[1]

    def _fill(self) -> None:
        chunk = next(self._chunks, None)
        if chunk is not None:
            self._lap_size += chunk.shape[1]
            if self._cache is not None:
                self._cache.append(chunk)
                if self._lap_size > LOOP_CACHE_SECONDS * SAMPLE_RATE:
                    self._cache = None  # too long to keep: decode again on each lap
            self._append(chunk)
            return
        if self._cached_lap is None and self._cache is not None:
            self._cached_lap = (
                np.concatenate(self._cache, axis=1) if self._cache else np.zeros((2, 0), np.float32)
            )
            self._cache = None
        if not self.loop or self._lap_size == 0:
            self._ended = True
            buffer = self._joined()
            tail = min(self.declick, buffer.shape[1])
            if tail:
                buffer = buffer.copy()
                buffer[:, buffer.shape[1] - tail :] *= _ramp(tail)[::-1]
                self._parts = [buffer]
            return
        self._next_lap()

    def _next_lap(self) -> None:
        """Crossfade the end of this lap (still in the buffer) with the head of the next."""
        buffer = self._joined().copy()
        seam = min(self.seam, self._lap_size // 4, buffer.shape[1])
        self._lap_size = 0
        self._chunks = (
            iter([self._cached_lap]) if self._cached_lap is not None else _decoded(self.path, self.ss)
        )
        head_parts: list[np.ndarray] = []
        got = 0
        while got < seam:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._lap_size += chunk.shape[1]
            head_parts.append(chunk)
            got += chunk.shape[1]
        head = np.concatenate(head_parts, axis=1) if head_parts else np.zeros((2, 0), np.float32)
        seam = min(seam, head.shape[1])
        if seam:
            fade = _ramp(seam)
            cut = buffer.shape[1] - seam
            buffer[:, cut:] = buffer[:, cut:] * fade[::-1] + head[:, :seam] * fade
        self._parts, self._have = [buffer], buffer.shape[1]
        self._append(head[:, seam:])

    def close(self) -> None:
        self._chunks = iter(())


class _ItemReader:
    """One AudioItem placed on the output timeline: its samples for any block, in order."""

    def __init__(self, item: AudioItem, total: int) -> None:
        self.item = item
        self.start = round(item.start_seconds * SAMPLE_RATE)
        self.length = max(0, min(round(item.duration_seconds * SAMPLE_RATE), total - self.start))
        declick = round(DECLICK_SECONDS * SAMPLE_RATE)
        self.fade_in = min(self.length, max(declick, round(item.fade_in_seconds * SAMPLE_RATE)))
        self.fade_out = min(self.length, max(declick, round(item.fade_out_seconds * SAMPLE_RATE)))
        self._source: _SourceReader | None = None
        # a muted item is still read: it is part of the reference mix (module docstring)
        self._done = self.length == 0

    def add_into(self, out: np.ndarray, reference: np.ndarray, block_start: int) -> None:
        """Adds the item at its `vol` into `out` and at vol 1.0 into `reference`."""
        a = max(block_start, self.start)
        b = min(block_start + out.shape[1], self.start + self.length)
        if self._done or a >= b:
            return
        if self._source is None:
            self._source = _SourceReader(self.item.path, self.item.ss_seconds, self.item.loop)
        sound = self._source.read(b - a)
        n = sound.shape[1]
        if n:
            faded = sound * self._envelope(a - self.start, n)
            reference[:, a - block_start : a - block_start + n] += faded
            if self.item.vol > 0:
                out[:, a - block_start : a - block_start + n] += faded * np.float32(self.item.vol)
        if n < b - a or b == self.start + self.length:
            self.close()

    def _envelope(self, offset: int, n: int) -> np.ndarray:
        pos = np.arange(offset, offset + n)
        gain = np.ones(n, np.float32)
        head = pos < self.fade_in
        if head.any():
            gain[head] *= np.sin(0.5 * np.pi * (pos[head] + 0.5) / self.fade_in)
        tail = pos >= self.length - self.fade_out
        if tail.any():
            gain[tail] *= np.sin(0.5 * np.pi * (self.length - pos[tail] - 0.5) / self.fade_out)
        return gain

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
        self._source = None
        self._done = True


class _Ducker:
    """Music gain from the clips' sound: DUCK_DB while audible (held DUCK_HOLD), linear-in-dB
    ramps of DUCK_ATTACK down and DUCK_RELEASE up, decided per HOP and interpolated per sample."""

    def __init__(self) -> None:
        self.db = 0.0
        self.hold = 0
        self.down = -DUCK_DB / (DUCK_ATTACK_SECONDS * SAMPLE_RATE / HOP)
        self.up = -DUCK_DB / (DUCK_RELEASE_SECONDS * SAMPLE_RATE / HOP)
        self.hold_hops = round(DUCK_HOLD_SECONDS * SAMPLE_RATE / HOP)

    def gains(self, voice: np.ndarray) -> np.ndarray:
        n = voice.shape[1]
        hops = -(-n // HOP)
        power = np.zeros(hops * HOP, np.float32)
        power[:n] = np.mean(voice * voice, axis=0)
        rms = np.sqrt(power.reshape(hops, HOP).mean(axis=1))
        edges = np.empty(hops + 1, np.float32)
        edges[0] = self.db
        for k, level in enumerate(rms.tolist()):
            self.hold = self.hold_hops if level > DUCK_THRESHOLD else max(0, self.hold - 1)
            if self.hold:
                self.db = max(DUCK_DB, self.db - self.down)
            else:
                self.db = min(0.0, self.db + self.up)
            edges[k + 1] = self.db
        per_sample = np.interp(np.arange(n) / HOP, np.arange(hops + 1), edges)
        return (10 ** (per_sample / 20)).astype(np.float32)


class Soundtrack:
    """The finished mix, produced block by block; `n_samples` long exactly.

    Reading: `blocks()` for the whole thing in order, or array-style forward slices
    `soundtrack[:, a:b]` plus `shape` (what encode.Muxer uses), which pull blocks as needed."""

    def __init__(
        self,
        items: Iterable[AudioItem],
        n_samples: int,
        voices: Collection[str] = (),
        on_item: Callable[[], None] | None = None,
        spool_dir: Path | None = None,
    ) -> None:
        self.items = list(items)
        self.spool_dir = spool_dir
        self.n_samples = max(0, n_samples)
        self.voices = frozenset(voices)  # seg_ids of clips whose own sound ducks the music
        self.on_item = on_item
        self.lufs_before: float | None = None  # the mix as drafted, before the gain
        self.lufs_reference: float | None = None  # the same draft with every vol at 1.0
        self.gain = 1.0
        self._reader: Iterator[np.ndarray] | None = None
        self._pending = np.zeros((2, 0), np.float32)
        self._pending_start = 0
        self._spool: IO[bytes] | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return (2, self.n_samples)

    def _raw_blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(mix as drafted, reference mix at vol 1.0) per block. Each mix has its own ducker:
        the clips' sound at its own vol decides how the music is ducked in that mix."""
        readers = [_ItemReader(item, self.n_samples) for item in self.items]
        duckers = (_Ducker(), _Ducker())
        duck = any(item.seg_id in self.voices for item in self.items) and any(
            item.seg_id not in self.voices for item in self.items
        )
        try:
            for block_start in range(0, self.n_samples, BLOCK):
                n = min(BLOCK, self.n_samples - block_start)
                voice, music, ref_voice, ref_music = (np.zeros((2, n), np.float32) for _ in range(4))
                for reader in readers:
                    if reader.item.seg_id in self.voices:
                        reader.add_into(voice, ref_voice, block_start)
                    else:
                        reader.add_into(music, ref_music, block_start)
                if duck:
                    music *= duckers[0].gains(voice)
                    ref_music *= duckers[1].gains(ref_voice)
                yield voice + music, ref_voice + ref_music
        finally:
            for reader in readers:
                reader.close()

    def measure(self) -> float:
        """Pass 1: mix every block, measure the loudness of the mix and of its reference (every
        vol at 1.0), spool the unnormalised mix to a temporary file (float32, deleted on close).
        Sets the gain that brings the reference to TARGET_LUFS; returns the mix's own LUFS.

        When the gain pushes peaks into the limiter, limiting lowers the loudness: up to
        LIMITED_TRIALS trial passes over the spool (no decoding) measure the limited mix and
        correct the gain towards the loudness the mix would have unlimited, but never past
        TARGET_LUFS: a vol above 1.0 is louder only as far as the peaks allow, it does not
        drive the limiter into distortion."""
        self.close()
        meter, reference = LoudnessMeter(), LoudnessMeter()
        # lives across both passes; close() (or the end of pass 2) deletes it
        self._spool = tempfile.TemporaryFile(dir=self.spool_dir)  # noqa: SIM115
        peak = 0.0
        for block, ref_block in self._raw_blocks():
            meter.feed(block)
            reference.feed(ref_block)
            peak = max(peak, float(np.abs(block).max(initial=0.0)))
            self._spool.write(np.ascontiguousarray(block, np.float32).tobytes())
        self.lufs_before = meter.integrated()
        self.lufs_reference = reference.integrated()
        self.gain = normalising_gain(self.lufs_reference)
        if not np.isfinite(self.lufs_before):
            return self.lufs_before  # silence (every vol 0, or nothing audible): nothing to limit
        wanted = min(TARGET_LUFS, self.lufs_before + 20 * float(np.log10(self.gain)))
        for _ in range(LIMITED_TRIALS):
            if peak * self.gain * TRUE_PEAK_MARGIN <= PeakLimiter().ceiling:
                break  # the limiter will not touch it: the loudness is what was measured
            trial = LoudnessMeter()
            for block in self._normalised():
                trial.feed(block)
            limited = trial.integrated()
            if not np.isfinite(limited) or limited > wanted - 0.25:
                break
            self.gain = min(
                self.gain * normalising_gain(limited, wanted), normalising_gain(TARGET_LUFS - MAX_GAIN_DB)
            )
        return self.lufs_before

    def _normalised(self) -> Iterator[np.ndarray]:
        """The spooled mix times the gain, through the limiter."""
        spool = self._spool
        assert spool is not None
        spool.seek(0)
        limiter = PeakLimiter()
        for block_start in range(0, self.n_samples, BLOCK):
            n = min(BLOCK, self.n_samples - block_start)
            block = np.frombuffer(spool.read(8 * n), np.float32).reshape(2, n)
            out = limiter.push(block * self.gain)
            if out.shape[1]:
                yield out
        tail = limiter.flush()
        if tail.shape[1]:
            yield tail

    def blocks(self) -> Iterator[np.ndarray]:
        """Pass 2 (running pass 1 first when it has not run): normalised, limited blocks."""
        if self._spool is None:
            self.measure()
        try:
            yield from self._normalised()
        finally:
            self.close()
        if self.on_item is not None:
            for _ in self.items:
                self.on_item()

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    def __getitem__(self, key: tuple[slice, slice]) -> np.ndarray:
        """Forward-only slices [:, a:b] with a never before the previous slice's start."""
        wanted = key[1]
        a = wanted.start or 0
        b = min(self.n_samples, self.n_samples if wanted.stop is None else wanted.stop)
        if a < self._pending_start:
            raise ValueError("the soundtrack is streamed: slices must move forward")
        if self._reader is None:
            self._reader = self.blocks()
        drop = min(a - self._pending_start, self._pending.shape[1])
        self._pending, self._pending_start = self._pending[:, drop:], self._pending_start + drop
        while self._pending_start + self._pending.shape[1] < b:
            block = next(self._reader, None)
            if block is None:
                break
            self._pending = np.concatenate([self._pending, block], axis=1)
        return np.ascontiguousarray(self._pending[:, a - self._pending_start : b - self._pending_start])


def samples_for(n_frames: int, fps: int) -> int:
    """The audio length that matches n_frames of video exactly (to the sample)."""
    return round(n_frames * SAMPLE_RATE / fps)


def soundtrack_for(plan: RenderPlan, items: Iterable[AudioItem]) -> Soundtrack:
    """The plan's soundtrack: as long as its video to the sample; clips' own sound ducks music."""
    voices = {visual.seg_id for visual in plan.visual_items()}
    return Soundtrack(items, samples_for(plan.n_frames, plan.fps), voices)


def mix(
    items: Iterable[AudioItem],
    duration_seconds: float,
    on_item: Callable[[], None] | None = None,
) -> np.ndarray:
    """The whole soundtrack as one (2, n) float32 array (for short mixes and tests; rendering
    streams through Soundtrack instead). No ducking: it does not know which items are clips."""
    track = Soundtrack(items, round(duration_seconds * SAMPLE_RATE), on_item=on_item)
    blocks = list(track.blocks())
    return np.concatenate(blocks, axis=1) if blocks else np.zeros((2, 0), np.float32)
