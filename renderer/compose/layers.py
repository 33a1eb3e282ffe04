"""Drawing one layer onto the frame: warp a source's planes by its view matrix, blend by opacity;
and text rasters. The pixel work goes through a PlaneOps (ops/protocol.py): OpenCV on the CPU, torch on
a GPU, with the same code here for both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from renderer.compose.motion import Pose, chroma_matrix, scaled, view_matrix
from renderer.compose.ops.cpu import cv2_warp
from renderer.compose.ops.protocol import PlaneOps
from renderer.compose.text import TextRaster
from renderer.plan import VisualItem
from renderer.planes import Planes

BLUR_FACTOR = 12  # blur fit: the backdrop is blurred at 1/12 size, about a 4% radius


@dataclass
class Source:
    """A decoded picture and how it relates to its nominal (oriented, full) size. `margin` luma
        pixels of replicated border surround the picture in `planes` (chroma planes too: the same
    count of their own pixels): the resize
        path needs room to start a little before the visible view (resample.py)."""

    planes: Planes
    width: int  # nominal
    height: int
    factor: tuple[float, float]  # picture size (without margin) / nominal size
    margin: int = 0  # even

    @property
    def picture(self) -> Planes:
        """The planes without the margin (views, no copy)."""
        m = self.margin
        if m == 0:
            return self.planes
        return Planes(*(plane[m:-m, m:-m] for plane in self.planes.all()))


def with_margin(planes: Planes, margin: int) -> Planes:
    """`planes`, each surrounded by `margin` pixels of replicated border."""
    return Planes(*(cv2.copyMakeBorder(p, *(margin,) * 4, cv2.BORDER_REPLICATE) for p in planes.all()))


def _even_span(start: float, length: float, limit: int) -> tuple[int, int]:
    lo = max(0, math.floor(start + 0.5) // 2 * 2)
    hi = min(limit, int(math.floor(start + length + 0.5) + 1) // 2 * 2)
    return lo, hi


def warp_into(
    canvas: Planes,
    source: Planes,
    matrix: np.ndarray,
    dest: tuple[float, float, float, float],
    opacity: float,
    ops: PlaneOps,
    chroma_shift: float = 0.0,
) -> None:
    """Warp `source` (matrix: canvas luma px -> source luma px) into the dest rect of `canvas`.
    `chroma_shift` moves the chroma sampling by that many chroma px (a wider chroma margin)."""
    x0, x1 = _even_span(dest[0], dest[2], canvas.width)
    y0, y1 = _even_span(dest[1], dest[3], canvas.height)
    if x1 <= x0 or y1 <= y0:
        return
    local = matrix.copy()
    local[:, 2] += matrix[:, 0] * x0 + matrix[:, 1] * y0
    chroma = chroma_matrix(local)
    chroma[:, 2] += chroma_shift
    ops.blend(canvas.y[y0:y1, x0:x1], ops.warp(source.y, local, (x1 - x0, y1 - y0)), opacity)
    size_c = ((x1 - x0) // 2, (y1 - y0) // 2)
    yc, xc = slice(y0 // 2, y1 // 2), slice(x0 // 2, x1 // 2)
    ops.blend(canvas.u[yc, xc], ops.warp(source.u, chroma, size_c), opacity)
    ops.blend(canvas.v[yc, xc], ops.warp(source.v, chroma, size_c), opacity)


def blurred_backdrop(source: Source, box: tuple[float, float, float, float]) -> Planes:
    """The blur fit's backdrop: the photo as a static cover fill of the box, heavily blurred.
    Built once per segment at 1/BLUR_FACTOR size; the warp to the box upsamples it smoothly."""
    small_box = (0.0, 0.0, max(2.0, box[2] / BLUR_FACTOR), max(2.0, box[3] / BLUR_FACTOR))
    matrix, _ = view_matrix(source.width, source.height, small_box, "cover", Pose(), (0.5, 0.5))
    # shrink the photo to about the backdrop's scale first (INTER_AREA: no aliasing), then warp
    k = max(small_box[2] / source.width, small_box[3] / source.height)
    pw, ph = max(2, math.ceil(source.width * k / 2) * 2), max(2, math.ceil(source.height * k / 2) * 2)
    picture = source.picture
    small = Planes(
        cv2.resize(picture.y, (pw, ph), interpolation=cv2.INTER_AREA),
        cv2.resize(picture.u, (pw // 2, ph // 2), interpolation=cv2.INTER_AREA),
        cv2.resize(picture.v, (pw // 2, ph // 2), interpolation=cv2.INTER_AREA),
    )
    matrix = scaled(matrix, (pw / source.width, ph / source.height))
    w, h = math.ceil(small_box[2] / 2) * 2, math.ceil(small_box[3] / 2) * 2
    chroma = chroma_matrix(matrix)
    # built on the CPU once per segment (it is small); the frame's ops upload it if they need
    return Planes(
        _soften(cv2_warp(small.y, matrix, (w, h))),
        _soften(cv2_warp(small.u, chroma, (w // 2, h // 2))),
        _soften(cv2_warp(small.v, chroma, (w // 2, h // 2))),
    )


def _soften(plane: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(plane, (0, 0), 1.5)


def draw_visual(
    canvas: Planes,
    source: Source,
    item: VisualItem,
    pose: Pose,
    ops: PlaneOps,
    backdrop: Planes | None = None,
    opacity: float | None = None,
) -> None:
    """Draw a photo or clip frame at its pose; `opacity` overrides the item's own (crossfades)."""
    alpha = item.opacity if opacity is None else opacity
    if item.fit == "blur" and backdrop is not None:
        bw, bh = backdrop.width, backdrop.height
        bx, by, boxw, boxh = item.box
        # backdrop pixel centres span the box: a plain scale + offset
        matrix = np.array(
            [[bw / boxw, 0.0, (0.5 - bx) * bw / boxw - 0.5], [0.0, bh / boxh, (0.5 - by) * bh / boxh - 0.5]]
        )
        warp_into(canvas, backdrop, matrix, item.box, alpha, ops)
    fit = "contain" if item.fit == "blur" else item.fit
    matrix, dest = view_matrix(source.width, source.height, item.box, fit, pose, item.focus)
    matrix = scaled(matrix, source.factor)
    # the margin shifts luma by `margin`, which chroma_matrix turns into half that in chroma
    matrix[:, 2] += source.margin
    warp_into(canvas, source.planes, matrix, dest, alpha, ops, source.margin / 2)


def draw_text(canvas: Planes, raster: TextRaster, opacity: float, dy: float, ops: PlaneOps) -> None:
    """Straight-alpha blend of a text raster at its place, shifted down by dy pixels (even)."""
    if opacity <= 0.001:
        return
    shift = round(dy / 2) * 2
    for plane, layer, alpha, scale in (
        (canvas.y, raster.planes.y, raster.alpha, 1),
        (canvas.u, raster.planes.u, raster.alpha_chroma, 2),
        (canvas.v, raster.planes.v, raster.alpha_chroma, 2),
    ):
        x, y = raster.x // scale, (raster.y + shift) // scale
        h, w = layer.shape
        tx0, ty0 = max(0, x), max(0, y)
        tx1, ty1 = min(plane.shape[1], x + w), min(plane.shape[0], y + h)
        if tx1 <= tx0 or ty1 <= ty0:
            continue
        window = (slice(ty0 - y, ty1 - y), slice(tx0 - x, tx1 - x))
        ops.blend_alpha(plane[ty0:ty1, tx0:tx1], layer, alpha, window, opacity)
