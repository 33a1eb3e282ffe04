"""The torch backend of ops.PlaneOps: the whole frame composited on a torch device (the GPU).

Sources (photo planes, text rasters, blur backdrops, dissolve patterns) are uploaded once and
stay resident while they are used (a small LRU keyed by the host array's identity); clip frames
are uploaded as they are decoded. The canvas is one flat yuv420p tensor on the device, laid out
like FrameBuffer, so a finished frame comes back to the encoder in a single copy.

Arithmetic mirrors ops/cpu.py so the two agree: warps sample bilinearly in float32 with the
border replicated (grid_sample, align_corners=True, the same pixel-centre convention as OpenCV),
blends round to nearest like cv2.addWeighted, and text uses the same integer formula (exact).
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np

from renderer.compose.ops.protocol import StaticCache
from renderer.planes import FrameBuffer, Planes

if TYPE_CHECKING:
    import torch

RESIDENT_LIMIT = 64  # arrays kept on the device: a frame's layers use a dozen or two


class TorchOps:
    def __init__(self, device: str) -> None:
        import torch

        self.torch = torch
        self.functional = torch.nn.functional
        self.device = torch.device(device)
        self.name = "cuda" if self.device.type == "cuda" else "torch-cpu"
        self._resident: OrderedDict[tuple[int, str], tuple[weakref.ref[np.ndarray], torch.Tensor]] = (
            OrderedDict()
        )
        self._axes_cache: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}
        self._flat: torch.Tensor | None = None
        self._warp = StaticCache(self._warp_host)

    # -- residency --------------------------------------------------------------------------

    def _upload(self, array: np.ndarray, kind: str) -> torch.Tensor:
        """`array` on the device: "u8" as is, "f32" as float32 (1, 1, h, w) for sampling.

        Entries hold the host array weakly: when the source pool frees a photo, its device copy
        goes too, so neither host nor device memory grows with the number of photos."""
        key = (id(array), kind)
        hit = self._resident.get(key)
        if hit is not None and hit[0]() is array:  # `is`: ids of freed arrays are reused
            self._resident.move_to_end(key)
            return hit[1]
        host = array if array.flags.c_contiguous and array.flags.writeable else np.array(array)
        tensor = self.torch.from_numpy(host).to(self.device, non_blocking=True)
        if kind == "f32":
            tensor = tensor.to(self.torch.float32)[None, None]
        resident = self._resident

        def forget(ref: weakref.ref[np.ndarray]) -> None:
            entry = resident.get(key)
            if entry is not None and entry[0] is ref:
                resident.pop(key, None)

        resident[key] = (weakref.ref(array, forget), tensor)
        while len(resident) > RESIDENT_LIMIT:
            resident.popitem(last=False)
        return tensor

    @property
    def resident_bytes(self) -> int:
        """Device memory held for sources now (the frame canvas aside)."""
        return sum(t.numel() * t.element_size() for _, t in self._resident.values())

    # -- frames -----------------------------------------------------------------------------

    def frame(self, buffer: FrameBuffer) -> Planes:
        size = buffer.data.size
        if self._flat is None or self._flat.numel() != size:
            self._flat = self.torch.empty(size, dtype=self.torch.uint8, device=self.device)
        w, h = buffer.width, buffer.height
        luma, chroma = w * h, w * h // 4
        flat = self._flat
        return Planes(
            flat[:luma].view(h, w),
            flat[luma : luma + chroma].view(h // 2, w // 2),
            flat[luma + chroma :].view(h // 2, w // 2),
        )

    def deliver(self, canvas: Planes, buffer: FrameBuffer) -> None:
        assert self._flat is not None
        # one device -> host copy of the whole yuv420p frame, straight into the encoder's buffer
        self.torch.from_numpy(buffer.data).copy_(self._flat)

    def next_frame(self) -> None:
        self._warp.next_frame()

    def resident(self, planes: Planes) -> Planes:
        return Planes(*(self._upload(plane, "u8") for plane in planes.all()))

    def copy(self, plane: torch.Tensor) -> torch.Tensor:
        return plane.clone()

    def assign(self, target: torch.Tensor, source: torch.Tensor) -> None:
        if target is not source:
            target.copy_(source)

    # -- sampling ---------------------------------------------------------------------------

    def _axes(self, width: int, height: int) -> tuple[torch.Tensor, torch.Tensor]:
        axes = self._axes_cache.get((width, height))
        if axes is None:
            torch = self.torch
            xs = torch.arange(width, device=self.device, dtype=torch.float32)[None, :]
            ys = torch.arange(height, device=self.device, dtype=torch.float32)[:, None]
            axes = self._axes_cache[(width, height)] = (xs, ys)
        return axes

    def _sample(self, source: torch.Tensor, matrix: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
        """Float (h, w): output pixel (x, y) samples the (1, 1, H, W) `source` at matrix @ (x, y, 1)."""
        width, height = size
        src_h, src_w = source.shape[-2:]
        xs, ys = self._axes(width, height)
        m = [float(v) for v in matrix.reshape(-1)]
        # align_corners=True: -1 and 1 are the centres of the first and last source pixels
        gx = (m[0] * xs + m[1] * ys + m[2]) * (2.0 / max(1, src_w - 1)) - 1.0
        gy = (m[3] * xs + m[4] * ys + m[5]) * (2.0 / max(1, src_h - 1)) - 1.0
        grid = self.torch.stack((gx.expand(height, width), gy.expand(height, width)), dim=-1)[None]
        out = self.functional.grid_sample(
            source, grid, mode="bilinear", padding_mode="border", align_corners=True
        )
        return out[0, 0]

    def _to_u8(self, values: torch.Tensor) -> torch.Tensor:
        return values.round().clamp_(0, 255).to(self.torch.uint8)

    def _warp_host(self, plane: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
        return self._to_u8(self._sample(self._upload(plane, "f32"), matrix, size))

    def warp(self, plane: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
        warped: torch.Tensor = self._warp(plane, matrix, size)
        return warped

    # -- blending ---------------------------------------------------------------------------

    def blend(self, target: torch.Tensor, layer: torch.Tensor, opacity: float) -> None:
        if opacity >= 0.999:
            target.copy_(layer)
        elif opacity > 0.001:
            target.copy_(self._to_u8(layer.float() * opacity + target.float() * (1.0 - opacity)))

    def blend_alpha(
        self,
        target: torch.Tensor,
        layer: np.ndarray,
        alpha: np.ndarray,
        window: tuple[slice, slice],
        opacity: float,
    ) -> None:
        torch = self.torch
        a = self._upload(alpha, "u8")[window].to(torch.int32)
        if opacity < 0.999:
            a = (a * round(opacity * 256)) >> 8
        over = self._upload(layer, "u8")[window].to(torch.int32)
        mixed = (target.to(torch.int32) * (255 - a) + over * a + 127) // 255
        target.copy_(mixed)

    def mix(self, a: torch.Tensor, b: torch.Tensor, p: float) -> torch.Tensor:
        return self._to_u8(a.float() * (1.0 - p) + b.float() * p)

    def select(
        self, pattern: np.ndarray, p: float, b: torch.Tensor, a: torch.Tensor, *, inclusive: bool = False
    ) -> torch.Tensor:
        values = self._upload(pattern, "u8" if pattern.dtype == np.uint8 else "raw")
        return self.torch.where(values <= p if inclusive else values < p, b, a)

    def solid_like(self, a: torch.Tensor, value: int) -> torch.Tensor:
        return self.torch.full_like(a, value)

    def zoom(self, a: torch.Tensor, scale: float) -> torch.Tensor:
        h, w = a.shape
        cx, cy = (w - 1) / 2, (h - 1) / 2
        # the inverse of OpenCV's getRotationMatrix2D(centre, 0, scale) that ops_cpu warps with
        inverse = np.array([[1 / scale, 0.0, cx - cx / scale], [0.0, 1 / scale, cy - cy / scale]])
        return self._to_u8(self._sample(a.float()[None, None], inverse, (w, h)))

    def blur(self, a: torch.Tensor, radius: int) -> torch.Tensor:
        functional = self.functional
        h, w = a.shape
        sh, sw = max(1, h // 4), max(1, w // 4)
        # rounded after each step, as OpenCV's uint8 intermediates are
        cells = a[: sh * 4, : sw * 4].float()[None, None]
        small = functional.interpolate(cells, size=(sh, sw), mode="area").round()
        k = max(1, radius // 4) * 2 + 1
        pad = k // 2
        # OpenCV's default border is reflect-101, which is torch's "reflect"
        mode = "reflect" if pad < min(sh, sw) else "replicate"
        small = functional.avg_pool2d(functional.pad(small, (pad,) * 4, mode=mode), k, stride=1).round()
        out = functional.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
        return self._to_u8(out[0, 0])
