"""Media intake facts: sniff magic bytes, open media safely, and report what a file is.

The safe openers here are the only way the server and the renderer open user media:
- Pillow opens only the formats we accept (no EPS/Ghostscript, no PSD) and the pixel count is
  checked from the header, before any decoding (Pillow itself only warns below 179 Mpx).
- PyAV opens with a forced demuxer from our allow-list, `protocol_whitelist=file` and a
  `format_whitelist` of that one demuxer, so FFmpeg never follows a playlist, a concat script or
  a URL, not even from inside a container (AVI/GAB2 sub-demuxers inherit the whitelists).
"""

from __future__ import annotations

import warnings
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.container
from PIL import ExifTags, Image, UnidentifiedImageError
from pydantic import BaseModel, Field

# sniff and MediaError live in renderer/media/sniff.py; they are part of this module's interface too.
from renderer.media.sniff import (
    DEMUXERS,
    Kind,
    MediaError,
    Sniffed,
    check_jpeg_header,
    check_mp4_tables,
    sniff,
)

__all__ = ["DEMUXERS", "MediaError", "MediaFacts", "Sniffed", "open_av", "open_image", "probe", "sniff"]

# Pillow format names we open; nothing else (no EPS, PSD, TIFF, ICO, ...).
IMAGE_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "GIF", "WEBP", "HEIF")
MAX_STREAMS = 16
MAX_DURATION_S = 6 * 3600.0  # longer "media" is either a lie in the header or not ours to edit
MAX_GIF_FRAMES = 2000
MAX_GIF_TOTAL_PIXELS = 2_000_000_000  # all frames together: the renderer decodes every one
_GIF_SEEK_PIXELS = 100_000_000
_MAX_PACKETS_TO_FIRST_FRAME = 2000


class MediaFacts(BaseModel):
    """What a probe found. width/height are as displayed (EXIF orientation / rotation applied)."""

    file_type: Kind
    format: str
    width: int | None = None
    height: int | None = None
    duration: float | None = None  # seconds; None for still images
    fps: float | None = None
    has_audio: bool = False
    warnings: list[str] = Field(default_factory=list)
    # Extra facts the renderer uses.
    rotation: int = 0  # video: degrees counter-clockwise from the display matrix (as PyAV reports)
    exif_orientation: int = 1  # photos: the EXIF orientation tag as stored (1 = upright)
    frame_count: int | None = None  # animated GIFs
    video_codec: str | None = None
    audio_codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    has_alpha: bool = False


def _register_heif() -> None:
    import pillow_heif

    # Idempotent; pillow-heif's own security limits stay on (we never disable them).
    if "HEIF" not in Image.OPEN:
        pillow_heif.register_heif_opener()


