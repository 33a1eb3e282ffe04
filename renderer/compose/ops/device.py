"""Which `PlaneOps` backend composites a frame: the device names a render accepts, and the one
function that builds the backend for a device (the backends import the protocol, never this)."""

from __future__ import annotations

from renderer.compose.ops.cpu import CpuOps
from renderer.compose.ops.protocol import PlaneOps
from renderer.compose.ops.torch_ops import TorchOps
from renderer.errors import RenderError

DEVICES = ("auto", "cpu", "cuda", "torch-cpu")


def make_ops(device: str) -> PlaneOps:
    """The backend for a device chosen by render.choose_device: "cpu", "cuda" or "torch-cpu"
    (torch on the CPU: the GPU code path, for checking it where there is no GPU)."""
    if device == "cpu":
        return CpuOps()
    if device in ("cuda", "torch-cpu"):
        return TorchOps("cuda" if device == "cuda" else "cpu")
    raise RenderError("bad_output", f"unknown compositing device {device!r}; use one of {', '.join(DEVICES)}")
