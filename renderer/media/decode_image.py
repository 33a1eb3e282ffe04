"""Photos -> Planes, decoded once at the size the plan needs.

Handles EXIF orientation, HEIC (pillow-heif), ICC profiles (converted to sRGB), CMYK, 16-bit,
alpha (composited over the draft background), and animated images (first frame). JPEGs use
draft mode so a 12 MP photo headed for a 1080p canvas is decoded at a half or a quarter of its
size by libjpeg itself.

Plain JPEGs (8-bit RGB or grey, no colour profile: nothing for Pillow's colour management to do)
are decoded by OpenCV straight into a numpy array, with the same libjpeg DCT scaling and EXIF
orientation: Pillow's decode costs as much again in copying its image into numpy (a 12 MP photo:
about 150 ms with Pillow, 80 ms with OpenCV, on one core).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pillow_heif
from PIL import Image, ImageCms, ImageOps

from renderer.errors import RenderError
from renderer.media.probe import MediaError, open_image
from renderer.planes import Planes, rgb_to_planes

pillow_heif.register_heif_opener()

MAX_PIXELS = 100_000_000
PHOTO_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "HEIF")  # what uploads accept
_ORIENTATION_TAG = 0x0112
_SWAPS_AXES = {5, 6, 7, 8}
_SRGB = ImageCms.createProfile("sRGB")


def _open(path: Path) -> Image.Image:
    """The upload checks' opener: formats allow-list and pixel cap, as a RenderError."""
    try:
        return open_image(path, MAX_PIXELS)
    except MediaError as exc:
        raise RenderError("bad_media", f"{path.name}: {exc.message}") from exc


def is_photo(path: Path) -> bool:
    """True when Pillow recognises the file as one of our photo formats (header only)."""
    try:
        with Image.open(path, formats=PHOTO_FORMATS):
            return True
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def oriented_size(path: Path) -> tuple[int, int]:
    with _open(path) as image:
        return _oriented_size(image)


def _oriented_size(image: Image.Image) -> tuple[int, int]:
    orientation = image.getexif().get(_ORIENTATION_TAG, 1)
    if orientation in _SWAPS_AXES:
        return image.height, image.width
    return image.width, image.height


def load_photo(
    path: Path,
    scale_for: Callable[[int, int], float],
    bg: tuple[int, int, int],
) -> tuple[Planes, tuple[float, float]]:
    """Decode a photo; `scale_for(w, h)` says how many output pixels one source pixel needs (from
    the oriented size). Returns the planes and their (x, y) scale against the oriented size."""
    try:
        with _open(path) as image:
            width, height = _oriented_size(image)
            factor = min(1.0, scale_for(width, height))
            # even sizes for yuv420p
            target = (max(2, math.ceil(width * factor / 2) * 2), max(2, math.ceil(height * factor / 2) * 2))
            bgr = _plain_jpeg(path, image, target)
            rgb = _to_rgb(image, target, bg) if bgr is None else None
    except RenderError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise RenderError("bad_media", f"{path.name}: cannot decode photo ({exc})") from exc
    planes = rgb_to_planes(rgb) if rgb is not None else rgb_to_planes(bgr, order="bgr")  # type: ignore[arg-type]
    return planes, (target[0] / width, target[1] / height)


_REDUCED = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}


def _plain_jpeg(path: Path, image: Image.Image, target: tuple[int, int]) -> np.ndarray | None:
    """BGR pixels at `target` size through OpenCV, or None when Pillow's path is needed."""
    if image.format != "JPEG" or image.mode not in ("RGB", "L") or image.info.get("icc_profile"):
        return None
    stored = image.size  # before orientation: libjpeg scales the stored axes
    wide = image.getexif().get(_ORIENTATION_TAG, 1) in _SWAPS_AXES
    need = (target[1], target[0]) if wide else target
    # the largest DCT reduction that still leaves at least the target size (libjpeg rounds up)
    reduce = max(r for r in _REDUCED if all(math.ceil(s / r) >= n for s, n in zip(stored, need, strict=True)))
    bgr = cv2.imdecode(np.fromfile(path, np.uint8), _REDUCED[reduce])  # applies EXIF orientation
    if bgr is None or bgr.ndim != 3:
        return None
    return fit_to(bgr, target)


def _to_rgb(image: Image.Image, target: tuple[int, int], bg: tuple[int, int, int]) -> np.ndarray:
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    if image.format == "JPEG":
        # draft() wants the size in stored (pre-orientation) axes
        orientation = image.getexif().get(_ORIENTATION_TAG, 1)
        stored = (target[1], target[0]) if orientation in _SWAPS_AXES else target
        image.draft("RGB" if image.mode != "CMYK" else "CMYK", stored)
    icc = image.info.get("icc_profile")
    image = ImageOps.exif_transpose(image) or image
    image = _eight_bit(image)
    image = _to_srgb(image, icc)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (*bg, 255))
        image = Image.alpha_composite(base, rgba)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return fit_to(np.asarray(image), target)


def fit_to(pixels: np.ndarray, target: tuple[int, int]) -> np.ndarray:
    """`pixels` resized to `target` (w, h) without aliasing.

    Shrinks by less than 2x (what is left after libjpeg's DCT scaling: a 12 MP photo headed for
    1080x1920 shrinks 1.4x) are a Gaussian prefilter of sigma 0.5 * sqrt(s^2 - 1) (taking the
    picture's 0.5 px blur to the s-times larger pixel's) and a bilinear resize: 28% less decode
    CPU per 12 MP photo than OpenCV's INTER_AREA, whose non-integer path is slow, with as little
    moire and as much detail (tests/renderer/media/test_photos.py). Larger shrinks keep INTER_AREA."""
    height, width = pixels.shape[:2]
    if (width, height) == target:
        return pixels
    shrink = max(width / target[0], height / target[1])
    if shrink <= 1.0:
        return cv2.resize(pixels, target, interpolation=cv2.INTER_LINEAR)
    if shrink >= 2.0:
        return cv2.resize(pixels, target, interpolation=cv2.INTER_AREA)
    sigma = 0.5 * math.sqrt(shrink * shrink - 1.0)
    return cv2.resize(cv2.GaussianBlur(pixels, (0, 0), sigma), target, interpolation=cv2.INTER_LINEAR)


def _eight_bit(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        values = np.asarray(image, dtype=np.float32)
        peak = 65535.0 if image.mode.startswith("I;16") or float(np.max(values)) > 255 else 255.0
        return Image.fromarray(np.clip(values * (255.0 / peak) + 0.5, 0, 255).astype(np.uint8), "L")
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float32)
        return Image.fromarray(np.clip(values * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    return image


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    if not icc:
        return image.convert("RGB") if image.mode == "CMYK" else image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        alpha = image.getchannel("A") if image.mode == "RGBA" else None
        mode_in = image.mode if image.mode in ("RGB", "CMYK", "L") else "RGB"
        converted = ImageCms.profileToProfile(
            image.convert(mode_in) if image.mode != mode_in else image, source, _SRGB, outputMode="RGB"
        )
        if converted is None:
            return image
        if alpha is not None:
            converted.putalpha(alpha)
        return converted
    except (ImageCms.PyCMSError, OSError, ValueError):
        # a broken profile is not worth failing a render for: fall back to the raw values
        return image.convert("RGB") if image.mode == "CMYK" else image
