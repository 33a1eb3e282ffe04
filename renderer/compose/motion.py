"""Ken Burns motion and fit geometry: which part of a photo each output pixel samples.

Everything is a float affine matrix (output pixel -> source pixel, pixel centres at integers), so
warps sample at sub-pixel precision and a slow zoom never snaps to whole pixels (no shake).
The view always stays inside the photo: zoom >= 1 over the fitted view, centre clamped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

ZOOM = 0.1  # zoom_in goes 1.0 -> 1.1, zoom_out the reverse; pans run at 1.1 to have room
PAN_TRAVEL = 0.10  # a pan moves the view by at most this fraction of its own size

Rect = tuple[float, float, float, float]  # x, y, w, h in output pixels


def ease_pan(u: float) -> float:
    """Pans travel further than zooms move any pixel, so they are nearly linear: a touch of
    smoothstep softens start and end while acceleration stays under 0.02 px/frame^2."""
    u = min(1.0, max(0.0, u))
    return 0.9 * u + 0.1 * u * u * (3 - 2 * u)


def ease(u: float) -> float:
    """Half linear, half smoothstep: starts and stops gently yet keeps acceleration small, so
    a marker's path stays smooth (second difference well under 0.02 px/frame^2 at 1080p, 3 s)."""
    u = min(1.0, max(0.0, u))
    return 0.5 * u + 0.5 * u * u * (3 - 2 * u)


@dataclass(frozen=True)
class Pose:
    """Zoom over the fitted view, and pan offsets in -1..1 across the allowed travel."""

    zoom: float = 1.0
    pan_x: float = 0.0
    pan_y: float = 0.0


MotionFn = Callable[[float], Pose]

MOTION_REGISTRY: dict[str, MotionFn] = {
    "none": lambda u: Pose(),
    "zoom_in": lambda u: Pose(zoom=1 + ZOOM * ease(u)),
    "zoom_out": lambda u: Pose(zoom=1 + ZOOM * (1 - ease(u))),
    # pan_left: the camera moves left, so the picture drifts right on screen.
    "pan_left": lambda u: Pose(zoom=1 + ZOOM, pan_x=1 - 2 * ease_pan(u)),
    "pan_right": lambda u: Pose(zoom=1 + ZOOM, pan_x=2 * ease_pan(u) - 1),
    "pan_up": lambda u: Pose(zoom=1 + ZOOM, pan_y=1 - 2 * ease_pan(u)),
    "pan_down": lambda u: Pose(zoom=1 + ZOOM, pan_y=2 * ease_pan(u) - 1),
}


def max_zoom(motion: str) -> float:
    fn = MOTION_REGISTRY[motion]
    return max(fn(u).zoom for u in (0.0, 0.25, 0.5, 0.75, 1.0))


FitFn = Callable[[int, int, Rect], tuple[Rect, Rect]]


def _cover(src_w: int, src_h: int, box: Rect) -> tuple[Rect, Rect]:
    """Fill the box with the largest box-shaped view of the photo."""
    scale = max(box[2] / src_w, box[3] / src_h)
    vw, vh = box[2] / scale, box[3] / scale
    return box, ((src_w - vw) / 2, (src_h - vh) / 2, vw, vh)


def _contain(src_w: int, src_h: int, box: Rect) -> tuple[Rect, Rect]:
    """The whole photo in the largest photo-shaped rect inside the box."""
    bx, by, bw, bh = box
    scale = min(bw / src_w, bh / src_h)
    dw, dh = src_w * scale, src_h * scale
    return (bx + (bw - dw) / 2, by + (bh - dh) / 2, dw, dh), (0.0, 0.0, float(src_w), float(src_h))


# blur: the photo placed as contain; layers.py adds the blurred cover backdrop behind it
FIT_REGISTRY: dict[str, FitFn] = {"cover": _cover, "contain": _contain, "blur": _contain}


def fitted(src_w: int, src_h: int, box: Rect, fit: str) -> tuple[Rect, Rect]:
    """(destination rect in output px, base source view rect in source px) for a fit mode."""
    return FIT_REGISTRY[fit](src_w, src_h, box)


def needed_scale(src_w: int, src_h: int, box: Rect, fit: str, motion: str) -> float:
    """Output pixels per source pixel at the segment's closest zoom: decode at this scale (or the
    full size when smaller) and no output pixel is ever upsampled from a reduced photo."""
    dest, view = fitted(src_w, src_h, box, fit)
    return dest[2] * max_zoom(motion) / view[2]


def view_matrix(
    src_w: int,
    src_h: int,
    box: Rect,
    fit: str,
    pose: Pose,
    focus: tuple[float, float],
) -> tuple[np.ndarray, Rect]:
    """The 2x3 matrix taking output pixel centres to source pixel centres, and the dest rect."""
    dest, (vx, vy, vw0, vh0) = fitted(src_w, src_h, box, fit)
    vw, vh = vw0 / pose.zoom, vh0 / pose.zoom
    cx = _centre(focus[0] * src_w, vw, src_w, vw0, pose.pan_x)
    cy = _centre(focus[1] * src_h, vh, src_h, vh0, pose.pan_y)
    del vx, vy
    dx, dy, dw, dh = dest
    sx, sy = vw / dw, vh / dh
    # continuous coords: src = c + (dst - dest_centre) * s; pixel centres sit at index + 0.5.
    matrix = np.array(
        [
            [sx, 0.0, cx - 0.5 - (dx + dw / 2 - 0.5) * sx],
            [0.0, sy, cy - 0.5 - (dy + dh / 2 - 0.5) * sy],
        ],
        dtype=np.float64,
    )
    return matrix, dest


def _centre(aim: float, view: float, size: float, base_view: float, pan: float) -> float:
    lo, hi = view / 2, size - view / 2
    if hi <= lo:
        return size / 2
    travel = min(hi - lo, PAN_TRAVEL * base_view)
    centre = min(hi - travel / 2, max(lo + travel / 2, aim)) + pan * travel / 2
    return min(hi, max(lo, centre))


def scaled(matrix: np.ndarray, factor: tuple[float, float]) -> np.ndarray:
    """The same mapping when the source was decoded at `factor` (x, y) times its nominal size."""
    out = matrix.copy()
    for row, k in enumerate(factor):
        out[row, :2] *= k
        out[row, 2] = (matrix[row, 2] + 0.5) * k - 0.5
    return out


def chroma_matrix(matrix: np.ndarray) -> np.ndarray:
    """Luma-plane matrix -> the matching matrix for half-size chroma planes (centre sited)."""
    out = matrix.copy()
    # dst luma = 2*dst_c + 0.5, src_c = (src_l - 0.5) / 2
    out[:, 2] = (matrix[:, 0] * 0.5 + matrix[:, 1] * 0.5 + matrix[:, 2] - 0.5) / 2
    return out
