"""Per-media facts for `state.video_analyses` (api-contract.md): orientation and dominant colours.

Worked out once, at upload, from a small picture of the media: a photo decoded at reduced size
(JPEG draft mode; a HEIC through the proxy the upload already made), a clip's frame from its
middle. Faces and a focus point are listed "when known": nothing here guesses them. This is a
courtesy on top of an accepted upload: a fact that cannot be read is left out, never a refusal
(the probe has already judged the file).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # decoding libraries load on the first upload, not at server start (cold start)
    from PIL import Image

    from renderer.audio.beats import BeatGrid
    from renderer.media.probe import MediaFacts

log = logging.getLogger("nemo.analysis")

SAMPLE_SIDE = 64  # the picture colours are counted on: plenty for "mostly orange, some teal"
MAX_COLORS = 3
MIN_COLOR_SHARE = 0.05  # a colour on less of the picture than this is not "dominant"
_PALETTE_SIZE = 8
_TWIN_DISTANCE = 24  # per channel, out of 255
_MAX_PACKETS = 600  # read after the seek; a clip that decodes nothing in these gets no colours
_MAX_FRAMES = 48  # decoded after the seek's keyframe, on the way to the middle


def analyse(
    path: Path,
    facts: MediaFacts,
    *,
    max_pixels: int,
    picture: Path | None = None,
    beats: BeatGrid | None = None,
) -> dict[str, Any]:
    """The `video_analyses` entry of one upload. `picture`: a decoded stand-in for a photo whose
    own decode is costly (the HEIC's proxy); `beats`: a song's grid, when the upload found one."""
    entry: dict[str, Any] = {"file_type": facts.file_type}
    if facts.file_type == "audio":
        if beats is not None:
            entry.update(bpm=beats.bpm, beat_offset_ms=beats.beat_offset_ms)
        return entry
    if facts.width and facts.height:
        entry["orientation"] = orientation(facts.width, facts.height)
    try:
        if facts.file_type == "image":
            pixels = _photo_pixels(picture or path, max_pixels)
        else:
            pixels = _frame_pixels(path, facts)
    except Exception:  # any decoder's failure: the upload stands, the colours stay unknown
        log.warning("no colour analysis for %s", path.name, exc_info=True)
        return entry
    colors = dominant_colors(pixels)
    if colors:
        entry["dominant_colors"] = colors
    return entry


def orientation(width: int, height: int) -> str:
    if width == height:
        return "square"
    return "portrait" if height > width else "landscape"


def dominant_colors(pixels: np.ndarray) -> list[str]:
    """`#rrggbb` of the colours covering most of `pixels` (N x 3, uint8), most covered first."""
    from PIL import Image

    if len(pixels) == 0:
        return []
    strip = Image.fromarray(np.ascontiguousarray(pixels.reshape(1, -1, 3), dtype=np.uint8), "RGB")
    quantized = strip.quantize(colors=_PALETTE_SIZE, method=Image.Quantize.MEDIANCUT)
    palette = quantized.getpalette() or []
    # Median cut splits one flat colour into near twins; those count as one colour.
    groups: list[tuple[tuple[int, int, int], int]] = []
    for count, index in sorted(quantized.getcolors(_PALETTE_SIZE) or [], reverse=True):
        assert isinstance(index, int)  # a palette image's colours are palette indices
        rgb = (palette[3 * index], palette[3 * index + 1], palette[3 * index + 2])
        twin = next((i for i, (seen, _) in enumerate(groups) if _close(seen, rgb)), None)
        if twin is None:
            groups.append((rgb, count))
        else:
            groups[twin] = (groups[twin][0], groups[twin][1] + count)
    groups.sort(key=lambda group: -group[1])
    return [
        "#{:02x}{:02x}{:02x}".format(*rgb)
        for rgb, count in groups[:MAX_COLORS]
        if count / len(pixels) >= MIN_COLOR_SHARE
    ]


def _close(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    return max(abs(x - y) for x, y in zip(a, b, strict=True)) <= _TWIN_DISTANCE


def _sample(img: Image.Image) -> np.ndarray:
    """The opaque pixels of a small copy of `img`, N x 3 (transparent areas have no colour to show)."""
    if img.mode.startswith("I") or img.mode == "F":  # 16/32-bit: Pillow cannot shrink these as they are
        from server.photo_proxy import to_srgb

        img = to_srgb(img, None)
    img.thumbnail((SAMPLE_SIDE, SAMPLE_SIDE))
    rgba = np.asarray(img.convert("RGBA"))
    return rgba[rgba[..., 3] >= 128][:, :3]


def _photo_pixels(path: Path, max_pixels: int) -> np.ndarray:
    from renderer.media.probe import open_image

    with open_image(path, max_pixels) as img:  # the upload checks' allow-list and pixel limit
        if img.format == "JPEG":
            img.draft("RGB", (SAMPLE_SIDE * 2, SAMPLE_SIDE * 2))  # decoded at 1/2..1/8 size
        return _sample(img)


def _frame_pixels(path: Path, facts: MediaFacts) -> np.ndarray:
    """A frame from about the middle of the clip (its first is often a fade from black), at sample
    size. Decoding stops after _MAX_FRAMES past the keyframe the seek lands on: that frame will do."""
    import av

    from renderer.media.probe import open_av

    with open_av(path, facts.format) as container:
        stream = next(
            s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic
        )
        middle = (facts.duration or 0.0) / 2
        if middle and stream.time_base:
            start = stream.start_time or 0
            container.seek(int(middle / stream.time_base) + start, stream=stream)  # keyframe before it
        chosen = None
        decoded = 0
        for n, packet in enumerate(container.demux(stream)):
            for frame in packet.decode():
                chosen, decoded = frame, decoded + 1
                if (frame.time or 0.0) >= middle or decoded >= _MAX_FRAMES:
                    return _frame_sample(chosen)
            if n >= _MAX_PACKETS:
                break
        if chosen is not None:  # a clip that ends before its stated middle: its last frame
            return _frame_sample(chosen)
    raise ValueError("no decodable frame in the clip")


def _frame_sample(frame: Any) -> np.ndarray:
    scale = SAMPLE_SIDE / max(frame.width, frame.height)
    width, height = max(1, round(frame.width * scale)), max(1, round(frame.height * scale))
    return np.asarray(frame.reformat(width=width, height=height, format="rgb24").to_ndarray()).reshape(-1, 3)
