"""renderer/media/probe.py: sniffing, the safe openers and the facts, checked against the ffprobe command."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from renderer.media.decode_video import ClipReader
from renderer.media.probe import MediaError, open_av, open_image, probe, sniff
from tests import media_factory as mf
from tests.ffprobe import ffprobe


def ffprobe_display_size(path: Path) -> tuple[int, int]:
    """Width and height as a player shows them: the display matrix's rotation applied."""
    video = next(s for s in ffprobe(path)["streams"] if s["codec_type"] == "video")
    rotation = 0
    for side in video.get("side_data_list", []):
        rotation = int(side.get("rotation", 0))
    w, h = video["width"], video["height"]
    return (h, w) if abs(rotation) % 180 == 90 else (w, h)


PHOTOS: list[tuple[Callable[[Path], Path], str, tuple[int, int]]] = [
    (mf.jpeg_exif_rotated, "jpeg", (300, 400)),
    (mf.heic_photo, "heif", (640, 480)),
    (mf.png_rgba, "png", (320, 240)),
    (mf.webp_photo, "webp", (480, 320)),
    (mf.jpeg_cmyk, "jpeg", (400, 300)),
    (mf.png_16bit, "png", (256, 192)),
    (mf.png_tiny, "png", (16, 12)),
    (mf.jpeg_panorama, "jpeg", (2400, 400)),
    (mf.jpeg_12mp, "jpeg", (4000, 3000)),
    (mf.gif_animated, "gif", (120, 90)),
]


@pytest.mark.parametrize(("make", "fmt", "size"), PHOTOS, ids=[p[0].__name__ for p in PHOTOS])
def test_photo_facts(tmp_path: Path, make: Callable[[Path], Path], fmt: str, size: tuple[int, int]) -> None:
    path = make(tmp_path)
    facts = probe(path)
    assert facts.file_type == "image"
    assert facts.format == fmt
    assert (facts.width, facts.height) == size
    assert sniff(path.read_bytes()[:64]) is not None


def test_exif_rotated_jpeg_reports_displayed_size_not_stored(tmp_path: Path) -> None:
    path = mf.jpeg_exif_rotated(tmp_path)
    stored = next(s for s in ffprobe(path)["streams"])
    assert (stored["width"], stored["height"]) == (400, 300)  # what the bytes hold
    facts = probe(path)
    assert (facts.width, facts.height, facts.exif_orientation) == (300, 400, 6)


def test_photo_warnings_tell_the_agent_what_it_is_dealing_with(tmp_path: Path) -> None:
    assert probe(mf.png_rgba(tmp_path)).has_alpha
    assert any("CMYK" in w for w in probe(mf.jpeg_cmyk(tmp_path)).warnings)
    assert any("16-bit" in w for w in probe(mf.png_16bit(tmp_path)).warnings)
    assert any("small" in w for w in probe(mf.png_tiny(tmp_path)).warnings)
    assert any("panorama" in w for w in probe(mf.jpeg_panorama(tmp_path)).warnings)


def test_animated_gif_has_its_length(tmp_path: Path) -> None:
    facts = probe(mf.gif_animated(tmp_path, frames=8, frame_ms=150))
    assert facts.frame_count == 8
    assert facts.duration == pytest.approx(1.2)


CLIPS = [mf.mp4_clip, mf.mov_clip, mf.webm_clip, mf.mkv_clip, mf.avi_clip, mf.mp4_rotated]


@pytest.mark.parametrize("make", CLIPS, ids=[m.__name__ for m in CLIPS])
def test_video_facts_match_ffprobe(tmp_path: Path, make: Callable[[Path], Path]) -> None:
    path = make(tmp_path)
    facts = probe(path)
    info = ffprobe(path)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert facts.file_type == "video"
    assert (facts.width, facts.height) == ffprobe_display_size(path)
    assert facts.duration == pytest.approx(float(info["format"]["duration"]), abs=0.15)
    num, den = (int(x) for x in video["avg_frame_rate"].split("/"))
    assert facts.fps == pytest.approx(num / den, rel=0.01)
    assert facts.has_audio == any(s["codec_type"] == "audio" for s in info["streams"])
    assert facts.video_codec == video["codec_name"]


def test_rotated_clip_is_portrait(tmp_path: Path) -> None:
    facts = probe(mf.mp4_rotated(tmp_path))
    assert (facts.width, facts.height) == (90, 160)
    assert facts.rotation in (90, 270)


AUDIO = [mf.mp3_tone, mf.wav_tone, mf.m4a_tone, mf.aac_tone]


@pytest.mark.parametrize("make", AUDIO, ids=[m.__name__ for m in AUDIO])
def test_audio_facts_match_ffprobe(tmp_path: Path, make: Callable[[Path], Path]) -> None:
    path = make(tmp_path)
    facts = probe(path)
    info = ffprobe(path)
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert facts.file_type == "audio"
    assert facts.has_audio
    assert (facts.width, facts.height) == (None, None)
    assert facts.duration == pytest.approx(float(info["format"]["duration"]), abs=0.1)
    assert facts.sample_rate == int(audio["sample_rate"])
    assert facts.channels == int(audio["channels"])


NOT_OURS = mf.IMPOSTORS


@pytest.mark.parametrize("make", NOT_OURS, ids=[m.__name__ for m in NOT_OURS])
def test_renamed_documents_are_unsupported(tmp_path: Path, make: Callable[[Path], Path]) -> None:
    path = make(tmp_path)
    assert sniff(path.read_bytes()[:4096]) is None
    with pytest.raises(MediaError) as err:
        probe(path)
    assert err.value.code == "unsupported"


