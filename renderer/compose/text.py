"""Titles and captions: layout in the safe area, per-grapheme font fallback (Latin, CJK, colour
emoji), outline, shadow and an optional background box, rasterised once per segment (and once per
typewriter step), then alpha-blended onto frames by composite.draw_text.

Fonts (renderer/fonts, licences beside them): DejaVu Sans Bold, Noto Sans CJK SC Bold, Noto Color
Emoji. The emoji font holds colour bitmaps at one size (109 px): emoji runs are drawn at that size
and scaled. Text is cut into graphemes (an emoji ZWJ family, a flag, a letter with its accents is
one), each goes to the first font that has it, so a title can mix scripts freely and the
typewriter never shows half an emoji.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from renderer.plan import TextItem
from renderer.planes import Planes, rgb_to_planes

FONT_DIR = Path(__file__).resolve().parent.parent / "fonts"
FONT_FILES = ("DejaVuSans-Bold.ttf", "NotoSansCJKsc-Bold.otf", "NotoColorEmoji.ttf")  # per grapheme
LATIN, CJK, EMOJI = 0, 1, 2
EMOJI_PPEM = 109  # the one size Noto Color Emoji's bitmaps exist at
SAFE_X = 0.07  # side margins, as a fraction of the width
SAFE_TOP, SAFE_BOTTOM = 0.10, 0.14  # landscape and square canvases
SAFE_TOP_VERTICAL, SAFE_BOTTOM_VERTICAL = 0.12, 0.20  # 9:16: clear of the apps' top bar and captions/buttons
MIN_SIZE = 8
LINE_HEIGHT = 1.25
FADE_SECONDS = 0.5
TYPE_SECONDS_PER_CHAR = 0.06
MISSING = "\U0010fffd"  # a private-use code point no bundled font has: what .notdef looks like

_EXTENDERS = {0x200D, 0x20E3, *range(0xFE00, 0xFE10), *range(0x1F3FB, 0x1F400), *range(0xE0020, 0xE0080)}
_EMOJI_MARKS = {0x200D, 0x20E3, 0xFE0F, *range(0x1F3FB, 0x1F400), *range(0xE0020, 0xE0080)}


def _is_regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def graphemes(text: str) -> list[str]:
    """User-perceived characters: a base with its combining marks, variation selectors, skin
    tones, ZWJ-joined emoji, keycaps, tag sequences, and regional-indicator pairs (flags)."""
    out: list[str] = []
    for char in text:
        if out and (
            ord(char) in _EXTENDERS
            or unicodedata.category(char) in ("Mn", "Me", "Mc")
            or out[-1].endswith("\u200d")
            or (_is_regional(char) and len(out[-1]) == 1 and _is_regional(out[-1]))
        ):
            out[-1] += char
        else:
            out.append(char)
    return out


@lru_cache(maxsize=32)
def _font(index: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / FONT_FILES[index]), EMOJI_PPEM if index == EMOJI else size)


@lru_cache(maxsize=4096)
def has_glyph(index: int, cluster: str) -> bool:
    """True when font `index` draws `cluster` as something other than its .notdef glyph."""
    font = _font(index, 32)
    if index == EMOJI:  # a colour bitmap font draws nothing at all for what it lacks
        image = Image.new("RGBA", (160, 160))
        ImageDraw.Draw(image).text((0, 0), cluster, font=font, embedded_color=True)
        return image.getbbox() is not None
    probe, missing = font.getmask(cluster[0]), font.getmask(MISSING)
    return probe.size != missing.size or bytes(probe) != bytes(missing)


def _emoji_style(cluster: str) -> bool:
    """Shown as a colour emoji: emoji marks (VS16, ZWJ, skin tone, keycap), flags, or a wide symbol."""
    first = cluster[0]
    return (
        any(ord(c) in _EMOJI_MARKS for c in cluster)
        or _is_regional(first)
        or (unicodedata.category(first) == "So" and unicodedata.east_asian_width(first) == "W")
    )


@lru_cache(maxsize=4096)
def font_for(cluster: str) -> int:
    first = cluster[0]
    if first.isspace() or unicodedata.category(first).startswith("C"):
        return LATIN
    if "\ufe0e" not in cluster and _emoji_style(cluster) and has_glyph(EMOJI, cluster):
        return EMOJI
    for index in (LATIN, CJK, EMOJI):
        if has_glyph(index, cluster):
            return index
    return LATIN  # nothing has it: DejaVu's .notdef box, rather than nothing at all


def _runs(clusters: list[str]) -> list[tuple[int, list[str]]]:
    runs: list[tuple[int, list[str]]] = []
    for cluster in clusters:
        index = font_for(cluster)
        if runs and runs[-1][0] == index:
            runs[-1][1].append(cluster)
        else:
            runs.append((index, [cluster]))
    return runs


def _run_width(index: int, run: str, size: int) -> float:
    if index == EMOJI:
        return _font(EMOJI, size).getlength(run) * size / EMOJI_PPEM
    return _font(index, size).getlength(run)


def _width(clusters: list[str], size: int) -> float:
    return sum(_run_width(i, "".join(run), size) for i, run in _runs(clusters))


def _is_wide(cluster: str) -> bool:
    return unicodedata.east_asian_width(cluster[0]) in ("W", "F")


def _tokens(paragraph: str) -> list[list[str]]:
    """Words with their trailing space; wide (CJK, emoji) graphemes may break anywhere, so each is
    a token of its own, and a line never starts with closing punctuation."""
    tokens: list[list[str]] = []
    for cluster in graphemes(paragraph):
        closing = unicodedata.category(cluster[0]) in ("Po", "Pe", "Pf") and not cluster.isspace()
        joins = bool(tokens) and (
            (not _is_wide(cluster) and not tokens[-1][-1].isspace() and not _is_wide(tokens[-1][-1]))
            or (closing and not tokens[-1][-1].isspace())
            or (cluster.isspace() and not tokens[-1][-1].isspace())
        )
        if joins:
            tokens[-1].append(cluster)
        else:
            tokens.append([cluster])
    return tokens


def _strip(clusters: list[str]) -> list[str]:
    start, end = 0, len(clusters)
    while start < end and clusters[start].isspace():
        start += 1
    while end > start and clusters[end - 1].isspace():
        end -= 1
    return clusters[start:end]


def wrap_clusters(text: str, size: int, max_width: float) -> list[list[str]]:
    lines: list[list[str]] = []
    for paragraph in text.split("\n"):
        line: list[str] = []
        for token in _tokens(paragraph):
            if line and _width(_strip(line + token), size) > max_width:
                lines.append(_strip(line))
                line = token[next((i for i, c in enumerate(token) if not c.isspace()), len(token)) :]
            else:
                line = line + token
            while len(line) > 1 and _width(_strip(line), size) > max_width:
                cut = len(line) - 1  # a word wider than the line: break it by graphemes
                while cut > 1 and _width(line[:cut], size) > max_width:
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(_strip(line))
    return lines


def wrap(text: str, size: int, max_width: float) -> list[str]:
    return ["".join(line) for line in wrap_clusters(text, size, max_width)]


def _longest_word(text: str, size: int) -> float:
    return max((_width(_strip(t), size) for p in text.split("\n") for t in _tokens(p)), default=0.0)


@dataclass(frozen=True)
class TextPose:
    opacity: float = 1.0
    dy: float = 0.0  # pixels, positive moves down
    reveal: float = 1.0  # fraction of graphemes shown


AnimFn = Callable[[float, float, float], TextPose]  # (t seconds, duration seconds, size px)


def _fade_window(t: float, duration: float) -> float:
    fade = min(FADE_SECONDS, duration / 3)
    return max(0.0, min(1.0, t / fade if fade else 1.0, (duration - t) / fade if fade else 1.0))


def _slide_up(t: float, duration: float, size: float) -> TextPose:
    rise = min(FADE_SECONDS, duration / 3)
    u = min(1.0, t / rise) if rise else 1.0
    return TextPose(opacity=_fade_window(t, duration), dy=size * 0.6 * (1 - u) ** 2)


def _typewriter(t: float, duration: float, size: float) -> TextPose:
    return TextPose(opacity=1.0, reveal=t / max(1e-6, min(duration * 0.6, TYPE_SECONDS_PER_CHAR * 40)))


TEXT_ANIM_REGISTRY: dict[str, AnimFn] = {
    "none": lambda t, d, s: TextPose(),
    "fade": lambda t, d, s: TextPose(opacity=_fade_window(t, d)),
    "slide_up": _slide_up,
    "typewriter": _typewriter,
}


@dataclass(frozen=True)
class SafeArea:
    left: float
    top: float
    right: float
    bottom: float


def safe_area(width: int, height: int) -> SafeArea:
    """Where text may go: on vertical (9:16-like) canvases, clear of the top ~12% and the
    bottom ~20% that phone apps cover with their bars, captions and buttons."""
    top, bottom = (
        (SAFE_TOP_VERTICAL, SAFE_BOTTOM_VERTICAL) if height >= 1.5 * width else (SAFE_TOP, SAFE_BOTTOM)
    )
    return SafeArea(width * SAFE_X, height * top, width * (1 - SAFE_X), height * (1 - bottom))


PlaceFn = Callable[[int, int, int, int], tuple[int, int, str]]  # block w, h, canvas w, h -> x, y, align


def _even(value: float, down: bool) -> int:
    """An even pixel (the chroma planes are half size), rounded towards the inside of the area."""
    return math.floor(value / 2) * 2 if down else math.ceil(value / 2) * 2


def _place(horizontal: str, vertical: str) -> PlaceFn:
    def run(bw: int, bh: int, width: int, height: int) -> tuple[int, int, str]:
        area = safe_area(width, height)
        x = {"left": area.left, "center": (width - bw) / 2, "right": area.right - bw}[horizontal]
        y = {"top": area.top, "center": (height - bh) / 2, "bottom": area.bottom - bh}[vertical]
        return _even(x, horizontal == "right"), _even(y, vertical == "bottom"), horizontal

    return run


TEXT_POSITION_REGISTRY: dict[str, PlaceFn] = {
    "top": _place("center", "top"),
    "center": _place("center", "center"),
    "bottom": _place("center", "bottom"),
    "top_left": _place("left", "top"),
    "top_right": _place("right", "top"),
    "bottom_left": _place("left", "bottom"),
    "bottom_right": _place("right", "bottom"),
}


@dataclass
class TextRaster:
    x: int
    y: int
    planes: Planes
    alpha: np.ndarray  # luma-sized, uint8
    alpha_chroma: np.ndarray


def _emoji_image(run: str, size: int) -> tuple[Image.Image, float]:
    """The run drawn at the bitmap size and scaled to `size`; and its ascent at `size`."""
    font = _font(EMOJI, size)
    ascent, descent = font.getmetrics()
    width = max(1, math.ceil(font.getlength(run)))
    image = Image.new("RGBA", (width, ascent + descent), (0, 0, 0, 0))
    ImageDraw.Draw(image).text((0, ascent), run, font=font, anchor="ls", embedded_color=True)
    scale = size / EMOJI_PPEM
    target = (max(1, round(width * scale)), max(1, round((ascent + descent) * scale)))
    # resample premultiplied, so transparent pixels do not darken the edges
    scaled = image.convert("RGBa").resize(target, Image.Resampling.LANCZOS).convert("RGBA")
    return scaled, ascent * scale


class TextLayer:
    """One text segment: its layout, fixed at construction; rasters cached per reveal step."""

    def __init__(self, item: TextItem, width: int, height: int) -> None:
        self.item = item
        self.width, self.height = width, height
        area = safe_area(width, height)
        pad = max(2, round(item.size_px * 0.15))
        max_w, max_h = area.right - area.left - 2 * pad, area.bottom - area.top - 2 * pad
        size = max(MIN_SIZE, round(item.size_px))
        # auto-fit: shrink while a word does not fit the safe width (down to 60 % of the asked
        # size; past that, long words break), and while the wrapped block is taller than the area
        floor = max(MIN_SIZE, round(size * 0.6))
        while size > floor and _longest_word(item.text, size) > max_w:
            size = max(floor, round(size * 0.92))
        lines = wrap_clusters(item.text, size, max_w)
        while size > MIN_SIZE and len(lines) * size * LINE_HEIGHT > max_h:
            size = max(MIN_SIZE, round(size * 0.9))
            lines = wrap_clusters(item.text, size, max_w)
        self.size, self.line_clusters = size, lines
        self.lines = ["".join(line) for line in lines]
        self.chars = sum(len(line) for line in lines)  # graphemes: the typewriter's steps
        self._cache: dict[int, TextRaster] = {}

    def raster(self, reveal: float) -> TextRaster:
        shown = self.chars if reveal >= 1 else max(0, int(self.chars * reveal))
        if shown not in self._cache:
            self._cache[shown] = self._draw(shown)
        return self._cache[shown]

    def _draw(self, shown: int) -> TextRaster:
        size, pad = self.size, max(2, round(self.size * 0.15))
        stroke = max(1, round(size * 0.06))
        widths = [_width(line, size) for line in self.line_clusters]
        block_w = math.ceil(max(widths, default=0)) + 2 * pad
        block_h = math.ceil(len(self.lines) * size * LINE_HEIGHT) + 2 * pad
        block_w, block_h = block_w + block_w % 2, block_h + block_h % 2
        x, y, align = TEXT_POSITION_REGISTRY[self.item.pos](block_w, block_h, self.width, self.height)
        glyphs = Image.new("RGBA", (block_w, block_h), (0, 0, 0, 0))
        draw = ImageDraw.Draw(glyphs)
        left = shown
        for row, (line, line_w) in enumerate(zip(self.line_clusters, widths, strict=True)):
            free = block_w - 2 * pad - line_w
            cx = pad + {"left": 0.0, "center": free / 2, "right": free}[align]
            baseline = pad + row * size * LINE_HEIGHT + size * 0.95
            for index, clusters in _runs(line):
                run = "".join(clusters)
                part = "".join(clusters[: max(0, left)])
                left -= len(clusters)
                if part and index == EMOJI:
                    image, ascent = _emoji_image(part, size)
                    glyphs.alpha_composite(image, (round(cx), max(0, round(baseline - ascent))))
                elif part:
                    draw.text(
                        (cx, baseline), part, font=_font(index, size), anchor="ls",
                        fill=(*self.item.colour, 255), stroke_width=stroke, stroke_fill=(0, 0, 0, 255),
                    )  # fmt: skip
                cx += _run_width(index, run, size)
        composed = Image.new("RGBA", glyphs.size, (0, 0, 0, 0))
        box = self.item.box_color  # '#RRGGBB' or '#RRGGBBAA'
        if box:  # a rounded background box behind the whole block, instead of the shadow
            value = box.lstrip("#")
            channels = tuple(int(value[i : i + 2], 16) for i in range(0, len(value), 2))
            fill = channels if len(channels) == 4 else (*channels, 255)
            ImageDraw.Draw(composed).rounded_rectangle(
                (0, 0, block_w - 1, block_h - 1), radius=pad, fill=fill
            )
        else:  # a soft drop shadow under the outlined glyphs, for legibility on bright photos
            shadow_alpha = glyphs.getchannel("A").filter(ImageFilter.GaussianBlur(max(1, size * 0.05)))
            shadow = Image.new("RGBA", glyphs.size, (0, 0, 0, 0))
            shadow.putalpha(shadow_alpha.point(lambda v: v * 6 // 10))
            shift = max(1, round(size * 0.04))
            composed.alpha_composite(shadow, (shift, shift))
        composed.alpha_composite(glyphs)
        rgba = np.asarray(composed)
        alpha = np.ascontiguousarray(rgba[:, :, 3])
        half = (block_w // 2, block_h // 2)
        return TextRaster(
            x=x,
            y=y,
            planes=rgb_to_planes(np.ascontiguousarray(rgba[:, :, :3])),
            alpha=alpha,
            alpha_chroma=cv2.resize(alpha, half, interpolation=cv2.INTER_AREA),
        )
