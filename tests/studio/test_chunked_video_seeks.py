"""A chunked render plays and seeks in Chromium (issue 16): the MP4 whose parts were joined by stream
copy (renderer/chunks/join.py, the same join a split job's worker runs) is served from 127.0.0.1
with range requests, as the server serves renders, into a <video> in Debian's Chromium; seeks to
either side of every join land where asked, and the frame drawn to a canvas there is the colour
the timeline has at that time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse

from renderer.render import render
from renderer.schema.draft import Draft
from renderer.schema.output import OutputSpec
from server.testing import LiveServer
from tests.renderer.render_check import media_factory, needs_ffprobe, solid

pytestmark = needs_ffprobe

FPS = 30
SECONDS = 8
PARTS = 4  # joins at 2 s, 4 s and 6 s (keyframe intervals of 60 frames)
# Solid colours, most changing away from the joins; one changes exactly at the join at 4 s, so the
# last frame of part 1 and the first of part 2 differ, and a frame off at that join shows.
SEGMENTS = [  # (start s, end s, rgb)
    (0.0, 1.5, (220, 30, 30)),
    (1.5, 2.5, (30, 200, 60)),
    (2.5, 4.0, (30, 60, 220)),
    (4.0, 6.5, (230, 220, 40)),
    (6.5, 8.0, (210, 40, 210)),
]
# Across every join, forwards and backwards, and inside the first and last parts.
SEEKS = [2.1, 1.9, 4.05, 3.98, 6.1, 5.9, 0.2, 7.9, 2.0, 4.0, 6.0, 1.0, 3.95, 4.01]

PAGE = """<!doctype html><html><body>
<video id="v" src="/chunked.mp4" muted preload="auto" playsinline></video>
<script>
window.seekAndSample = async (t) => {
  const v = document.getElementById("v");
  await new Promise((done) => { v.addEventListener("seeked", done, { once: true }); v.currentTime = t; });
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  const c = document.createElement("canvas");
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext("2d");
  g.drawImage(v, 0, 0);
  const d = g.getImageData(c.width >> 1, c.height >> 1, 1, 1).data;
  return { time: v.currentTime, rgb: [d[0], d[1], d[2]] };
};
</script></body></html>"""


def colour_at(seconds: float) -> tuple[int, int, int]:
    frame_start = int(seconds * FPS + 1e-6) / FPS  # the frame shown at `seconds`
    for start, end, rgb in SEGMENTS:
        if start <= frame_start < end:
            return rgb
    raise AssertionError(f"no segment at {seconds}")


@pytest.fixture
def chunked_mp4(tmp_path: Path) -> Path:
    sources = {
        f"c{i}": solid(tmp_path, f"c{i}.png", rgb, size=(90, 160)) for i, (_, _, rgb) in enumerate(SEGMENTS)
    }
    sources["tone"] = media_factory.wav_tone(tmp_path, "tone.wav", seconds=SECONDS)
    segments = [
        {"id": f"s{i}", "src": f"c{i}", "st": int(a * 1000), "d": int((b - a) * 1000)}
        for i, (a, b, _) in enumerate(SEGMENTS)
    ]
    draft = Draft.model_validate(
        {
            "d": SECONDS * 1000,
            "m": {"width": 180, "height": 320, "fps": FPS, "bg": "#000000"},
            "t": [
                {"id": "v", "tt": 0, "sg": segments},
                {"id": "m", "tt": 1, "sg": [{"id": "m", "src": "tone", "st": 0, "d": SECONDS * 1000}]},
            ],
        }
    )
    out = tmp_path / "chunked.mp4"
    result = render(draft, sources, out, OutputSpec(quality="medium"), device="cpu", parts=PARTS)
    assert result.parts == PARTS
    return out


@pytest.fixture
def served(chunked_mp4: Path) -> Iterator[str]:
    """The page and the file on 127.0.0.1 (Starlette's FileResponse answers range requests)."""
    app = FastAPI()
    app.add_api_route("/", lambda: HTMLResponse(PAGE))
    app.add_api_route("/chunked.mp4", lambda: FileResponse(chunked_mp4, media_type="video/mp4"))
    with LiveServer(app, "the video server") as server:
        yield server.base_url


def test_a_chunked_mp4_plays_and_seeks_across_its_joins_in_chromium(chromium: Any, served: str) -> None:
    context = chromium.new_context()
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(served + "/")
        assert page.evaluate("document.getElementById('v').canPlayType('video/mp4; codecs=\"avc1.64001f\"')")
        page.wait_for_function("document.getElementById('v').readyState >= 1", timeout=30_000)
        assert abs(page.evaluate("document.getElementById('v').duration") - SECONDS) < 0.05
        for t in SEEKS:
            got = page.evaluate("(t) => window.seekAndSample(t)", t)
            assert abs(got["time"] - t) < 1e-3, f"seek to {t} landed at {got['time']}"
            want = colour_at(t)
            assert all(abs(g - w) <= 40 for g, w in zip(got["rgb"], want, strict=True)), (
                f"at {t} s the frame drawn is {got['rgb']}, the timeline has {want}"
            )
        # and it plays through a join: from 1.8 s, currentTime passes 2.5 s
        page.evaluate(
            "(() => { const v = document.getElementById('v'); v.currentTime = 1.8; return v.play(); })()"
        )
        page.wait_for_function("document.getElementById('v').currentTime > 2.5", timeout=30_000)
        assert not errors
    finally:
        context.close()
