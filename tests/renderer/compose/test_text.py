"""Titles as a viewer sees them: Chinese and emoji glyphs (checked against Pillow drawing the same
bundled font directly, and against the .notdef box), safe areas on 9:16, auto-fit and wrapping,
typewriter steps by grapheme, the background box."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from renderer.compose.text import EMOJI_PPEM, FONT_DIR, MISSING, TextLayer, TextRaster
from renderer.plan import TextItem
from renderer.schema.draft import Draft
from tests.renderer.render_check import frames, render_file, solid

CJK_FONT = FONT_DIR / "NotoSansCJKsc-Bold.otf"
EMOJI_FONT = FONT_DIR / "NotoColorEmoji.ttf"


def _layer(text: str, width: int = 360, height: int = 640, *, pos: str = "center", size: float = 40.0,
           box: str | None = None) -> TextLayer:  # fmt: skip
    return TextLayer(TextItem("t", text, 0, 10, pos, size, (255, 255, 255), "none", box), width, height)


def _rgb(raster: TextRaster) -> np.ndarray:
    """The raster's yuv420p planes back to RGB (BT.709 limited range, the textbook formula)."""
    h, w = raster.alpha.shape
    y = (raster.planes.y.astype(float) - 16) * 255 / 219
    u, v = ((cv2.resize(p, (w, h), interpolation=cv2.INTER_NEAREST).astype(float) - 128) * 255 / 224
            for p in (raster.planes.u, raster.planes.v))  # fmt: skip
    rgb = np.dstack([y + 1.5748 * v, y - 0.1873 * u - 0.4681 * v, y + 1.8556 * u])
    return np.clip(np.rint(rgb), 0, 255).astype(int)


