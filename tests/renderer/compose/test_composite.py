"""The two warp backends agree: OpenCV on the CPU and torch grid_sample (CPU here, CUDA on GPU
machines). Tolerance: at most 2 levels on any pixel (both bilinear; OpenCV rounds its weights to
fixed point, torch samples in float32)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from renderer.compose.motion import Pose, view_matrix
from renderer.compose.ops.cpu import affine_warp, cv2_warp, fastest_warp, resize_first_warp
from tests.renderer.render_check import draft, frames, render_file

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
    from renderer.compose.ops.torch_ops import TorchOps

    got = TorchOps(device).warp(plane, matrix, (180, 320)).cpu().numpy().astype(int)
    for cpu_warp in (resize_first_warp, affine_warp):  # whichever fastest_warp picks here
        expected = cpu_warp(plane, matrix, (180, 320)).astype(int)
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() <= 2, cpu_warp.__name__


def test_torch_warp_matches_opencv_on_cpu() -> None:
    _compare("cpu")


@pytest.mark.cuda
def test_torch_warp_matches_opencv_on_cuda() -> None:
    _compare("cuda")


@pytest.mark.cuda
def test_cuda_render_matches_cpu_render(tmp_path: Path) -> None:
    from PIL import Image

    from renderer.render import render
    from renderer.schema.output import OutputSpec

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


def _textured(width: int, height: int, seed: int = 5) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (height // 8, width // 8), dtype=np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


@pytest.mark.parametrize("zoom", [1.0, 1.013, 1.05, 1.0987, 1.1])
@pytest.mark.parametrize("motion_pan", [0.0, 0.37, -0.8])
def test_resize_fast_path_matches_warp_affine(zoom: float, motion_pan: float) -> None:
    """Ken Burns matrices take OpenCV's separable resize; the picture is warpAffine's within
    2 levels (both bilinear; they round differently), so the choice never shows."""
    import cv2

    plane = _textured(700, 520)
    matrix, _ = view_matrix(
        600, 450, (0.0, 0.0, 270.0, 480.0), "cover", Pose(zoom=zoom, pan_x=motion_pan), (0.5, 0.5)
    )
    matrix[:, 2] += 40  # the photo sits inside a 40 px margin, as sources.py keeps it
    reference = cv2.warpAffine(
        plane,
        matrix,
        (270, 480),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    fast = resize_first_warp(plane, matrix, (270, 480))  # resize_warp, or warpAffine when it says no
    assert fast.shape == reference.shape
    assert np.abs(fast.astype(int) - reference.astype(int)).max() <= 2


def test_a_process_measures_its_cpu_warps_once_keeps_the_faster_and_logs_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Which warp is faster depends on the OpenCV build (5.1 rewrote warpAffine: 4x faster) and
    the CPU; both draw the same picture within 2 levels (test above), so only speed differs."""
    fastest_warp.cache_clear()
    with caplog.at_level("INFO", logger="nemo.renderer"):
        chosen = fastest_warp()
    assert chosen in (resize_first_warp, affine_warp)
    assert fastest_warp() is chosen and caplog.text.count("CPU warp:") == 1  # measured once
    said = "warpAffine" if chosen is affine_warp else "resize path"
    assert f"CPU warp: {said} (" in caplog.text
    plane = _textured(700, 520)
    matrix = np.array([[0.93, 0.0, 40.3], [0.0, 0.93, 41.7]])
    assert np.array_equal(cv2_warp(plane, matrix, (270, 480)), chosen(plane, matrix, (270, 480)))


def test_resize_path_is_taken_for_a_share_of_a_zoom_and_for_the_speed_probe() -> None:
    """The resize path only takes matrices it can sample within 1/512 px (resample.py): about a
    third of a typical 3 s zoom's frames here. The matrix fastest_warp times it on must be one
    of those, or the measurement would time warpAffine twice and compare it with itself."""
    from renderer.compose.motion import MOTION_REGISTRY, scaled
    from renderer.compose.ops.cpu import PROBE_MATRIX
    from renderer.compose.ops.resample import resize_warp

    plane = _textured(1100, 900)
    hits = 0
    for f in range(90):
        pose = MOTION_REGISTRY["zoom_in"]((f + 0.5) / 90)
        matrix, _ = view_matrix(4000, 3000, (0.0, 0.0, 360.0, 640.0), "cover", pose, (0.5, 0.5))
        matrix = scaled(matrix, (844 / 4000, 633 / 3000))
        matrix[:, 2] += 128
        hits += resize_warp(plane, matrix, (360, 640)) is not None
    assert hits >= 22  # 32 measured
    assert resize_warp(_textured(600, 1056), PROBE_MATRIX, (540, 960)) is not None


def test_rotation_or_shear_is_left_to_warp_affine() -> None:
    from renderer.compose.ops.resample import resize_warp

    matrix = np.array([[1.0, 0.1, 3.0], [0.0, 1.0, 2.0]])
    assert resize_warp(_textured(200, 200), matrix, (100, 100)) is None


