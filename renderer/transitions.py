"""Transitions: one function per kind, on yuv420p planes. `a` is the picture going out (what lies
beneath the incoming segment), `b` the picture coming in, `p` the eased progress in 0..1.

Geometry is expressed as fractions of each plane's own size, so the same code serves the full
size luma plane and the half size chroma planes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import cv2
import numpy as np

from renderer.planes import Planes

TransitionFn = Callable[[Planes, Planes, float], Planes]
PlaneFn = Callable[[np.ndarray, np.ndarray, float, int], np.ndarray]  # int: plane index 0=Y 1=U 2=V

_BLACK = (16, 128, 128)
_WHITE = (235, 128, 128)


def ease_in_out(u: float) -> float:
    u = min(1.0, max(0.0, u))
    return u * u * (3 - 2 * u)


def _per_plane(fn: PlaneFn) -> TransitionFn:
    def run(a: Planes, b: Planes, p: float) -> Planes:
        return Planes(*(fn(pa, pb, p, i) for i, (pa, pb) in enumerate(zip(a.all(), b.all(), strict=True))))

    return run


def _mix(a: np.ndarray, b: np.ndarray, p: float) -> np.ndarray:
    return cv2.addWeighted(a, 1.0 - p, b, p, 0.0)


def _none(a: np.ndarray, b: np.ndarray, p: float, i: int) -> np.ndarray:
    return b


def _crossfade(a: np.ndarray, b: np.ndarray, p: float, i: int) -> np.ndarray:
    return _mix(a, b, p)


@lru_cache(maxsize=8)
def _noise(shape: tuple[int, int]) -> np.ndarray:
    # fixed seed: the dissolve pattern is the same on every render; chroma follows luma's pattern
    rng = np.random.default_rng(7)
    return rng.random(shape, dtype=np.float32)


def _dissolve(a: np.ndarray, b: np.ndarray, p: float, i: int) -> np.ndarray:
    noise = _noise((a.shape[0], a.shape[1]))
    return np.where(noise < p, b, a)


def _through(colour: tuple[int, int, int]) -> PlaneFn:
    def run(a: np.ndarray, b: np.ndarray, p: float, i: int) -> np.ndarray:
        solid = np.full_like(a, colour[i])
        if p < 0.5:
            return _mix(a, solid, p * 2)
        return _mix(solid, b, p * 2 - 1)

    return run


def _wipe(axis: int, reverse: bool) -> PlaneFn:
    """b is revealed by an edge sweeping across; `reverse` sweeps from the far side."""

    def run(a: np.ndarray, b: np.ndarray, p: float, i: int) -> np.ndarray:
        out = a.copy()
        size = a.shape[axis]
        edge = round(size * p)
        index = slice(size - edge, size) if reverse else slice(0, edge)
        if axis == 0:
            out[index, :] = b[index, :]
        else:
            out[:, index] = b[:, index]
        return out

    return run


def _shifted(plane: np.ndarray, dx: int, dy: int, under: np.ndarray) -> np.ndarray:
    """`plane` moved by (dx, dy) pixels over `under` (which shows where it no longer covers)."""
    out = under.copy()
    h, w = plane.shape
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    if abs(dx) < w and abs(dy) < h:
        out[yd, xd] = plane[ys, xs]
    return out


def _slide(direction: tuple[int, int], push: bool) -> PlaneFn:
    """b slides in moving along `direction` (unit x, y); with `push`, a moves out ahead of it."""

    def run(a: np.ndarray, b: np.ndarray, p: float, i: int) -> np.ndarray:
        h, w = a.shape
        dx, dy = direction
        # b starts one full size behind its final place and arrives at p = 1
        bx, by = round(-dx * w * (1 - p)), round(-dy * h * (1 - p))
        base = _shifted(a, round(dx * w * p), round(dy * h * p), a) if push else a
        return _shifted(b, bx, by, base)

    return run


def _zoom(a: np.ndarray, b: np.ndarray, p: float, i: int) -> np.ndarray:
    """a grows towards the viewer while b fades in over it."""
    h, w = a.shape
    scale = 1.0 + 0.5 * p
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), 0.0, scale)
    grown = cv2.warpAffine(a, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return _mix(grown, b, p)


@lru_cache(maxsize=8)
def _radius_map(shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    ys, xs = np.ogrid[:h, :w]
    distance = np.sqrt(((xs - (w - 1) / 2) / w) ** 2 * (w / h) ** 2 + ((ys - (h - 1) / 2) / h) ** 2)
    return (distance / distance.max()).astype(np.float32)


def _circle(a: np.ndarray, b: np.ndarray, p: float, i: int) -> np.ndarray:
    """An iris opening from the centre shows b."""
    return np.where(_radius_map((a.shape[0], a.shape[1])) <= p, b, a)


def _blur(a: np.ndarray, b: np.ndarray, p: float, i: int) -> np.ndarray:
    """a blurs out, the pictures crossfade at the blurriest point, b comes into focus."""
    strength = 1.0 - abs(2 * p - 1)  # 0 -> 1 -> 0
    mixed = _mix(a, b, p)
    radius = int(strength * max(a.shape) * 0.04)
    if radius < 1:
        return mixed
    # a box blur on a quarter size copy: cheap and, at these radii, indistinguishable from Gaussian
    small = cv2.resize(
        mixed, (max(1, a.shape[1] // 4), max(1, a.shape[0] // 4)), interpolation=cv2.INTER_AREA
    )
    k = max(1, radius // 4) * 2 + 1
    small = cv2.blur(small, (k, k))
    return cv2.resize(small, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_LINEAR)


TRANSITION_REGISTRY: dict[str, TransitionFn] = {
    "none": _per_plane(_none),
    "crossfade": _per_plane(_crossfade),
    "dissolve": _per_plane(_dissolve),
    "fade_black": _per_plane(_through(_BLACK)),
    "fade_white": _per_plane(_through(_WHITE)),
    # wipe_left: the edge travels leftwards, so b appears from the right
    "wipe_left": _per_plane(_wipe(axis=1, reverse=True)),
    "wipe_right": _per_plane(_wipe(axis=1, reverse=False)),
    "wipe_up": _per_plane(_wipe(axis=0, reverse=True)),
    "wipe_down": _per_plane(_wipe(axis=0, reverse=False)),
    # slide_left: b moves leftwards into place, entering from the right
    "slide_left": _per_plane(_slide((-1, 0), push=False)),
    "slide_right": _per_plane(_slide((1, 0), push=False)),
    "slide_up": _per_plane(_slide((0, -1), push=False)),
    "slide_down": _per_plane(_slide((0, 1), push=False)),
    "push_left": _per_plane(_slide((-1, 0), push=True)),
    "push_right": _per_plane(_slide((1, 0), push=True)),
    "zoom": _per_plane(_zoom),
    "circle": _per_plane(_circle),
    "blur": _per_plane(_blur),
}
