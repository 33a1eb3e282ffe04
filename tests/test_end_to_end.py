"""Issue 2's acceptance walks: a client on the public API, from photos to a checked MP4.

Each test does what a NemoVideo skill does (token, session, upload, chat over /run_sse, state,
render, poll, download) against a real server on 127.0.0.1, then checks the file with the
`ffprobe` command and by decoding frames and audio.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import av
import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from tests import media_factory as mf
from tests.api_walk import ApiWalk, video_segments
from tests.ffprobe import ffprobe, stream

pytestmark = pytest.mark.skipif(not shutil.which("ffprobe"), reason="needs the ffprobe command")


@pytest.fixture
def walk(
    make_app: Callable[..., FastAPI],
    make_client: Callable[[FastAPI], httpx.Client],
    anon_token: Callable[..., str],
    new_session: Callable[..., str],
) -> ApiWalk:
    http = make_client(make_app(start_workers=True))
    return ApiWalk.start(http, anon_token, new_session, task_name="e2e", language="en")


def frame_at(path: Path, seconds: float) -> np.ndarray:
    """The RGB frame shown at `seconds`, decoded with PyAV."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.time is not None and frame.time + 1e-6 >= seconds:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError(f"no frame at {seconds}s")


def dominant_frequency(path: Path, start_s: float, seconds: float) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        chunks = [f.to_ndarray().mean(axis=0) for f in container.decode(stream)]
    samples = np.concatenate(chunks)[int(start_s * rate) : int((start_s + seconds) * rate)]
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


def is_colour(pixel: np.ndarray, colour: tuple[int, int, int], tolerance: int = 60) -> bool:
    return bool(np.abs(pixel.astype(int) - np.array(colour)).max() <= tolerance)


@pytest.mark.slow
def test_ten_photo_formats_become_a_1080p_slideshow_with_the_rotated_photo_upright(
    walk: ApiWalk, tmp_path: Path
) -> None:
    photos = mf.ten_photos(tmp_path)
    uploaded = walk.upload(photos)
    assert [f["file_type"] for f in uploaded] == ["image"] * 10
    rotated = uploaded[0]
    assert (rotated["width"], rotated["height"]) == (300, 400)  # EXIF orientation applied

    events = walk.chat("turn my photos into a slideshow video with music and transitions")
    assert any("functionCall" in p for e in events for p in e["content"]["parts"])
    draft = walk.draft()
    segments = video_segments(draft)
    assert len(segments) == 10
    assert any(seg["m"].get("tr") for seg in segments[1:]), "transitions between photos"
    assert any(track["tt"] == 1 for track in draft["t"]), "a soundtrack"

    out = tmp_path / "slideshow.mp4"
    status = walk.export(draft, out, "e2e_ten", quality="high")
    info = ffprobe(out)
    video, audio = stream(info, "video"), stream(info, "audio")
    assert video["codec_name"] == "h264" and video["profile"] == "High" and video["pix_fmt"] == "yuv420p"
    assert min(video["width"], video["height"]) == 1080
    assert audio["codec_name"] == "aac" and int(audio["sample_rate"]) == 48000
    assert abs(float(info["format"]["duration"]) - draft["d"] / 1000) < 0.1
    assert status["output"]["width"] == video["width"] and status["output"]["size"] == out.stat().st_size

    # The rotated photo, mid-way through its own segment: red band on top, green at the bottom.
    seg = next(s for s in segments if rotated["media_id"] in s["src"] or s["src"] == rotated["cdn_url"])
    frame = frame_at(out, (seg["st"] + seg["d"] * 0.6) / 1000)
    h, w, _ = frame.shape
    column = frame[:, w // 2]
    rows = [y for y in range(h) if not is_colour(column[y], (0, 0, 0), 25)]
    top, bottom = rows[0], rows[-1]
    span = bottom - top
    assert is_colour(column[top + span // 20], mf.RED), column[top + span // 20]
    assert is_colour(column[top + span // 2], mf.BLUE), column[top + span // 2]
    assert is_colour(column[bottom - span // 20], mf.GREEN), column[bottom - span // 20]


def test_the_uploaded_song_is_the_soundtrack(walk: ApiWalk, tmp_path: Path) -> None:
    photos = [mf.webp_photo(tmp_path), mf.jpeg_cmyk(tmp_path), mf.png_tiny(tmp_path)]
    song = mf.mp3_tone(tmp_path, seconds=6.0)  # a 440 Hz tone: unlike any built-in track
    uploaded = walk.upload([*photos, song])
    walk.chat("make a slideshow of my photos with this background music")
    draft = walk.draft()
    music = [seg for track in draft["t"] if track["tt"] == 1 for seg in track["sg"]]
    assert music and music[0]["src"] in (uploaded[-1]["cdn_url"], uploaded[-1]["media_id"])

    out = tmp_path / "song.mp4"
    walk.export(draft, out, "e2e_song", resolution="480p", preset="ultrafast")
    assert abs(dominant_frequency(out, 2.0, 2.0) - 440.0) < 5.0


def test_a_thirty_second_request_gives_thirty_seconds(walk: ApiWalk, tmp_path: Path) -> None:
    walk.upload([mf.webp_photo(tmp_path, f"p{i}.webp") for i in range(4)])
    walk.chat("turn these photos into a 30-second video with transitions and background music")
    draft = walk.draft()
    assert draft["d"] == 30000
    assert max(seg["st"] + seg["d"] for seg in video_segments(draft)) == 30000

    out = tmp_path / "thirty.mp4"
    walk.export(draft, out, "e2e_thirty", resolution="480p", preset="ultrafast")
    info = ffprobe(out)
    assert float(stream(info, "video")["duration"]) == pytest.approx(30.0, abs=1 / 30 + 1e-6)
    assert float(info["format"]["duration"]) == pytest.approx(30.0, abs=0.05)
