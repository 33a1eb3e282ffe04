"""The per-frame pixel operations, behind one interface with two backends.

Everything a frame needs (warps, opacity blends, text, the transitions' primitives) goes through
a `PlaneOps`, so the compositing code (layers.py, transitions.py, render.py) is written once:

- `CpuOps` (ops/cpu.py): numpy and OpenCV's SIMD kernels on the encoder's own buffers. The
  default, and the fastest correct path on a CPU (numbers in layers.py's docstring).
- `TorchOps` (ops/torch_ops.py): the whole frame on a torch device. Sources are uploaded once and stay
  resident; the frame is composited there and comes back in one copy per frame. On CUDA this is
  the GPU compositor; on the CPU device it is the same code, which the tests compare with
  `CpuOps` on every transition, fit and overlay (the stated tolerance is in
  tests/renderer/compose/test_ops_agree.py), so the GPU path is checked even where no GPU is.

Arrays are numpy arrays for `CpuOps` and torch tensors for `TorchOps`; both are indexed and
sliced the same way, which is what lets the transitions assign regions without knowing which.
Sources always arrive as host numpy planes (decoders produce them); an ops object uploads what
it needs and keeps it while it is used.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from renderer.planes import Array, FrameBuffer, Planes


class PlaneOps(Protocol):
    name: str

    def frame(self, buffer: FrameBuffer) -> Planes:
        """The canvas this frame is drawn on (the buffer's own planes on the CPU)."""
        ...

    def deliver(self, canvas: Planes, buffer: FrameBuffer) -> None:
        """Make `buffer` hold the finished `canvas` (a no-op when they are the same memory)."""
        ...

    def next_frame(self) -> None:
        """A frame is done: caches keyed on the previous frame may move on."""
        ...

    def resident(self, planes: Planes) -> Planes:
        """Host planes as this backend's arrays (uploaded once while they are in use)."""
        ...

    def copy(self, plane: Array) -> Array: ...

    def assign(self, target: Array, source: Array) -> None:
        """target[...] = source, in place."""
        ...

    def warp(self, plane: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> Array:
        """Output (h, w) = size[::-1]; output pixel (x, y) samples `plane` at matrix @ (x, y, 1),
        bilinearly, with the border replicated."""
        ...

    def blend(self, target: Array, layer: Array, opacity: float) -> None:
        """target = layer * opacity + target * (1 - opacity), in place."""
        ...

    def blend_alpha(
        self,
        target: Array,
        layer: np.ndarray,
        alpha: np.ndarray,
        window: tuple[slice, slice],
        opacity: float,
    ) -> None:
        """Straight-alpha blend of layer[window] (alpha[window] in 0..255, times opacity) over
        `target`, which has the window's shape. Integer maths: both backends agree exactly."""
        ...

    def mix(self, a: Array, b: Array, p: float) -> Array:
        """a * (1 - p) + b * p."""
        ...

    def select(self, pattern: np.ndarray, p: float, b: Array, a: Array, *, inclusive: bool = False) -> Array:
        """b where pattern < p (<= when inclusive), else a. `pattern` is a fixed float map."""
        ...

    def solid_like(self, a: Array, value: int) -> Array: ...

    def zoom(self, a: Array, scale: float) -> Array:
        """`a` enlarged by `scale` about its centre (replicated border)."""
        ...

    def blur(self, a: Array, radius: int) -> Array:
        """A soft blur of about `radius` pixels (box blur on a quarter size copy)."""
        ...


class Warp(Protocol):
    def __call__(self, plane: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> Array: ...


class StaticCache:
    """Reuses a warp's output when the same plane is warped by the same matrix as in the frame
    before (a photo without motion, a held clip frame): a copy instead of a resample. Outputs
    are kept for one frame only, so memory is one frame's layers at most. Outputs are never
    written to (blends read them), so handing the same array out twice is safe."""

    def __init__(self, inner: Warp) -> None:
        self.inner = inner
        self._previous: dict[tuple[int, bytes, tuple[int, int]], tuple[np.ndarray, Array]] = {}
        self._current: dict[tuple[int, bytes, tuple[int, int]], tuple[np.ndarray, Array]] = {}

    def next_frame(self) -> None:
        self._previous, self._current = self._current, {}

    def __call__(self, plane: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> Array:
        key = (id(plane), matrix.tobytes(), size)
        hit = self._previous.get(key) or self._current.get(key)
        # `is`: an id can be reused by a new array
        out = hit[1] if hit is not None and hit[0] is plane else self.inner(plane, matrix, size)
        self._current[key] = (plane, out)
        return out
