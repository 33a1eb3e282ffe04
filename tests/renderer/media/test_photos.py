"""Photo decoding: every upload format lands as the upright sRGB picture a viewer would see."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageCms

from renderer.media.decode_image import load_photo
from renderer.planes import Planes
from tests.renderer.render_check import media_factory


def _rgb(planes: Planes) -> np.ndarray:
    """Back to RGB (BT.709 limited) for checking; chroma upsampled by repetition."""
    y = planes.y.astype(np.float32) - 16
    u = np.repeat(np.repeat(planes.u, 2, 0), 2, 1).astype(np.float32) - 128
    v = np.repeat(np.repeat(planes.v, 2, 0), 2, 1).astype(np.float32) - 128
    r = 1.164 * y + 1.793 * v
    g = 1.164 * y - 0.213 * u - 0.533 * v
    b = 1.164 * y + 2.112 * u
    return np.clip(np.stack([r, g, b], -1), 0, 255).astype(int)


def _load(path: Path, scale: float = 1.0, bg: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    planes, _ = load_photo(path, lambda w, h: scale, bg)
    return _rgb(planes)


def _close(pixel: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 30) -> bool:
    return bool(np.abs(pixel - np.array(rgb)).max() <= tolerance)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    rgb = _load(media_factory.jpeg_exif_rotated(tmp_path))
    assert rgb.shape[:2] == (400, 300)
    assert _close(rgb[20, 150], media_factory.RED) and _close(rgb[380, 150], media_factory.GREEN)


def test_heic_cmyk_and_webp_decode_to_the_reference(tmp_path: Path) -> None:
    for path in (
        media_factory.heic_photo(tmp_path),
        media_factory.jpeg_cmyk(tmp_path),
        media_factory.webp_photo(tmp_path),
    ):
        rgb = _load(path)
        h = rgb.shape[0]
        assert _close(rgb[h // 10, 20], media_factory.RED, 40), path.name
        assert _close(rgb[h // 2, 20], media_factory.BLUE, 40), path.name


def test_sixteen_bit_greyscale_keeps_its_ramp(tmp_path: Path) -> None:
    rgb = _load(media_factory.png_16bit(tmp_path))
    assert rgb[50, 2].max() < 20 and rgb[50, -3].min() > 235
    assert abs(int(rgb[50, 128, 0]) - 128) < 20


def test_transparency_is_composited_over_the_background(tmp_path: Path) -> None:
    rgb = _load(media_factory.png_rgba(tmp_path), bg=(0, 255, 0))
    assert _close(rgb[5, 5], (0, 255, 0)) and _close(rgb[120, 160], (255, 140, 0))


def test_animated_gif_uses_its_first_frame(tmp_path: Path) -> None:
    rgb = _load(media_factory.gif_animated(tmp_path))
    assert _close(rgb[45, 60], media_factory.RED, 40)


def test_a_photo_with_an_icc_profile_goes_through_colour_management_intact(tmp_path: Path) -> None:
    plain = tmp_path / "plain.png"
    tagged = tmp_path / "tagged.jpg"
    img = Image.new("RGB", (64, 64), (200, 80, 40))
    img.save(plain)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    img.save(tagged, quality=95, icc_profile=srgb.tobytes())
    assert _close(_load(tagged)[32, 32], (200, 80, 40), 12)


def test_photos_are_decoded_at_the_size_the_plan_needs(tmp_path: Path) -> None:
    planes, factor = load_photo(media_factory.jpeg_12mp(tmp_path), lambda w, h: 0.25, (0, 0, 0))
    assert (planes.width, planes.height) == (1000, 750)
    assert factor == (0.25, 0.25)


def test_plain_jpegs_decode_the_same_through_opencv_as_through_pillow(tmp_path: Path) -> None:
    """Plain JPEGs take OpenCV's decoder (faster); the picture, orientation and DCT-scaled size
    are Pillow's (the path every other photo takes) within JPEG rounding."""
    from renderer.media.decode_image import _to_rgb
    from renderer.planes import rgb_to_planes

    for path, scale in (
        (media_factory.jpeg_exif_rotated(tmp_path), 0.5),
        (media_factory.jpeg_12mp(tmp_path), 0.3),
    ):
        planes, _ = load_photo(path, lambda w, h, s=scale: s, (0, 0, 0))
        with Image.open(path) as image:
            reference = rgb_to_planes(_to_rgb(image, (planes.width, planes.height), (0, 0, 0)))
        for got, want in zip(planes.all(), reference.all(), strict=True):
            assert got.shape == want.shape
            assert np.abs(got.astype(int) - want.astype(int)).mean() < 1.0
            assert np.abs(got.astype(int) - want.astype(int)).max() <= 12


def _stripes_after_decode(tmp_path: Path, period: float) -> tuple[float, float]:
    """Vertical stripes of `period` source px in a 2000x1000 PNG, decoded 1.4x smaller (the
    shrink a 12 MP photo gets on a 1080x1920 canvas). Returns the luma's spread (std) after our
    decode and after OpenCV's INTER_AREA of the same picture: the reference for "no moire"."""
    import cv2

    x = np.arange(2000, dtype=np.float32)
    row = (128 + 100 * np.sin(2 * np.pi * x / period)).astype(np.uint8)
    grey = np.repeat(row[None, :], 1000, 0)
    path = tmp_path / f"stripes_{period}.png"
    Image.fromarray(grey, "L").convert("RGB").save(path)
    planes, _ = load_photo(path, lambda w, h: 1 / 1.4, (0, 0, 0))
    area = cv2.resize(grey, (planes.width, planes.height), interpolation=cv2.INTER_AREA)
    inner = (slice(50, -50), slice(50, -50))
    return float(planes.y[inner].astype(np.float32).std()), float(area[inner].astype(np.float32).std())


def test_shrinking_a_photo_leaves_no_moire_and_keeps_its_detail(tmp_path: Path) -> None:
    """Stripes finer than the shrunk picture can hold (2.5 px -> 1.8 px, past its Nyquist limit)
    must fade, not turn into coarse false stripes; stripes it can hold (10 px) must stay. Both
    as well as INTER_AREA does (the cheaper prefilter + bilinear path replaced it)."""
    aliased, aliased_area = _stripes_after_decode(tmp_path, 2.5)
    kept, kept_area = _stripes_after_decode(tmp_path, 10.0)
    # luma is limited range (x 219/255); compare against the reference on the same scale
    assert aliased <= aliased_area * 219 / 255 * 1.1
    assert kept >= kept_area * 219 / 255 * 0.9
