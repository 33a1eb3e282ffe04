"""The CPU backend of ops.PlaneOps: numpy and OpenCV, drawing straight into the encoder's buffer.

Warps: axis-aligned matrices (every Ken Burns zoom and pan) go through the separable `resize`
(resample.py, about 3x cheaper than `warpAffine`, same pixels within a level); anything else
through SIMD `warpAffine`. Measured on the benchmark's 1080x1920 luma plane, one core:
warpAffine 5.1 ms, the resize path 1.6 ms, torch grid_sample on the CPU about 60 ms, so this is
the CPU default and torch (ops_torch.py) is for CUDA.
"""

from __future__ import annotations

import cv2
import numpy as np

from renderer.ops import StaticCache, Warp
from renderer.planes import FrameBuffer, Planes
from renderer.resample import resize_warp


def cv2_warp(plane: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    fast = resize_warp(plane, matrix, size)
    if fast is not None:
        return fast
    return cv2.warpAffine(
        plane,
        matrix,
        size,
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )


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
        return self._warp(plane, matrix, size)

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
