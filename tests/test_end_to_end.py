"""Issue 2's acceptance walks: a client on the public API, from photos to a checked MP4.

Each test does what a NemoVideo skill does (token, session, upload, chat over /run_sse, state,
render, poll, download) against a real server on 127.0.0.1, then checks the file with the
`ffprobe` command and by decoding frames and audio.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from tests import media_factory as mf
from tests.conftest import bearer

pytestmark = pytest.mark.skipif(not shutil.which("ffprobe"), reason="needs the ffprobe command")


class Client:
    """The calls a skill makes, with the token attached."""

    def __init__(self, http: httpx.Client, token: str, session_id: str) -> None:
        self.http, self.headers, self.sid = http, bearer(token), session_id

    def upload(self, paths: list[Path]) -> list[dict[str, Any]]:
        files = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in paths]
        answer = self.http.post(
            f"/api/upload-video/nemo_agent/me/{self.sid}", headers=self.headers, files=files
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()["data"]
        assert body["session_state_applied"] is True
        assert not body.get("errors"), body["errors"]
        return list(body["files"])

    def chat(self, text: str) -> list[dict[str, Any]]:
        body = {
            "app_name": "nemo_agent",
            "user_id": "me",
            "session_id": self.sid,
            "new_message": {"role": "user", "parts": [{"text": text}]},
        }
        events = []
        with self.http.stream("POST", "/run_sse", headers=self.headers, json=body, timeout=120) as answer:
            assert answer.status_code == 200
            for line in answer.iter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
        assert events and events[-1]["author"] == "nemo_agent", events[-1:]
        return events

    def draft(self) -> dict[str, Any]:
        answer = self.http.get(f"/api/state/nemo_agent/me/{self.sid}/latest", headers=self.headers)
        assert answer.status_code == 200, answer.text
        return dict(answer.json()["data"]["state"]["draft"])

    def export(self, draft: dict[str, Any], out: Path, render_id: str, **output: Any) -> dict[str, Any]:
        body = {"id": render_id, "sessionId": self.sid, "draft": draft, "output": {"format": "mp4", **output}}
        answer = self.http.post("/api/render/proxy/lambda", headers=self.headers, json=body)
        assert answer.status_code == 200, answer.text
        deadline = time.monotonic() + 400
        while True:
            status = self.http.get(f"/api/render/proxy/lambda/{render_id}", headers=self.headers).json()
            if status["status"] in ("completed", "failed", "cancelled"):
                break
            assert time.monotonic() < deadline, f"render still {status['status']} at {status['progress']}%"
            time.sleep(0.25)
        assert status["status"] == "completed", status
        answer = self.http.get(f"/api/render/proxy/{render_id}/download", headers=self.headers)
        assert answer.status_code == 200
        out.write_bytes(answer.content)
        return dict(status)


@pytest.fixture
def walk(
    make_app: Callable[..., FastAPI],
    make_client: Callable[[FastAPI], httpx.Client],
    anon_token: Callable[..., str],
    new_session: Callable[..., str],
) -> Client:
    http = make_client(make_app(start_workers=True))
    token = anon_token(http)
    return Client(http, token, new_session(http, token, task_name="e2e", language="en"))


def ffprobe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(json.loads(out))


def streams(info: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(s for s in info["streams"] if s["codec_type"] == kind)


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


def video_segments(draft: dict[str, Any]) -> list[dict[str, Any]]:
    return [seg for track in draft["t"] if track["tt"] == 0 for seg in track["sg"]]


def is_colour(pixel: np.ndarray, colour: tuple[int, int, int], tolerance: int = 60) -> bool:
    return bool(np.abs(pixel.astype(int) - np.array(colour)).max() <= tolerance)


@pytest.mark.slow
def test_ten_photo_formats_become_a_1080p_slideshow_with_the_rotated_photo_upright(
    walk: Client, tmp_path: Path
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
    video, audio = streams(info, "video"), streams(info, "audio")
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


def test_the_uploaded_song_is_the_soundtrack(walk: Client, tmp_path: Path) -> None:
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


def test_a_thirty_second_request_gives_thirty_seconds(walk: Client, tmp_path: Path) -> None:
    walk.upload([mf.webp_photo(tmp_path, f"p{i}.webp") for i in range(4)])
    walk.chat("turn these photos into a 30-second video with transitions and background music")
    draft = walk.draft()
    assert draft["d"] == 30000
    assert max(seg["st"] + seg["d"] for seg in video_segments(draft)) == 30000

    out = tmp_path / "thirty.mp4"
    walk.export(draft, out, "e2e_thirty", resolution="480p", preset="ultrafast")
    info = ffprobe(out)
    assert float(streams(info, "video")["duration"]) == pytest.approx(30.0, abs=1 / 30 + 1e-6)
    assert float(info["format"]["duration"]) == pytest.approx(30.0, abs=0.05)
