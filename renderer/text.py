"""Titles and captions: layout in the safe area, per-glyph font fallback, outline and shadow,
rasterised once per segment (and per typewriter step), then alpha-blended onto frames.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from renderer.planes import Planes, rgb_to_planes
from renderer.timeline import TextItem

FONT_DIR = Path(__file__).with_name("fonts")
FONT_FILES = ("DejaVuSans-Bold.ttf", "NotoSansCJKsc-Bold.otf")  # tried in order, per glyph
SAFE_X, SAFE_TOP, SAFE_BOTTOM = 0.07, 0.10, 0.14  # margins, as fractions of width / height
LINE_HEIGHT = 1.25
FADE_SECONDS = 0.5
TYPE_SECONDS_PER_CHAR = 0.06


@lru_cache(maxsize=32)
def _font(index: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / FONT_FILES[index]), size)


@lru_cache(maxsize=4096)
def _has_glyph(index: int, char: str) -> bool:
    """FreeType draws .notdef for a missing glyph: compare with a character no font has."""
    font = _font(index, 32)
    probe = font.getmask(char)
    missing = font.getmask("\U0010fffd")
    return probe.size != missing.size or bytes(probe) != bytes(missing)


def font_for(char: str) -> int:
    if char.isspace() or unicodedata.category(char).startswith("C"):
        return 0
    for index in range(len(FONT_FILES)):
        if _has_glyph(index, char):
            return index
    return len(FONT_FILES) - 1


def _runs(line: str) -> list[tuple[int, str]]:
    runs: list[tuple[int, str]] = []
    for char in line:
        index = font_for(char)
        if runs and runs[-1][0] == index:
            runs[-1] = (index, runs[-1][1] + char)
        else:
            runs.append((index, char))
    return runs


def _width(text: str, size: int) -> float:
    return sum(_font(i, size).getlength(run) for i, run in _runs(text))


def _tokens(paragraph: str) -> list[str]:
    """Words with their trailing space; CJK characters break anywhere, so each is a token."""
    tokens: list[str] = []
    for char in paragraph:
        wide = unicodedata.east_asian_width(char) in ("W", "F")
        if tokens and not wide and not tokens[-1].endswith(" ") and not _is_wide(tokens[-1][-1]):
            tokens[-1] += char
        else:
            tokens.append(char)
    return tokens


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def wrap(text: str, size: int, max_width: float) -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for token in _tokens(paragraph):
            if line and _width(line + token.rstrip(), size) > max_width:
                lines.append(line.rstrip())
                line = token.lstrip()
            else:
                line += token
            while _width(line.rstrip(), size) > max_width and len(line) > 1:
                # one token wider than the line: break it by characters
                cut = len(line) - 1
                while cut > 1 and _width(line[:cut], size) > max_width:
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line.rstrip())
    return lines


@dataclass(frozen=True)
class TextPose:
    opacity: float = 1.0
    dy: float = 0.0  # pixels, positive moves down
    reveal: float = 1.0  # fraction of characters shown


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

PlaceFn = Callable[[int, int, int, int], tuple[int, int, str]]  # block w, h, canvas w, h -> x, y, align


def _place(horizontal: str, vertical: str) -> PlaceFn:
    def run(bw: int, bh: int, width: int, height: int) -> tuple[int, int, str]:
        left, right = width * SAFE_X, width * (1 - SAFE_X)
        top, bottom = height * SAFE_TOP, height * (1 - SAFE_BOTTOM)
        x = {"left": left, "center": (width - bw) / 2, "right": right - bw}[horizontal]
        y = {"top": top, "center": (height - bh) / 2, "bottom": bottom - bh}[vertical]
        return round(x), round(y), horizontal

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


class TextLayer:
    """One text segment: its layout, fixed at construction; rasters cached per reveal step."""

    def __init__(self, item: TextItem, width: int, height: int) -> None:
        self.item = item
        self.width, self.height = width, height
        max_w = width * (1 - 2 * SAFE_X)
        max_h = height * (1 - SAFE_TOP - SAFE_BOTTOM)
        size = max(8, round(item.size_px))
        lines = wrap(item.text, size, max_w)
        while size > 8 and len(lines) * size * LINE_HEIGHT > max_h:  # auto-fit: shrink until it fits
            size = max(8, round(size * 0.9))
            lines = wrap(item.text, size, max_w)
        self.size, self.lines = size, lines
        self.chars = sum(len(line) for line in lines)
        self._cache: dict[int, TextRaster] = {}

    def raster(self, reveal: float) -> TextRaster:
        shown = self.chars if reveal >= 1 else max(0, int(self.chars * reveal))
        if shown not in self._cache:
            self._cache[shown] = self._draw(shown)
        return self._cache[shown]

    def _draw(self, shown: int) -> TextRaster:
        size, pad = self.size, max(2, round(self.size * 0.15))
        stroke = max(1, round(size * 0.06))
        widths = [_width(line, size) for line in self.lines]
        block_w = int(max(widths, default=0)) + 2 * pad
        block_h = int(len(self.lines) * size * LINE_HEIGHT) + 2 * pad
        x, y, align = TEXT_POSITION_REGISTRY[self.item.pos](block_w, block_h, self.width, self.height)
        x, y = x // 2 * 2, y // 2 * 2
        block_w, block_h = block_w + block_w % 2, block_h + block_h % 2
        glyphs = Image.new("RGBA", (block_w, block_h), (0, 0, 0, 0))
        draw = ImageDraw.Draw(glyphs)
        left = shown
        for row, (line, line_w) in enumerate(zip(self.lines, widths, strict=True)):
            offset = {
                "left": 0.0,
                "center": (block_w - 2 * pad - line_w) / 2,
                "right": block_w - 2 * pad - line_w,
            }
            cx = pad + offset[align]
            baseline = pad + row * size * LINE_HEIGHT + size * 0.95
            for index, run in _runs(line):
                part = run[: max(0, left)]
                left -= len(run)
                if part:
                    font = _font(index, size)
                    draw.text(
                        (cx, baseline), part, font=font, anchor="ls", fill=(*self.item.colour, 255),
                        stroke_width=stroke, stroke_fill=(0, 0, 0, 255),
                    )  # fmt: skip
                cx += _font(index, size).getlength(run)
        # a soft drop shadow under the outlined glyphs, for legibility on bright photos
        shadow_alpha = glyphs.getchannel("A").filter(ImageFilter.GaussianBlur(max(1, size * 0.05)))
        shadow = Image.new("RGBA", glyphs.size, (0, 0, 0, 0))
        shadow.putalpha(shadow_alpha.point(lambda v: v * 6 // 10))
        shift = max(1, round(size * 0.04))
        composed = Image.new("RGBA", glyphs.size, (0, 0, 0, 0))
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