def _crop(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    """Overlap of two glyph masks, each cropped to its ink and aligned at the top-left corner."""
    a, b = _crop(a), _crop(b)
    h, w = max(a.shape[0], b.shape[0]), max(a.shape[1], b.shape[1])
    pa, pb = np.zeros((h, w), bool), np.zeros((h, w), bool)
    pa[: a.shape[0], : a.shape[1]], pb[: b.shape[0], : b.shape[1]] = a, b
    return float((pa & pb).sum() / (pa | pb).sum())


def _pillow_fill(text: str, font_path: Path, size: int) -> np.ndarray:
    """The reference: Pillow drawing the text with the bundled font, no outline, as a mask."""
    font = ImageFont.truetype(str(font_path), size)
    image = Image.new("L", (int(font.getlength(text)) + 20, size * 2), 0)
    ImageDraw.Draw(image).text((10, size // 2), text, font=font, fill=255)
    return np.asarray(image) > 128


def _pillow_emoji(text: str, size: int) -> np.ndarray:
    font = ImageFont.truetype(str(EMOJI_FONT), EMOJI_PPEM)
    image = Image.new("RGBA", (int(font.getlength(text)) + 8, 140), (0, 0, 0, 0))
    ImageDraw.Draw(image).text((4, 4), text, font=font, embedded_color=True)
    scale = size / EMOJI_PPEM
    small = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    return np.asarray(small).astype(int)


def _fill_mask(raster: TextRaster) -> np.ndarray:
    """Our raster's white fill (inside the black outline)."""
    return (raster.alpha > 200) & (raster.planes.y > 150)


def _opaque_mean(rgba: np.ndarray) -> np.ndarray:
    return rgba[rgba[:, :, 3] > 250][:, :3].mean(axis=0)


def test_chinese_title_draws_the_fonts_glyphs_not_notdef_boxes() -> None:
    text = "夏天的回忆"
    layer = _layer(text)
    ours = _fill_mask(layer.raster(1.0))
    reference = _pillow_fill(text, CJK_FONT, layer.size)
    boxes = _pillow_fill(MISSING * len(text), CJK_FONT, layer.size)
    assert _iou(ours, reference) > 0.75
    assert _iou(ours, boxes) < 0.4
    missing = _fill_mask(_layer(MISSING * len(text)).raster(1.0))
    assert _iou(ours, missing) < 0.4  # what a missing glyph would look like here: not that


@pytest.mark.parametrize(("emoji", "dominant"), [("🍎", 0), ("🌲", 1)])
def test_emoji_render_in_colour_like_the_emoji_font(emoji: str, dominant: int) -> None:
    layer = _layer(emoji, size=48)
    raster = layer.raster(1.0)
    rgba = np.dstack([_rgb(raster), raster.alpha])
    ours, reference = _opaque_mean(rgba), _opaque_mean(_pillow_emoji(emoji, layer.size))
    assert np.abs(ours - reference).max() < 30  # the same picture as the font's own bitmap
    assert int(np.argmax(ours)) == dominant  # a red apple, a green tree
    other = _layer("🌲" if emoji == "🍎" else "🍎", size=48).raster(1.0)
    assert np.abs(_opaque_mean(np.dstack([_rgb(other), other.alpha])) - ours).max() > 40
    notdef = _layer(MISSING, size=48).raster(1.0)
    assert np.abs(_opaque_mean(np.dstack([_rgb(notdef), notdef.alpha])) - ours).max() > 40


def test_rendered_frame_shows_chinese_and_emoji_as_the_reference(tmp_path: Path) -> None:
    grey = solid(tmp_path, "grey.png", (90, 90, 90))
    d = Draft.model_validate(
        {
            "d": 300,
            "m": {"width": 360, "height": 640, "fps": 10},
            "t": [
                {"id": "v", "tt": 0, "sg": [{"id": "p", "src": "grey", "st": 0, "d": 300}]},
                {
                    "id": "x",
                    "tt": 7,
                    "sg": [{"id": "t", "st": 0, "d": 300, "m": {"text": "夏天🍎", "size": 0.07}}],
                },
            ],
        }
    )
    frame = frames(render_file(d, {"grey": grey}, tmp_path / "o.mp4"))[1]
    layer = _layer("夏天🍎", size=0.07 * 640)
    raster = layer.raster(1.0)
    region = frame[raster.y : raster.y + raster.alpha.shape[0], raster.x : raster.x + raster.alpha.shape[1]]
    luma = region.mean(axis=2)
    chroma = region.max(axis=2) - region.min(axis=2)
    white = (luma > 200) & (chroma < 40)  # the CJK fill
    reference = _pillow_fill("夏天", CJK_FONT, layer.size)
    assert _iou(white, reference) > 0.6
    red = (region[:, :, 0] > 150) & (region[:, :, 0] - region[:, :, 1] > 80)  # the apple
    apple = _pillow_emoji("🍎", layer.size)
    apple_red = (apple[:, :, 3] > 200) & (apple[:, :, 0] > 150) & (apple[:, :, 0] - apple[:, :, 1] > 80)
    assert red.sum() == pytest.approx(apple_red.sum(), rel=0.35)
    assert red[:, : region.shape[1] // 2].sum() < 0.1 * red.sum()  # and it is after the Chinese


@pytest.mark.parametrize(
    "pos", ["top", "center", "bottom", "top_left", "top_right", "bottom_left", "bottom_right"]
)
def test_text_stays_in_the_safe_area_of_a_vertical_canvas(pos: str) -> None:
    width, height = 540, 960
    raster = _layer("Summer 2024 夏天 🎉", width, height, pos=pos, size=48).raster(1.0)
    h, w = raster.alpha.shape
    assert raster.y >= 0.12 * height and raster.y + h <= 0.80 * height  # clear of the apps' UI
    assert raster.x >= 0.07 * width and raster.x + w <= 0.93 * width
    if pos.startswith("bottom"):
        assert raster.y + h > 0.75 * height  # still at the bottom, just above the UI zone


def test_long_titles_wrap_by_words_or_characters_and_shrink_to_fit() -> None:
    width, height = 360, 640
    latin = "A long summer afternoon by the sea with friends and family"
    layer = _layer(latin, width, height, size=40)
    assert len(layer.lines) > 1
    assert all(word in latin.split() for line in layer.lines for word in line.split())  # no word cut
    assert " ".join(layer.lines) == latin
    cjk = "这是一个非常非常长的中文标题需要自动换行显示"
    layer = _layer(cjk, width, height, size=40)
    assert len(layer.lines) > 1 and "".join(layer.lines) == cjk  # broken between characters
    huge = _layer(" ".join(["Memories"] * 40), width, height, size=60)
    raster = huge.raster(1.0)
    assert huge.size < 60  # shrunk until it fits the safe height
    assert raster.alpha.shape[0] <= (1 - 0.12 - 0.20) * height and raster.alpha.shape[1] <= 0.86 * width


def test_typewriter_reveals_whole_graphemes() -> None:
    text = "Hi 👨‍👩‍👧🇨🇳"  # 5 graphemes, 10 code points
    layer = _layer(text, size=40)
    assert layer.chars == 5
    rasters = [layer.raster(step / 100) for step in range(101)]
    distinct = {r.alpha.tobytes() for r in rasters}
    assert len(distinct) == 5  # nothing, H, Hi (= "Hi "), + family, + flag: never half an emoji
    four = layer.raster(4.5 / 5)
    family = _rgb(four)[four.alpha > 250]
    assert len(family) > 100 and (family.max(axis=1) - family.min(axis=1)).max() < 60  # grey family


def test_box_color_draws_a_background_box_behind_the_text() -> None:
    plain = _layer("Summer", size=40).raster(1.0)
    boxed = _layer("Summer", size=40, box="#102030FF").raster(1.0)
    assert plain.alpha[2, 2] == 0
    assert boxed.alpha[2, 2] == 255 and (boxed.alpha > 250).mean() > 0.9
    assert np.abs(_rgb(boxed)[3, 3] - np.array([16, 32, 48])).max() < 12
