"""Loudness (ITU-R BS.1770-4 / EBU R128) and a true-peak limiter, streamed block by block, numpy only.

`LoudnessMeter` takes the mix in blocks of any size and keeps only 100 ms energies (6000 floats for
ten minutes), so measuring a long mix costs no memory. K-weighting is the standard's two biquads at
48 kHz, applied as their impulse response (4096 taps: the high-pass's double pole at 0.995 has
decayed below 1e-5 by then) with FFT overlap-save, which is exact to float precision and needs no
scipy. Gating: absolute at -70 LUFS, then relative at -10 LU, over 400 ms blocks every 100 ms.

`PeakLimiter` estimates the true peak by 4x oversampling (a Kaiser-windowed sinc, 16 taps a
phase), and lowers the gain where it would pass the ceiling. Its gain curve is a moving minimum of
the needed gain (hold) smoothed by a shorter moving average: every averaged value comes from
minima that all saw the sample itself, so the smoothed gain never lets a peak through, and it
ramps over HOLD/SMOOTH milliseconds instead of jumping (no clicks). It delays nothing: it keeps
a few milliseconds of context and emits exactly as many samples as it is given.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

SAMPLE_RATE = 48_000
TARGET_LUFS = -14.0
CEILING_DBTP = -1.5  # 0.5 dB under the -1 dBTP promise: AAC encoding overshoots peaks a little
MAX_GAIN_DB = 24.0  # a near-silent mix is not pumped up into its noise floor
K_TAPS = 4096
SUB_BLOCK = SAMPLE_RATE // 10  # 100 ms
OVERSAMPLE = 4
PHASE_TAPS = 16
HOLD = SAMPLE_RATE // 50  # 20 ms each side
SMOOTH = SAMPLE_RATE // 100  # 10 ms each side

# BS.1770-4 K-weighting at 48 kHz: the pre-filter (high shelf) then the RLB high-pass.
_SHELF_B = (1.53512485958697, -2.69169618940638, 1.19839281085285)
_SHELF_A = (1.0, -1.69065929318241, 0.73248077421585)
_RLB_B = (1.0, -2.0, 1.0)
_RLB_A = (1.0, -1.99004745483398, 0.99007225036621)


def _biquad_impulse(b: tuple[float, ...], a: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    y = np.zeros_like(x)
    x1 = x2 = y1 = y2 = 0.0
    for n, xn in enumerate(x.tolist()):
        yn = b[0] * xn + b[1] * x1 + b[2] * x2 - a[1] * y1 - a[2] * y2
        x2, x1, y2, y1 = x1, xn, y1, yn
        y[n] = yn
    return y


@lru_cache(maxsize=1)
def k_weighting_taps() -> np.ndarray:
    impulse = np.zeros(K_TAPS)
    impulse[0] = 1.0
    return _biquad_impulse(_RLB_B, _RLB_A, _biquad_impulse(_SHELF_B, _SHELF_A, impulse))


def _fast_size(n: int) -> int:
    """The smallest 2^a * 3^b * 5^c >= n: FFT sizes pocketfft handles fastest."""
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            size = p35 << max(0, (n - 1) // p35).bit_length()
            best = min(best, size if size >= n else best)
            p35 *= 3
        p5 *= 5
    return best


class _StreamFir:
    """Overlap-save FIR filtering of (channels, n) blocks in float32, history carried over."""

    def __init__(self, taps: np.ndarray, channels: int = 2) -> None:
        self.taps = taps
        self.history = np.zeros((channels, taps.size - 1), np.float32)
        self._spectra: dict[int, np.ndarray] = {}

    def __call__(self, block: np.ndarray) -> np.ndarray:
        n = block.shape[1]
        work = np.concatenate([self.history, block.astype(np.float32, copy=False)], axis=1)
        size = _fast_size(work.shape[1])
        spectrum = self._spectra.get(size)
        if spectrum is None:
            spectrum = self._spectra[size] = np.fft.rfft(self.taps, size).astype(np.complex64)
        out = np.fft.irfft(np.fft.rfft(work, size, axis=1) * spectrum, size, axis=1)
        self.history = work[:, work.shape[1] - self.history.shape[1] :]
        start = self.taps.size - 1
        return out[:, start : start + n]


class LoudnessMeter:
    """Integrated loudness of everything fed to it, in LUFS (BS.1770-4 gating)."""

    def __init__(self) -> None:
        self._filter = _StreamFir(k_weighting_taps())
        self._energies: list[float] = []  # per 100 ms: sum over channels of the sum of squares
        self._partial = 0.0
        self._partial_n = 0

    def feed(self, block: np.ndarray) -> None:
        weighted = self._filter(block).astype(np.float64)
        power = np.sum(weighted * weighted, axis=0)
        pos = 0
        if self._partial_n:
            take = min(SUB_BLOCK - self._partial_n, power.size)
            self._partial += float(power[:take].sum())
            self._partial_n += take
            pos = take
            if self._partial_n == SUB_BLOCK:
                self._energies.append(self._partial)
                self._partial, self._partial_n = 0.0, 0
        whole = (power.size - pos) // SUB_BLOCK
        if whole:
            chunk = power[pos : pos + whole * SUB_BLOCK].reshape(whole, SUB_BLOCK)
            self._energies.extend(chunk.sum(axis=1).tolist())
            pos += whole * SUB_BLOCK
        if pos < power.size:
            self._partial += float(power[pos:].sum())
            self._partial_n += power.size - pos

    def integrated(self) -> float:
        """-inf when every 400 ms block is below the absolute gate (silence)."""
        energies = np.asarray(self._energies)
        if energies.size < 4:
            return float("-inf")
        # 400 ms blocks, 75 % overlap: four consecutive 100 ms sub-blocks each
        blocks = np.convolve(energies, np.ones(4), mode="valid") / (4 * SUB_BLOCK)
        with np.errstate(divide="ignore"):
            loudness = -0.691 + 10 * np.log10(blocks)
        kept = blocks[loudness > -70.0]
        if kept.size == 0:
            return float("-inf")
        relative = -0.691 + 10 * np.log10(kept.mean()) - 10.0
        kept = kept[-0.691 + 10 * np.log10(kept) > relative]
        return float(-0.691 + 10 * np.log10(kept.mean()))


def normalising_gain(measured_lufs: float, target_lufs: float = TARGET_LUFS) -> float:
    """Linear gain that brings `measured_lufs` to the target (1.0 for silence; capped)."""
    if not np.isfinite(measured_lufs):
        return 1.0
    return float(10 ** (min(MAX_GAIN_DB, target_lufs - measured_lufs) / 20))


@lru_cache(maxsize=1)
def _polyphase() -> np.ndarray:
    """(OVERSAMPLE, PHASE_TAPS) filters: phase p estimates x at n + p/OVERSAMPLE from
    x[n + d], d = -PHASE_TAPS/2 + 1 .. PHASE_TAPS/2 (Kaiser-windowed sinc, unit DC gain)."""
    offsets = np.arange(-PHASE_TAPS // 2 + 1, PHASE_TAPS // 2 + 1)
    half = PHASE_TAPS / 2 + 1
    rows = []
    for p in range(OVERSAMPLE):
        t = p / OVERSAMPLE - offsets
        window = np.i0(8.0 * np.sqrt(np.clip(1 - (t / half) ** 2, 0, 1))) / np.i0(8.0)
        row = np.sinc(t) * window
        rows.append(row / row.sum())
    return np.asarray(rows, np.float32)


def true_peak_envelope(block: np.ndarray) -> np.ndarray:
    """Per sample, the largest |value| of any channel at the sample or between it and the next
    (4x oversampled). Edges within PHASE_TAPS/2 samples are less exact: callers keep context."""
    peak: np.ndarray = np.abs(block).max(axis=0).astype(np.float32)
    anchor = PHASE_TAPS // 2 - 1  # kernel index of offset d = 0
    for phase in _polyphase()[1:]:
        for channel in block:
            row = np.ascontiguousarray(channel, dtype=np.float32)[None, :]
            interp = cv2.filter2D(row, -1, phase[None, :], anchor=(anchor, 0), borderType=cv2.BORDER_REFLECT)
            np.maximum(peak, np.abs(interp[0]), out=peak)
    return peak


def true_peak(block: np.ndarray) -> float:
    return float(true_peak_envelope(block).max(initial=0.0))


def _moving_min(values: np.ndarray, half: int) -> np.ndarray:
    kernel = np.ones((1, 2 * half + 1), np.uint8)
    low: np.ndarray = cv2.erode(values[None, :].astype(np.float32), kernel, borderType=cv2.BORDER_REPLICATE)[
        0
    ]
    return low


def _moving_mean(values: np.ndarray, half: int) -> np.ndarray:
    mean: np.ndarray = cv2.blur(
        values[None, :].astype(np.float32), (2 * half + 1, 1), borderType=cv2.BORDER_REPLICATE
    )[0]
    return mean


class PeakLimiter:
    """Keeps the true peak of a streamed signal under `ceiling_dbtp`; output length == input length.

    It holds back CONTEXT samples (the gain at a sample depends on peaks up to HOLD + SMOOTH
    samples ahead), so `push` may return fewer samples than it got; `flush` returns the rest.
    """

    CONTEXT = HOLD + SMOOTH + PHASE_TAPS

    def __init__(self, ceiling_dbtp: float = CEILING_DBTP) -> None:
        self.ceiling = float(10 ** (ceiling_dbtp / 20))
        self._past = np.zeros((2, 0), np.float32)  # already emitted, kept as left context
        self._pending = np.zeros((2, 0), np.float32)

    def push(self, block: np.ndarray) -> np.ndarray:
        self._pending = np.concatenate([self._pending, block.astype(np.float32, copy=False)], axis=1)
        ready = self._pending.shape[1] - self.CONTEXT
        return self._emit(ready) if ready > 0 else np.zeros((2, 0), np.float32)

    def flush(self) -> np.ndarray:
        return self._emit(self._pending.shape[1])

    def _emit(self, count: int) -> np.ndarray:
        work = np.concatenate([self._past, self._pending], axis=1)
        left = self._past.shape[1]
        out = work[:, left : left + count].copy()
        if np.abs(work).max(initial=0.0) * 1.5 > self.ceiling:  # cheap test first: quiet passes
            need = np.minimum(1.0, self.ceiling / np.maximum(true_peak_envelope(work), 1e-9))
            if need.min() < 1.0:
                gain = _moving_mean(_moving_min(need, HOLD), SMOOTH)
                out *= np.minimum(gain[left : left + count], need[left : left + count])
        emitted = np.concatenate([self._past, self._pending[:, :count]], axis=1)
        self._past = emitted[:, max(0, emitted.shape[1] - self.CONTEXT) :]
        self._pending = self._pending[:, count:]
        return out
