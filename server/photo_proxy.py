"""Normalised photo proxies: upright, sRGB, 8-bit, long side at most 3840 (2x a 1080p canvas).

Made once per uploaded photo (content-addressed by the source's hash), so renders never decode a
12 MP HEIC twice. JPEG q90 for opaque photos; PNG when the photo has transparency (alpha must
survive to be composited over the draft background). No EXIF, GPS or ICC leaves with the proxy.
Animated GIFs get none: the renderer reads their frames.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageCms, ImageOps

from renderer.media.probe import MediaError, open_image

log = logging.getLogger("nemo.proxy")

PROXY_LONG_SIDE = 3840
_SRGB = ImageCms.createProfile("sRGB")


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)


def _to_8bit(img: Image.Image) -> Image.Image:
    """16-bit and 32-bit integer greyscale -> L, scaled (Pillow's own convert would clip)."""
    arr = np.asarray(img)
    peak = int(arr.max()) if arr.size else 0
    shift = 8 if peak > 255 else 0
    return Image.fromarray((arr.astype(np.uint32) >> shift).clip(0, 255).astype(np.uint8))


def to_srgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    """RGB (or RGBA when the photo has transparency) in sRGB."""
    if img.mode.startswith("I") or img.mode == "F":
        img = _to_8bit(img) if img.mode != "F" else img.convert("L")
    alpha = _has_alpha(img)
    target = "RGBA" if alpha else "RGB"
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if img.mode not in ("RGB", "RGBA", "CMYK", "L"):
                img = img.convert(target)
            if img.mode == "RGBA" or (img.mode == "L" and alpha):
                img = img.convert("RGBA")
                rgb = ImageCms.profileToProfile(img.convert("RGB"), source, _SRGB, outputMode="RGB")
                assert rgb is not None
                rgb.putalpha(img.getchannel("A"))
                return rgb
            converted = ImageCms.profileToProfile(img, source, _SRGB, outputMode="RGB")
            assert converted is not None
            return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            log.info("ignoring an unusable ICC profile")
    return img.convert(target)


def make_proxy(
    source: Path, dest: Path, *, long_side: int = PROXY_LONG_SIDE, max_pixels: int = 50_000_000
) -> Literal["jpg", "png"] | None:
    """Write the proxy of `source` to `dest`; its extension, or None when none is made (animation).
    MediaError when the photo cannot be decoded."""
    try:
        with open_image(source, max_pixels) as img:
            if img.format == "GIF" and getattr(img, "n_frames", 1) > 1:
                return None
            if img.format == "JPEG" and max(img.size) > long_side:
                scale = long_side / max(img.size)
                img.draft(img.mode, (max(1, round(img.width * scale)), max(1, round(img.height * scale))))
            img.load()
            icc = img.info.get("icc_profile")
            upright = ImageOps.exif_transpose(img)
    except MediaError:
        raise
    except RuntimeError as exc:  # pillow-heif: libheif's errors, its security limits among them
        if "security limit" in str(exc).lower():
            raise MediaError("too_large", "the photo declares a size beyond the decoder's limits") from exc
        raise MediaError("corrupt", "the photo could not be decoded") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise MediaError("corrupt", "the photo could not be decoded") from exc
    out = to_srgb(upright, icc)
    if max(out.size) > long_side:
        out.thumbnail((long_side, long_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
    if out.mode == "RGBA":
        out.save(dest, "PNG", compress_level=3)
        return "png"
    out.save(dest, "JPEG", quality=90, subsampling="4:2:0", optimize=False)
    return "jpg"
