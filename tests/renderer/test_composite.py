"""The two warp backends agree: OpenCV on the CPU and torch grid_sample (CPU here, CUDA on GPU
machines). Tolerance: at most 2 levels on any pixel (bilinear rounding, fp16 on CUDA)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from render_check import draft, frames, render_file

from renderer.composite import Cv2Warper, TorchWarper
from renderer.motion import Pose, view_matrix

torch = pytest.importorskip("torch")


def _photo_plane() -> np.ndarray:
    rng = np.random.default_rng(3)
    small = rng.integers(0, 255, (30, 40), dtype=np.uint8)
    import cv2

    return cv2.resize(small, (400, 300), interpolation=cv2.INTER_CUBIC)


def _compare(device: str) -> None:
    plane = _photo_plane()
    matrix, _ = view_matrix(
        400, 300, (0.0, 0.0, 180.0, 320.0), "cover", Pose(zoom=1.07, pan_x=0.3), (0.4, 0.5)
    )
    expected = Cv2Warper().warp(plane, matrix, (180, 320)).astype(int)
    got = TorchWarper(device).warp(plane, matrix, (180, 320)).astype(int)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 2


def test_torch_warp_matches_opencv_on_cpu() -> None:
    _compare("cpu")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_torch_warp_matches_opencv_on_cuda() -> None:
    _compare("cuda")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_cuda_render_matches_cpu_render(tmp_path: Path) -> None:
    from PIL import Image

    from renderer.output import OutputSpec
    from renderer.render import render

    photo = tmp_path / "grid.png"
    Image.fromarray(_photo_plane()).convert("RGB").save(photo)
    d = draft("ken_burns")
    render(d, {"grid": photo}, tmp_path / "gpu.mp4", OutputSpec(crf=10), device="cuda")
    render(d, {"grid": photo}, tmp_path / "cpu.mp4", OutputSpec(crf=10), device="cpu")
    gpu, cpu = frames(tmp_path / "gpu.mp4"), frames(tmp_path / "cpu.mp4")
    assert np.abs(np.array(gpu) - np.array(cpu)).mean() < 2


def test_ken_burns_zoom_enlarges_the_picture_over_time(tmp_path: Path) -> None:
    from PIL import Image

    img = Image.new("RGB", (360, 640), (20, 20, 20))
    img.paste((250, 250, 250), (170, 310, 190, 330))  # a white square at the centre
    photo = tmp_path / "grid.png"
    img.save(photo)
    video = frames(render_file(draft("ken_burns"), {"grid": photo}, tmp_path / "o.mp4"))

    def white(f: np.ndarray) -> int:
        return int((f.min(axis=2) > 128).sum())

    assert white(video[-1]) > white(video[0]) * 1.1
