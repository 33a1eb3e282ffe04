"""Pictures as the encoder's own yuv420p planes (BT.709, limited range), and RGB -> planes.

Photos are converted once at decode time; every per-frame operation (warp, blend, transition)
then runs on these planes, so no frame ever needs an RGB -> YUV conversion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

# BT.709 limited range: Y in 16..235, Cb/Cr in 16..240 (the container is tagged to match).
_KR, _KB = 0.2126, 0.0722
_KG = 1 - _KR - _KB
_RGB_TO_YUV = np.array(
    [
        [219 / 255 * _KR, 219 / 255 * _KG, 219 / 255 * _KB, 16.0],
        [
            -224 / 255 * _KR / (2 * (1 - _KB)),
            -224 / 255 * _KG / (2 * (1 - _KB)),
            224 / 255 * 0.5,
            128.0,
        ],
        [
            224 / 255 * 0.5,
            -224 / 255 * _KG / (2 * (1 - _KR)),
            -224 / 255 * _KB / (2 * (1 - _KR)),
            128.0,
        ],
    ],
    dtype=np.float32,
)


# numpy arrays on the CPU; torch tensors where the torch backend (ops/torch_ops.py) holds a frame
Array = Any


@dataclass
class Planes:
    """One yuv420p picture: y is (h, w), u and v are (h/2, w/2); h and w are even."""

    y: Array
    u: Array
    v: Array

    @property
    def width(self) -> int:
        return int(self.y.shape[1])

    @property
    def height(self) -> int:
        return int(self.y.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self.y.nbytes + self.u.nbytes + self.v.nbytes)

    def copy(self) -> Planes:
        return Planes(self.y.copy(), self.u.copy(), self.v.copy())

    def all(self) -> tuple[Array, Array, Array]:
        return self.y, self.u, self.v


def rgb_to_yuv(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    values = _RGB_TO_YUV[:, :3] @ np.array(rgb, dtype=np.float32) + _RGB_TO_YUV[:, 3]
    y, u, v = (int(np.clip(round(float(c)), 0, 255)) for c in values)
    return y, u, v


_BGR_TO_YUV = np.ascontiguousarray(_RGB_TO_YUV[:, [2, 1, 0, 3]])


def rgb_to_planes(rgb: np.ndarray, order: str = "rgb") -> Planes:
    """(h, w, 3) uint8 RGB (or BGR, as OpenCV decodes) with even h and w -> Planes. SIMD via
    cv2.transform, then 2x2 average."""
    height, width = rgb.shape[:2]
    yuv = cv2.transform(np.ascontiguousarray(rgb), _BGR_TO_YUV if order == "bgr" else _RGB_TO_YUV)
    y = np.ascontiguousarray(yuv[:, :, 0])
    half = (width // 2, height // 2)
    u = cv2.resize(yuv[:, :, 1], half, interpolation=cv2.INTER_AREA)
    v = cv2.resize(yuv[:, :, 2], half, interpolation=cv2.INTER_AREA)
    return Planes(y, u, v)


# yuv -> rgb: the exact inverse of the matrix above, so a picture read back from planes (a still of
# the draft, a thumbnail) has the renderer's own colours.
_YUV_TO_BGR = np.ascontiguousarray(
    np.linalg.inv(np.vstack([_RGB_TO_YUV, [0.0, 0.0, 0.0, 1.0]]))[:3][[2, 1, 0]]
).astype(np.float32)


def planes_to_bgr(planes: Planes) -> np.ndarray:
    """Planes (numpy) -> (h, w, 3) uint8 BGR, as OpenCV encodes it; chroma upsampled bilinearly."""
    size = (planes.width, planes.height)
    u = cv2.resize(planes.u, size, interpolation=cv2.INTER_LINEAR)
    v = cv2.resize(planes.v, size, interpolation=cv2.INTER_LINEAR)
    yuv = cv2.merge([planes.y, u, v]).astype(np.float32)
    return np.clip(cv2.transform(yuv, _YUV_TO_BGR) + 0.5, 0, 255).astype(np.uint8)  # type: ignore[no-any-return]


def solid_planes(width: int, height: int, rgb: tuple[int, int, int]) -> Planes:
    y, u, v = rgb_to_yuv(rgb)
    return Planes(
        np.full((height, width), y, np.uint8),
        np.full((height // 2, width // 2), u, np.uint8),
        np.full((height // 2, width // 2), v, np.uint8),
    )


class FrameBuffer:
    """The output frame in one contiguous yuv420p buffer, as av.VideoFrame.from_ndarray wants it."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.data = np.empty(width * height * 3 // 2, np.uint8)
        luma, chroma = width * height, width * height // 4
        self.planes = Planes(
            self.data[:luma].reshape(height, width),
            self.data[luma : luma + chroma].reshape(height // 2, width // 2),
            self.data[luma + chroma :].reshape(height // 2, width // 2),
        )

    def array(self) -> np.ndarray:
        return self.data.reshape(self.height * 3 // 2, self.width)
