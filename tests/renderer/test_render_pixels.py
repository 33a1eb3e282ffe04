"""What the viewer sees: decoded frames compared with what each golden draft implies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from renderer.schema.draft import TRANSITIONS
from tests.renderer.render_check import draft, frames, media_factory, near, render_file, solid


@pytest.fixture
def media(tmp_path: Path) -> dict[str, Path]:
    return {
        "red": solid(tmp_path, "red.jpg", (255, 0, 0)),
        "blue": solid(tmp_path, "blue.png", (0, 0, 255)),
        "grey": solid(tmp_path, "grey.png", (90, 90, 90)),
    }


def _landscape(tmp_path: Path) -> Path:
    # 400x200, left half yellow, right half magenta: a wide photo in a tall canvas
    img = Image.new("RGB", (400, 200), (255, 255, 0))
    img.paste((255, 0, 255), (200, 0, 400, 200))
    path = tmp_path / "wide.jpg"
    img.save(path, quality=95)
    return path


def test_crossfade_midpoint_is_a_mix_of_both_photos(tmp_path: Path, media: dict[str, Path]) -> None:
    video = frames(render_file(draft("crossfade"), media, tmp_path / "o.mp4"))
    assert near(video[5][160, 90], (255, 0, 0))  # before the overlap: red
    r, g, b = video[15][160, 90]  # 1.5 s: the middle of the 1 s crossfade
    assert 90 < r < 170 and 90 < b < 170 and g < 30
    assert near(video[25][160, 90], (0, 0, 255))


def test_whole_video_fades_in_from_and_out_to_black(tmp_path: Path, media: dict[str, Path]) -> None:
    faded = draft("crossfade")
    faded = faded.model_copy(update={"m": faded.m.model_copy(update={"fade_in": 1000, "fade_out": 1000})})
    video = frames(render_file(faded, media, tmp_path / "f.mp4"))
    assert video[0][160, 90].max() < 40  # the first frame is nearly black
    r, _, _ = video[5][160, 90]  # half way into the 1 s fade in: red at about half
    assert 80 < r < 180
    r, g, b = video[15][160, 90]  # 1.5 s, between the fades: the crossfade's mix, as without them
    assert 90 < r < 170 and 90 < b < 170 and g < 30
    assert video[-1][160, 90].max() < 40  # the last frame is nearly black again


def test_cover_fills_the_canvas_and_contain_shows_background_bars(tmp_path: Path) -> None:
    sources = {"landscape": _landscape(tmp_path)}
    cover = frames(render_file(draft("fit_cover"), sources, tmp_path / "c.mp4"))[5]
    contain = frames(render_file(draft("fit_contain"), sources, tmp_path / "n.mp4"))[5]
    assert not near(cover[10, 90], (0, 255, 0))  # no green (bg) anywhere in cover
    assert not near(cover[310, 90], (0, 255, 0))
    assert near(contain[10, 90], (0, 255, 0)) and near(contain[310, 90], (0, 255, 0))
    # contain shows the whole width: yellow on the left edge, magenta on the right
    assert near(contain[160, 5], (255, 255, 0), 40) and near(contain[160, 175], (255, 0, 255), 40)


def test_blur_fit_has_no_bars_but_a_blurred_backdrop(tmp_path: Path) -> None:
    frame = frames(render_file(draft("fit_blur"), {"landscape": _landscape(tmp_path)}, tmp_path / "b.mp4"))[5]
    top = frame[:60]
    assert not any(near(px, (0, 255, 0)) for px in top.reshape(-1, 3)[::37])
    # the backdrop is the photo blurred: across its middle, colour changes gradually
    row = frame[20, :, 0] + frame[20, :, 2]
    assert np.abs(np.diff(row)).max() < 60
    assert near(frame[160, 5], (255, 255, 0), 40)  # the sharp contained photo is in the middle


def test_exif_rotated_jpeg_stands_upright(tmp_path: Path) -> None:
    photo = media_factory.jpeg_exif_rotated(tmp_path)  # displays 300x400: red top band
    frame = frames(render_file(draft("exif_rotated"), {"rotated_jpeg": photo}, tmp_path / "o.mp4"))[5]
    # contain: 180x240 picture centred vertically (rows 40..280); its top fifth is red
    assert near(frame[55, 90], media_factory.RED, 40)
    assert near(frame[160, 90], media_factory.BLUE, 40)
    assert near(frame[265, 90], media_factory.GREEN, 40)


def test_video_clip_rotation_metadata_is_honoured(tmp_path: Path) -> None:
    clip = media_factory.mp4_rotated(tmp_path)  # stored 160x90 with a red top band, shown as 90x160
    frame = frames(render_file(draft("clip_rotated"), {"rotated_clip": clip}, tmp_path / "o.mp4"))[5]
    # the portrait fills the 180x320 canvas (same aspect). Turning the stored frame 90 degrees
    # counter-clockwise (as ffmpeg's own autorotate does) brings its top band to the left edge.
    left = frame[40:280, 8].mean(axis=0)
    right = frame[40:280, 172].mean(axis=0)
    top = frame[6, 60:120].mean(axis=0)
    assert near(left, media_factory.RED, 50)
    assert not near(right, media_factory.RED, 50) and not near(top, media_factory.RED, 50)
    assert frame.shape[:2] == (320, 180)


def test_overlay_track_is_drawn_in_its_box_with_opacity(tmp_path: Path, media: dict[str, Path]) -> None:
    frame = frames(render_file(draft("overlay"), media, tmp_path / "o.mp4"))[5]
    assert near(frame[80, 45], (255, 0, 0))  # outside the box: the red base track
    r, _g, b = frame[240, 135]  # inside the box: half blue over red
    assert 90 < r < 170 and 90 < b < 170


@pytest.mark.parametrize("name", ["title", "title_zh"])
def test_title_text_is_drawn_in_the_middle(tmp_path: Path, media: dict[str, Path], name: str) -> None:
    video = frames(render_file(draft(name), media, tmp_path / "o.mp4"))
    frame = video[len(video) // 2]
    band = frame[140:180, 20:160]
    assert np.abs(band - 90).max(axis=2).mean() > 15  # glyph pixels differ from the grey photo
    assert (band.min(axis=2) > 200).sum() > 30  # white fill...
    assert (band.max(axis=2) < 40).sum() > 10  # ...and a dark outline
    assert np.abs(frame[20:60, 20:160] - 90).max() < 20  # nothing far from the title


def test_chinese_title_renders_glyphs_not_boxes(tmp_path: Path, media: dict[str, Path]) -> None:
    # different characters must give different pixels (tofu boxes would all look alike)
    one = frames(render_file(draft("title_zh"), media, tmp_path / "a.mp4"))[5]
    other_draft = draft("title_zh")
    other_draft.t[1].sg[0].m.text = "春节快乐啊"
    other = frames(render_file(other_draft, media, tmp_path / "b.mp4"))[5]
    assert np.abs(one[140:180] - other[140:180]).mean() > 5


@pytest.mark.parametrize("kind", [k for k in TRANSITIONS if k != "none"])
def test_every_transition_midpoint_differs_from_both_neighbours(
    tmp_path: Path, media: dict[str, Path], kind: str
) -> None:
    d = draft("transition")
    assert d.t[0].sg[1].m.tr is not None
    d.t[0].sg[1].m.tr.type = kind
    video = frames(render_file(d, media, tmp_path / "o.mp4"))
    before, middle, after = video[3], video[10], video[17]  # overlap is frames 5..14
    assert np.abs(middle - before).mean() > 8
    assert np.abs(middle - after).mean() > 8