def open_image(path: Path, max_pixels: int = 50_000_000) -> Image.Image:
    """Open a photo lazily with our format allow-list; refuse more than `max_pixels` from the header.

    The caller closes the image (use it as a context manager)."""
    _register_heif()
    with open(path, "rb") as fh:
        if fh.read(3) == b"\xff\xd8\xff":
            check_jpeg_header(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path, formats=list(IMAGE_FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError("too_large", f"image has more than {max_pixels} pixels") from exc
    except UnidentifiedImageError as exc:
        raise MediaError("unsupported", "not an image format we accept (jpeg, png, gif, webp, heic)") from exc
    except (OSError, ValueError, SyntaxError, EOFError, RuntimeError) as exc:
        raise MediaError("corrupt", "the image could not be read") from exc
    width, height = img.size
    if width < 1 or height < 1:
        img.close()
        raise MediaError("corrupt", "the image has no pixels")
    if width * height > max_pixels:
        img.close()
        raise MediaError("too_large", f"image is {width}x{height}, more than {max_pixels} pixels")
    return img


# Tags are the uploader's bytes: reading them must never raise UnicodeDecodeError. PyAV 18 decodes
# them as UTF-8 "strict" unless told otherwise; PyAV 19 removed the argument (and `metadata_encoding`)
# and always decodes with "surrogateescape", which never raises. Passing it to 19 is a TypeError.
PYAV_MAJOR = int(av.__version__.split(".")[0])
TAG_DECODING: dict[str, Any] = {"metadata_errors": "replace"} if PYAV_MAJOR < 19 else {}


def open_av(path: Path, fmt: str | None = None) -> av.container.InputContainer:
    """Open audio/video with one allow-listed demuxer and only the file protocol.

    `fmt` is our format name (see DEMUXERS) or a demuxer name; None sniffs the file's head."""
    if fmt is None:
        with open(path, "rb") as fh:
            found = sniff(fh.read(4096))
        if found is None or found.demuxer is None:
            raise MediaError("unsupported", "not an audio or video format we accept")
        fmt = found.format
    demuxer = DEMUXERS.get(fmt, fmt if fmt in DEMUXERS.values() else None)
    if demuxer is None:
        raise MediaError("unsupported", f"format {fmt!r} is not accepted")
    if demuxer == "mov":
        check_mp4_tables(path)  # sample tables that lie cost FFmpeg gigabytes before it fails
    options = {"protocol_whitelist": "file", "format_whitelist": demuxer}
    try:
        # "file:" makes FFmpeg take the path as a path, whatever characters it holds.
        container = av.open(
            f"file:{Path(path).resolve()}",
            mode="r",
            format=demuxer,
            container_options=options,
            **TAG_DECODING,
        )
    except av.FFmpegError as exc:
        raise MediaError("corrupt", "the media file could not be read") from exc
    if not isinstance(container, av.container.InputContainer):  # pragma: no cover - mode="r"
        container.close()
        raise MediaError("unsupported", "not an input container")
    return container


def exif_orientation(img: Image.Image) -> int:
    if img.format in ("PNG", "GIF") and "exif" not in img.info:
        return 1  # Pillow would decode the whole image looking for a late eXIf chunk
    try:
        value = img.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # a broken EXIF block must not make the photo unusable
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _validate_pixels(img: Image.Image, path: Path) -> None:
    """Decode cheaply enough to catch truncated files, without paying a full decode for big photos."""
    if img.format == "JPEG":
        img.draft("RGB", (max(1, img.width // 8), max(1, img.height // 8)))  # DCT scaling: 1/8 work
        img.load()
    elif img.format == "PNG":
        with Image.open(path, formats=["PNG"]) as fresh:
            fresh.verify()  # chunk CRCs over the whole file, no pixel buffer
    elif img.format == "WEBP":
        img.load()
    # HEIF: header parsed at open; the background proxy is the one full decode.


def _probe_image(path: Path, max_pixels: int) -> MediaFacts:
    facts_warnings: list[str] = []
    with open_image(path, max_pixels) as img:
        fmt = (img.format or "").lower()
        width, height = img.size
        orientation = exif_orientation(img)
        mode = img.mode
        has_alpha = mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info)
        frames = int(getattr(img, "n_frames", 1)) if fmt == "gif" else 1
        duration: float | None = None
        if fmt == "gif" and frames > 1:
            if frames > MAX_GIF_FRAMES or frames * width * height > MAX_GIF_TOTAL_PIXELS:
                raise MediaError("too_large", "animated GIF with too many frames for its size")
            first_ms = int(img.info.get("duration", 100) or 100)
            if frames * width * height <= _GIF_SEEK_PIXELS:
                # Each frame's delay needs a seek, and Pillow decodes while seeking: only when cheap.
                total_ms = 0
                for index in range(frames):
                    img.seek(index)
                    total_ms += int(img.info.get("duration", 100) or 100)
            else:
                total_ms = first_ms * frames
                facts_warnings.append("GIF length estimated from its first frame")
            duration = round(total_ms / 1000.0, 3)
            facts_warnings.append("animated GIF")
        else:
            try:
                _validate_pixels(img, path)
            except (OSError, ValueError, SyntaxError, EOFError, RuntimeError) as exc:
                raise MediaError("corrupt", "the image is truncated or damaged") from exc
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    if mode == "CMYK":
        facts_warnings.append("CMYK colour: converted to sRGB for output")
    if mode in ("I;16", "I;16B", "I;16L", "I", "RGB;16") or mode.startswith("I;16"):
        facts_warnings.append("16-bit image: reduced to 8 bits for output")
    if min(width, height) < 64:
        facts_warnings.append(f"very small image ({width}x{height}): it will look soft when enlarged")
    if max(width, height) >= 3 * min(width, height):
        facts_warnings.append("panorama: a cover fit will crop most of it")
    fmt_name = {"jpeg": "jpeg", "heif": "heif"}.get(fmt, fmt)
    return MediaFacts(
        file_type="image",
        format=fmt_name,
        width=width,
        height=height,
        duration=duration,
        fps=round(frames / duration, 3) if duration else None,
        exif_orientation=orientation,
        frame_count=frames if fmt == "gif" else None,
        has_alpha=has_alpha,
        warnings=facts_warnings,
    )


def _rate(stream: av.video.stream.VideoStream) -> float | None:
    # Fractions or None in PyAV 18, AVRational (0/1 when unknown) in 19: compare as Fractions.
    found = stream.average_rate or stream.guessed_rate or stream.base_rate
    rate = Fraction(found.numerator, found.denominator) if found else None
    if not rate or rate <= 0 or rate < Fraction(1, 100):  # frames "48 minutes long" are no frame rate
        return None
    return round(float(rate), 3)


def _duration(container: av.container.InputContainer, stream: av.stream.Stream | None) -> float | None:
    if stream is not None and stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration and container.duration > 0:
        return container.duration / 1_000_000
    return None


def _first_frame(container: av.container.InputContainer, stream: av.stream.Stream) -> Any:
    packets = 0
    try:
        for packet in container.demux(stream):
            packets += 1
            for frame in packet.decode():
                return frame
            if packets >= _MAX_PACKETS_TO_FIRST_FRAME:
                break
    except av.FFmpegError as exc:
        raise MediaError("corrupt", "the media could not be decoded") from exc
    raise MediaError("corrupt", "no decodable frame in the media")


def _probe_av(path: Path, sniffed: Sniffed, max_pixels: int) -> MediaFacts:
    facts_warnings: list[str] = []
    with open_av(path, sniffed.format) as container:
        if len(container.streams) > MAX_STREAMS:
            raise MediaError("unsupported", f"more than {MAX_STREAMS} streams")
        video = next(
            (s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic),
            None,
        )
        audio = next(iter(container.streams.audio), None)
        if video is None and audio is None:
            raise MediaError("unsupported", "no audio or video stream")
        if any(s is not None and s.codec_context is None for s in (video, audio)):
            raise MediaError("unsupported", "the media uses a codec we cannot decode")  # no decoder in FFmpeg
        facts = MediaFacts(file_type="video" if video is not None else "audio", format=sniffed.format)
        if audio is not None:
            facts.has_audio = True
            facts.audio_codec = audio.codec_context.name
            facts.sample_rate = audio.codec_context.sample_rate or None
            facts.channels = audio.codec_context.channels or None
        if video is not None:
            width, height = video.codec_context.width, video.codec_context.height
            if width < 1 or height < 1:
                raise MediaError("corrupt", "the video has no frame size")
            if width * height > max_pixels:
                raise MediaError("too_large", f"video is {width}x{height}, more than {max_pixels} pixels")
            video.codec_context.options = {"max_pixels": str(max_pixels)}
            facts.video_codec = video.codec_context.name
            facts.fps = _rate(video)
            facts.duration = _duration(container, video)
            frame = _first_frame(container, video)
            rotation = round(getattr(frame, "rotation", 0) or 0) % 360
            facts.rotation = rotation
            if rotation in (90, 270):
                width, height = height, width
            facts.width, facts.height = width, height
            if facts.fps and facts.fps > 240:
                facts.warnings.append(f"unusual frame rate {facts.fps} fps")
        else:
            assert audio is not None
            facts.duration = _duration(container, audio)
            _first_frame(container, audio)
    if facts.duration is None:
        facts_warnings.append("unknown duration")
    elif facts.duration > MAX_DURATION_S:
        raise MediaError("too_large", f"media longer than {int(MAX_DURATION_S // 3600)} hours")
    elif facts.duration <= 0:
        raise MediaError("corrupt", "the media has no duration")
    if facts.duration is not None:
        facts.duration = round(facts.duration, 3)
    facts.warnings.extend(facts_warnings)
    return facts


def probe(path: Path, max_pixels: int = 50_000_000) -> MediaFacts:
    """Sniff, open safely and describe one file; MediaError for anything we will not take."""
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(4096)
    sniffed = sniff(head)
    if sniffed is None:
        raise MediaError("unsupported", "not a format we accept (photos, video clips or audio)")
    if sniffed.kind == "image":
        try:
            return _probe_image(path, max_pixels)
        except Image.DecompressionBombError as exc:
            raise MediaError("too_large", f"image has more than {max_pixels} pixels") from exc
        except MediaError:
            raise
        except Exception as exc:
            # Damaged files make Pillow's plugins raise more than OSError (IndexError, struct.error,
            # ... from a GIF's frames read while counted): all of them mean "not a usable photo".
            raise MediaError("corrupt", "the image is truncated or damaged") from exc
    try:
        return _probe_av(path, sniffed, max_pixels)
    except av.FFmpegError as exc:
        raise MediaError("corrupt", "the media could not be read") from exc
