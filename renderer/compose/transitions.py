"""Transitions: one function per kind, on yuv420p planes, written once over a PlaneOps (ops/protocol.py) so
the CPU and the GPU run the same code. `a` is the picture going out (what lies
beneath the incoming segment), `b` the picture coming in, `p` the eased progress in 0..1.

Geometry is expressed as fractions of each plane's own size, so the same code serves the full
size luma plane and the half size chroma planes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

from renderer.compose.ops.protocol import PlaneOps
from renderer.planes import Array, Planes

TransitionFn = Callable[[Planes, Planes, float, PlaneOps], Planes]
# int: plane index 0=Y 1=U 2=V
PlaneFn = Callable[[Array, Array, float, int, PlaneOps], Array]

_BLACK = (16, 128, 128)
_WHITE = (235, 128, 128)


def ease_in_out(u: float) -> float:
    u = min(1.0, max(0.0, u))
    return u * u * (3 - 2 * u)


def _per_plane(fn: PlaneFn) -> TransitionFn:
    def run(a: Planes, b: Planes, p: float, ops: PlaneOps) -> Planes:
        planes = zip(a.all(), b.all(), strict=True)
        return Planes(*(fn(pa, pb, p, i, ops) for i, (pa, pb) in enumerate(planes)))

    return run


def _none(a: Array, b: Array, p: float, i: int, ops: PlaneOps) -> Array:
    return b


def _crossfade(a: Array, b: Array, p: float, i: int, ops: PlaneOps) -> Array:
    return ops.mix(a, b, p)


@lru_cache(maxsize=8)
def _noise(shape: tuple[int, int]) -> np.ndarray:
    # fixed seed: the dissolve pattern is the same on every render (and on every backend)
    rng = np.random.default_rng(7)
    return rng.random(shape, dtype=np.float32)


def _dissolve(a: Array, b: Array, p: float, i: int, ops: PlaneOps) -> Array:
    return ops.select(_noise((a.shape[0], a.shape[1])), p, b, a)


def _through(colour: tuple[int, int, int]) -> PlaneFn:
    def run(a: Array, b: Array, p: float, i: int, ops: PlaneOps) -> Array:
        solid = ops.solid_like(a, colour[i])
        if p < 0.5:
            return ops.mix(a, solid, p * 2)
        return ops.mix(solid, b, p * 2 - 1)

    return run


def _wipe(axis: int, reverse: bool) -> PlaneFn:
    """b is revealed by an edge sweeping across; `reverse` sweeps from the far side."""

    def run(a: Array, b: Array, p: float, i: int, ops: PlaneOps) -> Array:
        out = ops.copy(a)
        size = a.shape[axis]
        edge = round(size * p)
        index = slice(size - edge, size) if reverse else slice(0, edge)
        if axis == 0:
            out[index, :] = b[index, :]
        else:
            out[:, index] = b[:, index]
        return out

    return run


def _shifted(plane: Array, dx: int, dy: int, under: Array, ops: PlaneOps) -> Array:
    """`plane` moved by (dx, dy) pixels over `under` (which shows where it no longer covers)."""
    out = ops.copy(under)
    h, w = plane.shape
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    if abs(dx) < w and abs(dy) < h:
        out[yd, xd] = plane[ys, xs]
    return out


def _slide(direction: tuple[int, int], push: bool) -> PlaneFn:
    """b slides in moving along `direction` (unit x, y); with `push`, a moves out ahead of it."""

    def run(a: Array, b: Array, p: float, i: int, ops: PlaneOps) -> Array:
        h, w = a.shape
        dx, dy = direction
        # b starts one full size behind its final place and arrives at p = 1
        bx, by = round(-dx * w * (1 - p)), round(-dy * h * (1 - p))
        base = _shifted(a, round(dx * w * p), round(dy * h * p), a, ops) if push else a
        return _shifted(b, bx, by, base, ops)

    return run


def _zoom(a: Array, b: Array, p: float, i: int, ops: PlaneOps) -> Array:
    """a grows towards the viewer while b fades in over it."""
    return ops.mix(ops.zoom(a, 1.0 + 0.5 * p), b, p)


@lru_cache(maxsize=8)
def _radius_map(shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    ys, xs = np.ogrid[:h, :w]
    distance = np.sqrt(((xs - (w - 1) / 2) / w) ** 2 * (w / h) ** 2 + ((ys - (h - 1) / 2) / h) ** 2)
    ramp: np.ndarray = (distance / distance.max()).astype(np.float32)
    return ramp


def _circle(a: Array, b: Array, p: float, i: int, ops: PlaneOps) -> Array:
    """An iris opening from the centre shows b."""
    return ops.select(_radius_map((a.shape[0], a.shape[1])), p, b, a, inclusive=True)


def _blur(a: Array, b: Array, p: float, i: int, ops: PlaneOps) -> Array:
    """a blurs out, the pictures crossfade at the blurriest point, b comes into focus."""
    strength = 1.0 - abs(2 * p - 1)  # 0 -> 1 -> 0
    mixed = ops.mix(a, b, p)
    radius = int(strength * max(a.shape) * 0.04)
    if radius < 1:
        return mixed
    return ops.blur(mixed, radius)


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