def test_a_static_layer_reuses_the_warp_and_paints_the_same_pixels() -> None:
    """The static-frame shortcut (StaticCache) gives exactly the full path's pixels, frame after
    frame, and recomputes as soon as the layer moves."""
    from renderer.compose.layers import warp_into
    from renderer.compose.ops.cpu import CpuOps
    from renderer.planes import Planes, solid_planes

    source = Planes(_textured(400, 300, 1), _textured(200, 150, 2), _textured(200, 150, 3))
    resampled: list[int] = []

    def counted(plane: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        resampled.append(1)
        return cv2_warp(plane, matrix, size)

    ops = CpuOps(resample=counted)
    for frame in range(4):
        zoom = 1.0 if frame < 3 else 1.05  # still for three frames, then it moves
        matrix, dest = view_matrix(400, 300, (0.0, 0.0, 180.0, 320.0), "cover", Pose(zoom=zoom), (0.5, 0.5))
        full, fast = solid_planes(180, 320, (0, 0, 0)), solid_planes(180, 320, (0, 0, 0))
        warp_into(full, source, matrix, dest, 0.8, CpuOps())  # a fresh cache: always resamples
        warp_into(fast, source, matrix, dest, 0.8, ops)
        for a, b in zip(full.all(), fast.all(), strict=True):
            assert np.array_equal(a, b)
        ops.next_frame()
    # three planes resampled on frame 0, reused on frames 1 and 2, resampled again when it moved
    assert len(resampled) == 6


@pytest.mark.parametrize("p", [0.1, 0.5, 0.83])
def test_crossfade_as_one_blend_equals_the_generic_transition(p: float) -> None:
    """render.py draws a crossfade's incoming layer once at opacity p instead of copying the
    frame and mixing: the pixels are the generic transition's within a level of rounding."""
    from renderer.compose.layers import warp_into
    from renderer.compose.ops.cpu import CpuOps
    from renderer.compose.transitions import TRANSITION_REGISTRY
    from renderer.planes import Planes, solid_planes

    a = Planes(_textured(400, 300, 1), _textured(200, 150, 2), _textured(200, 150, 3))
    b = Planes(_textured(400, 300, 4), _textured(200, 150, 5), _textured(200, 150, 6))
    matrix, dest = view_matrix(400, 300, (0.0, 0.0, 180.0, 320.0), "cover", Pose(zoom=1.03), (0.5, 0.5))
    ops = CpuOps()
    below = solid_planes(180, 320, (0, 0, 0))
    warp_into(below, a, matrix, dest, 1.0, ops)
    over = below.copy()
    warp_into(over, b, matrix, dest, 1.0, ops)
    generic = TRANSITION_REGISTRY["crossfade"](below, over, p, ops)
    shortcut = below.copy()
    warp_into(shortcut, b, matrix, dest, p, ops)
    for x, y in zip(generic.all(), shortcut.all(), strict=True):
        assert np.abs(x.astype(int) - y.astype(int)).max() <= 1


def test_a_transition_whose_outgoing_segment_ended_starts_from_the_background(tmp_path: Path) -> None:
    """A transition longer than the overlap: for its last frames nothing lies beneath the incoming
    segment, so it must come in over the background colour, never over whatever an earlier frame
    left in the reused buffer (which once showed an old picture in the wiped area)."""
    from renderer.compose.compositor import Compositor
    from renderer.compose.sources import SourcePool
    from renderer.plan import build_plan
    from renderer.planes import FrameBuffer, rgb_to_yuv
    from renderer.schema.draft import Draft
    from renderer.schema.output import OutputSpec

    photo = tmp_path / "p.png"
    from PIL import Image

    Image.new("RGB", (180, 320), (200, 40, 40)).save(photo)
    d = Draft.model_validate(
        {
            "d": 2000,
            "m": {"width": 180, "height": 320, "fps": 10, "bg": "#0000FF"},
            "t": [
                {
                    "id": "v1",
                    "tt": 0,
                    "sg": [
                        {"id": "a", "src": "p", "st": 0, "d": 1000},
                        # 1000 ms of wipe, but only 200 ms of overlap with "a"
                        {
                            "id": "b",
                            "src": "p",
                            "st": 800,
                            "d": 1200,
                            "m": {"tr": {"type": "wipe_left", "d": 1000}},
                        },
                    ],
                }
            ],
        }
    )
    plan = build_plan(d, {"p": photo}, OutputSpec())
    pool = SourcePool(plan, lookahead=5)
    try:
        compositor = Compositor(plan, pool, "cpu")
        buffer = FrameBuffer(plan.width, plan.height)
        for frame in range(13):
            buffer.data[...] = 255  # stale contents, as a reused buffer may hold
            compositor.draw(frame, buffer)
    finally:
        pool.close()
    # frame 12 is 0.4 s into the wipe from the right: the left part still shows what lies beneath
    assert abs(int(buffer.planes.y[160, 10]) - rgb_to_yuv((0, 0, 255))[0]) <= 1