def test_ffconcat_naming_another_file_is_unsupported(tmp_path: Path) -> None:
    other = mf.mp4_clip(tmp_path, "someone_elses.mp4")
    with pytest.raises(MediaError) as err:
        probe(mf.ffconcat_as_mp4(tmp_path, other))
    assert err.value.code == "unsupported"


def test_pillow_formats_outside_the_allow_list_are_never_opened(tmp_path: Path) -> None:
    for make in (mf.eps_as_jpg, mf.psd_as_jpg):
        with pytest.raises(MediaError) as err:
            open_image(make(tmp_path))
        assert err.value.code == "unsupported"
    bmp = tmp_path / "x.jpg"
    from PIL import Image

    Image.new("RGB", (8, 8)).save(bmp, "BMP")
    with pytest.raises(MediaError):
        open_image(bmp)


def test_pixel_bomb_is_refused_from_the_header(tmp_path: Path) -> None:
    path = mf.png_bomb(tmp_path)
    assert path.stat().st_size < 2 * 1024 * 1024
    with pytest.raises(MediaError) as err:
        probe(path)
    assert err.value.code == "too_large"
    # Our cap is ours, below Pillow's own: a 60 Mpx photo is refused too.
    with pytest.raises(MediaError) as err:
        open_image(mf.jpeg_12mp(tmp_path), max_pixels=10_000_000)
    assert err.value.code == "too_large"


def test_video_over_the_pixel_cap_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as err:
        probe(mf.mp4_clip(tmp_path), max_pixels=100 * 80)
    assert err.value.code == "too_large"


@pytest.mark.parametrize(
    "make", [mf.jpeg_exif_rotated, mf.png_rgba, mf.webp_photo, mf.mp4_clip], ids=lambda m: m.__name__
)
def test_truncated_files_are_corrupt(tmp_path: Path, make: Callable[[Path], Path]) -> None:
    cut = mf.truncated(make(tmp_path), tmp_path, keep=0.4)
    with pytest.raises(MediaError) as err:
        probe(cut)
    assert err.value.code in ("corrupt", "unsupported")


def test_truncated_streamable_clip_keeps_what_plays_and_a_cut_header_is_refused(tmp_path: Path) -> None:
    # Matroska is streamable: the first 40% still plays, so it is accepted; its header cut is not.
    clip = mf.mkv_clip(tmp_path)
    assert probe(mf.truncated(clip, tmp_path, keep=0.4)).file_type == "video"
    with pytest.raises(MediaError):
        probe(mf.truncated(clip, tmp_path, keep=0.01, name="head_only.mkv"))


def test_open_av_refuses_demuxers_outside_the_allow_list(tmp_path: Path) -> None:
    playlist = mf.hls_as_mp4(tmp_path)
    for fmt in ("hls", "concat", "image2", "lavfi"):
        with pytest.raises(MediaError):
            open_av(playlist, fmt)
    # Forcing our demuxer on a playlist reads it as what it claims to be: it fails, opening nothing.
    with pytest.raises(MediaError):
        open_av(playlist, "mp4")
    with pytest.raises(MediaError):
        open_av(playlist)


def test_open_av_reads_a_clip_with_a_forced_demuxer(tmp_path: Path) -> None:
    path = mf.webm_clip(tmp_path, "odd name: with colon.webm")
    with open_av(path) as container:
        assert container.streams.video[0].codec_context.name == "vp8"
        assert container.format.name.startswith("matroska")


def test_sniff_table() -> None:
    assert sniff(b"\xff\xd8\xff\xe0" + b"\0" * 20).format == "jpeg"  # type: ignore[union-attr]
    assert sniff(b"\0\0\0\x18ftypqt  " + b"\0" * 8).format == "mov"  # type: ignore[union-attr]
    assert sniff(b"\0\0\0\x18ftypM4A " + b"\0" * 8).kind == "audio"  # type: ignore[union-attr]
    assert sniff(b"\0\0\0\x18ftypheic" + b"\0" * 8).kind == "image"  # type: ignore[union-attr]
    assert sniff(b"\0\0\0\x18ftypavif" + b"\0" * 8) is None
    assert sniff(b"\xff\xf1\x50\x80").format == "aac"  # type: ignore[union-attr]
    assert sniff(b"\xff\xfb\x90\x00").format == "mp3"  # type: ignore[union-attr]
    assert sniff(b"RIFF\0\0\0\0WAVEfmt ").format == "wav"  # type: ignore[union-attr]
    assert sniff(b"RIFF\0\0\0\0AVI LIST").format == "avi"  # type: ignore[union-attr]
    for junk in (b"", b"#EXTM3U\n", b"%PDF-1.7", b"8BPS\0\x01", b"<svg", b"\x00\x00\x01\xba", b"BM\0\0"):
        assert sniff(junk) is None


def test_a_clip_whose_tags_are_not_utf8_is_probed_and_decoded(tmp_path: Path) -> None:
    # PyAV 18 raises UnicodeDecodeError on such tags unless told to replace; PyAV 19 removed that
    # argument (a TypeError: every render failed on Python 3.12) and never raises. Both must work.
    path = mf.mp4_with_raw_tags(tmp_path)
    facts = probe(path)
    assert (facts.file_type, facts.width, facts.height) == ("video", 160, 96)
    assert facts.duration == pytest.approx(1.0, abs=0.05)
    reader = ClipReader(path, 0.5, lambda w, h: 1.0)
    try:
        assert (reader.width, reader.height) == (160, 96)
    finally:
        reader.container.close()
