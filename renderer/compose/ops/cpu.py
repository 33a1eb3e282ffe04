"""The CPU backend of ops.PlaneOps: numpy and OpenCV, drawing straight into the encoder's buffer.

Warps: two correct ways, and which one is faster depends on the OpenCV build and the CPU, so
each process measures both once and keeps the faster (`fastest_warp`). Axis-aligned matrices
(every Ken Burns zoom and pan) can go through the separable `resize` (resample.py, exact to
1/512 px); anything, axis-aligned or not, through SIMD `warpAffine` (1/32 px coordinate grid).
Per frame of the benchmark (1080x1920 Y + U + V, one core): OpenCV 5.0 resize 5.7 ms,
warpAffine 11.4 ms; OpenCV 5.1, whose warpAffine was rewritten, resize 5.5 ms, warpAffine 2.6 ms.
Both keep slow motion smooth at the pixel level: a patch tracked through 3 s zooms and pans at
1080x1920 moves with a second difference of 0.008-0.016 px per frame squared on either path
(tests/renderer/compose/test_motion_pixels.py; the plan's own path: 0.005-0.014). torch's
grid_sample on the CPU is about 60 ms per luma plane, so torch (ops/torch_ops.py) is for CUDA.
"""

from __future__ import annotations

import functools
import logging
import time

import cv2
import numpy as np

from renderer.compose.ops.protocol import StaticCache, Warp
from renderer.compose.ops.resample import resize_warp
from renderer.planes import FrameBuffer, Planes

log = logging.getLogger("nemo.renderer")

# warpAffine must win by this much to replace the resize path: in a near tie keep the finer
# one, and do not let timing noise flip the choice (and the output's last bit) run to run.
AFFINE_MUST_WIN_BY = 0.8
# A Ken Burns zoom's scale with sub-pixel offsets that the resize path takes (resample.py finds a
# region for it; a test checks), so the measurement times that path and not its fallback.
PROBE_MATRIX = np.array([[1 / 1.0537, 0.0, 20.11], [0.0, 1 / 1.0537, 31.11]])


def affine_warp(plane: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.warpAffine(
        plane,
        matrix,
        size,
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )


def resize_first_warp(plane: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The resize path where the matrix allows it, else warpAffine."""
    fast = resize_warp(plane, matrix, size)
    return fast if fast is not None else affine_warp(plane, matrix, size)


@functools.cache
def fastest_warp() -> Warp:
    """Of resize_first_warp and affine_warp, the faster here, measured once per process (~15 ms)
    on a zoom like the benchmark's at a quarter of its size; logged."""
    rng = np.random.default_rng(7)
    plane = cv2.GaussianBlur(rng.integers(0, 256, (1056, 600), dtype=np.uint8), (0, 0), 1.5)
    best = {resize_first_warp: float("inf"), affine_warp: float("inf")}
    for _ in range(5):  # interleaved, best of five: fair when something else is running
        for warp in best:
            started = time.perf_counter()
            warp(plane, PROBE_MATRIX, (540, 960))
            best[warp] = min(best[warp], time.perf_counter() - started)
    chosen: Warp = resize_first_warp
    if best[affine_warp] < AFFINE_MUST_WIN_BY * best[resize_first_warp]:
        chosen = affine_warp
    log.info(
        "CPU warp: %s (540x960 plane: resize path %.2f ms, warpAffine %.2f ms; OpenCV %s)",
        "warpAffine" if chosen is affine_warp else "resize path",
        best[resize_first_warp] * 1000,
        best[affine_warp] * 1000,
        cv2.__version__,
    )
    return chosen


def cv2_warp(plane: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    warped: np.ndarray = fastest_warp()(plane, matrix, size)
    return warped


class CpuOps:
    name = "cpu"

    def __init__(self, resample: Warp = cv2_warp) -> None:
        self._warp = StaticCache(resample)

    def frame(self, buffer: FrameBuffer) -> Planes:
        return buffer.planes

    def deliver(self, canvas: Planes, buffer: FrameBuffer) -> None:
        if canvas.y is not buffer.planes.y:
            for target, plane in zip(buffer.planes.all(), canvas.all(), strict=True):
                np.copyto(target, plane)

    def next_frame(self) -> None:
        self._warp.next_frame()

    def resident(self, planes: Planes) -> Planes:
        return planes

    def copy(self, plane: np.ndarray) -> np.ndarray:
        return plane.copy()

    def assign(self, target: np.ndarray, source: np.ndarray) -> None:
        if target is not source:
            np.copyto(target, source)

    def warp(self, plane: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        warped: np.ndarray = self._warp(plane, matrix, size)
        return warped

    def blend(self, target: np.ndarray, layer: np.ndarray, opacity: float) -> None:
        if opacity >= 0.999:
            target[...] = layer
        elif opacity > 0.001:
            cv2.addWeighted(layer, opacity, target, 1.0 - opacity, 0.0, dst=target)

    def blend_alpha(
        self,
        target: np.ndarray,
        layer: np.ndarray,
        alpha: np.ndarray,
        window: tuple[slice, slice],
        opacity: float,
    ) -> None:
        a: np.ndarray = alpha[window].astype(np.uint16)
        if opacity < 0.999:
            a = (a * round(opacity * 256)) >> 8
        mixed = (target.astype(np.uint16) * (255 - a) + layer[window].astype(np.uint16) * a + 127) // 255
        target[...] = mixed.astype(np.uint8)

    def mix(self, a: np.ndarray, b: np.ndarray, p: float) -> np.ndarray:
        return cv2.addWeighted(a, 1.0 - p, b, p, 0.0)

    def select(
        self, pattern: np.ndarray, p: float, b: np.ndarray, a: np.ndarray, *, inclusive: bool = False
    ) -> np.ndarray:
        return np.where(pattern <= p if inclusive else pattern < p, b, a)

    def solid_like(self, a: np.ndarray, value: int) -> np.ndarray:
        return np.full_like(a, value)

    def zoom(self, a: np.ndarray, scale: float) -> np.ndarray:
        h, w = a.shape
        matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), 0.0, scale)
        return cv2.warpAffine(a, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def blur(self, a: np.ndarray, radius: int) -> np.ndarray:
        # a box blur on a quarter size copy: cheap and, at these radii, indistinguishable from
        # a Gaussian
        # (cropped to whole 4x4 cells, at most 3 px, so every cell is a plain average: the torch
        # backend's avg_pool gives the same)
        h, w = a.shape
        sw, sh = max(1, w // 4), max(1, h // 4)
        small = cv2.resize(a[: sh * 4, : sw * 4], (sw, sh), interpolation=cv2.INTER_AREA)
        k = max(1, radius // 4) * 2 + 1
        small = cv2.blur(small, (k, k))
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
