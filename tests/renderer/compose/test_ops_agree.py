"""The GPU compositor (ops_torch.TorchOps) draws what the CPU compositor (ops_cpu.CpuOps) draws.

Both backends run the same compositing code (compositor.py, layers.py, transitions.py) and
differ only in their pixel kernels, so the frames are compared raw, straight from the
compositor, before any encoding. Here torch runs on the CPU ("torch-cpu", the GPU code path on
this machine); on a machine with a CUDA GPU the same comparisons run on "cuda" too.

Stated tolerance, per pixel on every plane of every frame: at most MAX_LEVELS apart, and a mean
difference under MEAN_LEVELS. Where they differ it is bilinear rounding (OpenCV samples on a
1/32 px grid with fixed-point weights, grid_sample in float32) and the blur transition's area
resampling; selections (dissolve, iris), wipes, slides and text blending are exact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from renderer.compose.transitions import TRANSITION_REGISTRY
from renderer.planes import FrameBuffer, Planes
from renderer.schema.draft import TRANSITIONS, Draft
from renderer.schema.output import OutputSpec
from tests.renderer.render_check import media_factory

torch = pytest.importorskip("torch")

MAX_LEVELS = 2
MEAN_LEVELS = 0.5

DEVICES = [
    "torch-cpu",
    pytest.param(
        "cuda",
        marks=[pytest.mark.cuda],  # skipped without CUDA, failed with NEMO_REQUIRE_CUDA=1 (conftest)
    ),
]


def _textured(width: int, height: int, seed: int) -> Image.Image:
    """Smooth colour noise with detail at several scales: warps and blurs show on it."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 10, width // 10, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
    fine = rng.integers(-25, 26, (height, width, 3))
    return Image.fromarray(np.clip(np.asarray(image).astype(int) + fine, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("agree")
    paths = {}
    for i, size in enumerate([(300, 420), (420, 300), (240, 240), (500, 280)]):
        paths[f"p{i}"] = directory / f"p{i}.jpg"
        _textured(*size, seed=i).save(paths[f"p{i}"], quality=95)
    paths["clip"] = media_factory.mp4_clip(directory, seconds=2.0)
    return paths


def _photo(sid: str, src: str, st: int, d: int, **meta: Any) -> dict[str, Any]:
    return {"id": sid, "src": src, "st": st, "d": d, "m": meta}


def _draft(segments: list[dict[str, Any]], *, overlays: list[dict[str, Any]] = (), texts=()) -> Draft:  # type: ignore[assignment]
    tracks: list[dict[str, Any]] = [{"id": "v1", "tt": 0, "sg": segments}]
    if overlays:
        tracks.append({"id": "v2", "tt": 0, "sg": list(overlays)})
    if texts:
        tracks.append({"id": "x1", "tt": 7, "sg": list(texts)})
    end = max(s["st"] + s["d"] for s in segments)
    return Draft.model_validate(
        {"d": end, "m": {"width": 180, "height": 320, "fps": 10, "bg": "#102030"}, "t": tracks}
    )


def _composite(d: Draft, media: dict[str, Path], device: str) -> list[np.ndarray]:
    """Every frame of `d`, raw yuv420p, as the compositor on `device` draws it."""
    from renderer.compose.compositor import Compositor
    from renderer.compose.sources import SourcePool
    from renderer.plan import build_plan

    plan = build_plan(d, media, OutputSpec())
    pool = SourcePool(plan, lookahead=10)
    try:
        compositor = Compositor(plan, pool, device)
        frames = []
        for frame in range(plan.n_frames):
            buffer = FrameBuffer(plan.width, plan.height)
            compositor.draw(frame, buffer)
            frames.append(buffer.data.copy())
        return frames
    finally:
        pool.close()


def _assert_agree(d: Draft, media: dict[str, Path], device: str) -> tuple[int, float]:
    cpu = np.stack(_composite(d, media, "cpu")).astype(int)
    other = np.stack(_composite(d, media, device)).astype(int)
    diff = np.abs(cpu - other)
    worst, mean = int(diff.max()), float(diff.mean())
    assert worst <= MAX_LEVELS, f"max difference {worst} levels (mean {mean:.3f})"
    assert mean < MEAN_LEVELS, f"mean difference {mean:.3f} levels"
    # and the frames are not trivially equal because nothing was drawn
    assert cpu.std() > 20
    return worst, mean


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", TRANSITIONS)
def test_every_transition_agrees(kind: str, device: str, media: dict[str, Path]) -> None:
    d = _draft(
        [
            _photo("s1", "p0", 0, 1200, motion="zoom_in"),
            _photo("s2", "p1", 400, 1200, motion="pan_left", tr={"type": kind, "d": 800}),
        ]
    )
    _assert_agree(d, media, device)


@pytest.mark.parametrize("device", DEVICES)
def test_fits_motions_overlays_clips_and_text_agree(device: str, media: dict[str, Path]) -> None:
    d = _draft(
        [
            _photo("s1", "p1", 0, 1000, fit="blur", motion="zoom_out"),
            _photo("s2", "p2", 800, 1000, fit="contain", motion="pan_up", tr={"type": "crossfade", "d": 200}),
            _photo("s3", "clip", 1600, 1400, fit="blur", tr={"type": "wipe_left", "d": 300}),
            _photo("s4", "p3", 2800, 800, motion="pan_right", focus=[0.2, 0.7]),
        ],
        overlays=[
            _photo("o1", "p0", 300, 1800, box=[0.55, 0.05, 0.4, 0.3], opacity=0.6, motion="zoom_in"),
            _photo("o2", "clip", 2000, 1500, box=[0.1, 0.6, 0.5, 0.3], fit="contain"),
        ],
        texts=[
            {"id": "t1", "st": 0, "d": 1500, "m": {"text": "Summer 2026", "pos": "top", "anim": "fade"}},
            {
                "id": "t2",
                "st": 1200,
                "d": 2000,
                "m": {
                    "text": "夏天 🌊 lake",
                    "pos": "bottom",
                    "anim": "typewriter",
                    "box_color": "#00000080",
                },
            },
            {"id": "t3", "st": 2500, "d": 1100, "m": {"text": "slide", "pos": "center", "anim": "slide_up"}},
        ],
    )
    _assert_agree(d, media, device)


@pytest.mark.parametrize("kind", sorted(set(TRANSITION_REGISTRY) - {"none"}))
@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_transition_kernels_agree_on_planes(kind: str, p: float) -> None:
    """The transition primitives alone, on odd sizes (rounding of edges and offsets)."""
    from renderer.compose.ops.cpu import CpuOps
    from renderer.compose.ops.torch_ops import TorchOps

    rng = np.random.default_rng(11)

    def planes() -> Planes:
        return Planes(
            rng.integers(0, 256, (94, 62), dtype=np.uint8),
            rng.integers(0, 256, (47, 31), dtype=np.uint8),
            rng.integers(0, 256, (47, 31), dtype=np.uint8),
        )

    a, b = planes(), planes()
    cpu, gpu = CpuOps(), TorchOps("cpu")
    expected = TRANSITION_REGISTRY[kind](a, b, p, cpu)
    got = TRANSITION_REGISTRY[kind](gpu.resident(a), gpu.resident(b), p, gpu)
    for want, have in zip(expected.all(), got.all(), strict=True):
        assert np.abs(want.astype(int) - have.cpu().numpy().astype(int)).max() <= MAX_LEVELS


@pytest.mark.parametrize("device", DEVICES)
def test_render_on_the_gpu_path_gives_the_cpu_video(
    device: str, media: dict[str, Path], tmp_path: Path
) -> None:
    """Through render(): the file is whole and its frames match the CPU render's (after two
    encodes, so by PSNR: above 40 dB is indistinguishable to the eye)."""
    from renderer.render import render
    from tests.renderer.render_check import frames

    d = _draft(
        [
            _photo("s1", "p0", 0, 1000, motion="zoom_in"),
            _photo("s2", "p2", 600, 1000, fit="blur", tr={"type": "circle", "d": 400}),
        ],
        texts=[{"id": "t1", "st": 0, "d": 1600, "m": {"text": "Lake", "anim": "fade"}}],
    )
    result = render(d, media, tmp_path / "gpu.mp4", OutputSpec(crf=4), device=device)
    render(d, media, tmp_path / "cpu.mp4", OutputSpec(crf=4), device="cpu")
    assert result.device == device
    gpu, cpu = np.array(frames(tmp_path / "gpu.mp4")), np.array(frames(tmp_path / "cpu.mp4"))
    assert gpu.shape == cpu.shape == (16, 320, 180, 3)
    # two encodes of frames a level or two apart on fine-grained texture: visually identical
    psnr = 10 * np.log10(255**2 / np.mean((gpu - cpu) ** 2))
    assert psnr > 40, f"PSNR {psnr:.1f} dB"


def test_device_copies_are_freed_with_their_photos() -> None:
    """Memory must not grow with the number of photos: once the source pool lets a photo go,
    the torch backend lets its device copy go too."""
    import gc

    from renderer.compose.ops.torch_ops import TorchOps

    ops = TorchOps("cpu")
    matrix = np.array([[1.5, 0.0, 3.0], [0.0, 1.5, 2.0]])
    for i in range(100):  # a long slideshow: one new photo plane after another
        plane = np.full((300, 200), i, np.uint8)
        assert int(ops.warp(plane, matrix, (100, 150))[0, 0]) == i
        ops.next_frame()
        del plane
    ops.next_frame()
    ops.next_frame()  # the static-layer cache keeps one frame's layers only
    gc.collect()
    assert ops.resident_bytes == 0
