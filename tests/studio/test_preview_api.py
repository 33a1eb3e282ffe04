"""The preview routes and the studio's page over real HTTP: what the studio (or any client) gets.

The still of the draft at `t` is the export's frame at `t`: both are decoded to RGB and compared
by pixels (tolerance stated below).
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from PIL import Image

from tests import media_factory
from tests.conftest import bearer, create_session, get_anon_token

# The still is the compositor's frame as a JPEG (quality 88); the export's is the same frame after
# H.264 at quality "high" and swscale's YUV -> RGB. Measured on this fine-grid draft at 1080x1920:
# mean absolute difference 2.3-2.5 levels of 255 (a +1.4 bias in green between the two YUV -> RGB
# conversions), 99.9th percentile 18-23 (the grid's edges); the frames one before and after differ
# from the still by 4.5-8.2 on average, so the test also requires the still to match its own frame
# best.
MEAN_TOLERANCE = 4.0
P999_TOLERANCE = 32.0


def textured_photo(colour: tuple[int, int, int], size: tuple[int, int] = (720, 1280)) -> bytes:
    """A photo with fine detail everywhere (gradients and a grid), so a still that is off by a
    frame, a pixel or a colour conversion differs measurably from the export."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.array(colour, dtype=np.float32)
    pixels = base * (0.55 + 0.45 * (x / width))[..., None] * (0.7 + 0.3 * (y / height))[..., None]
    pixels[(x.astype(int) % 48 < 3) | (y.astype(int) % 48 < 3)] = 255
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def _turn(client: httpx.Client, token: str, sid: str, text: str) -> None:
    body = {
        "app_name": "nemo_agent",
        "user_id": "me",
        "session_id": sid,
        "new_message": {"parts": [{"text": text}]},
    }
    with client.stream("POST", "/run_sse", headers=bearer(token), json=body) as stream:
        assert stream.status_code == 200
        for _ in stream.iter_lines():
            pass


def _upload(client: httpx.Client, token: str, sid: str, files: dict[str, bytes]) -> list[dict[str, Any]]:
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files.items()]
    answer = client.post(f"/api/upload-video/nemo_agent/me/{sid}", headers=bearer(token), files=parts)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"]["files"])


def _state(client: httpx.Client, token: str, sid: str) -> dict[str, Any]:
    return dict(
        client.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=bearer(token)).json()["data"]["state"]
    )


def _wait_render(client: httpx.Client, token: str, render_id: str) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + 240
    while True:
        status = client.get(f"/api/render/proxy/lambda/{render_id}", headers=bearer(token)).json()
        if status["status"] in ("completed", "failed", "cancelled"):
            assert status["status"] == "completed", status
            return dict(status)
        assert time.monotonic() < deadline, status
        time.sleep(0.2)


def _video_frames(path: Path, wanted: list[int]) -> dict[int, np.ndarray]:
    """RGB of the video's frames by index, converted as the file is tagged (BT.709, limited)."""
    found: dict[int, np.ndarray] = {}
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                rgb = frame.reformat(
                    format="rgb24", src_colorspace="itu709", src_color_range="MPEG", dst_color_range="JPEG"
                )
                found[index] = rgb.to_ndarray().astype(np.float32)
            if len(found) == len(wanted):
                break
    return found


@pytest.mark.slow
def test_a_still_is_the_exported_frame_at_that_time(studio_server: httpx.Client, tmp_path: Path) -> None:
    client = studio_server
    token = get_anon_token(client)
    sid = create_session(client, token)
    colours = {"a.jpg": (220, 80, 60), "b.jpg": (60, 200, 120), "c.jpg": (70, 90, 230)}
    _upload(client, token, sid, {name: textured_photo(c) for name, c in colours.items()})
    _turn(client, token, sid, "make a vertical slideshow, 2 seconds each, with the title Summer")
    draft = _state(client, token, sid)["draft"]
    assert (draft["m"]["width"], draft["m"]["height"]) == (1080, 1920)

    body = {"id": "still_check", "sessionId": sid, "draft": draft, "output": {"quality": "high"}}
    assert client.post("/api/render/proxy/lambda", headers=bearer(token), json=body).status_code == 200
    done = _wait_render(client, token, "still_check")
    mp4 = tmp_path / "export.mp4"
    mp4.write_bytes(client.get(done["outputUrl"]).content)

    fps = draft["m"]["fps"]
    # a title fading in over a zooming photo, the middle of a crossfade, a photo alone, the last frame
    times = [0.4, 1.75, 2.6, draft["d"] / 1000 - 1 / fps]
    indices = [int(t * fps + 1e-6) for t in times]
    frames = _video_frames(mp4, sorted({i + k for i in indices for k in (-1, 0, 1)}))
    for t, index in zip(times, indices, strict=True):
        still = client.get(
            f"/api/state/nemo_agent/me/{sid}/preview/frame", params={"t": t}, headers=bearer(token)
        )
        assert still.status_code == 200 and still.headers["content-type"] == "image/jpeg"
        picture = np.asarray(Image.open(io.BytesIO(still.content)).convert("RGB"), dtype=np.float32)
        exported = frames[index]
        assert picture.shape == exported.shape == (1920, 1080, 3)
        diff = np.abs(picture - exported)
        mean, p999 = float(diff.mean()), float(np.percentile(diff, 99.9))
        neighbours = {
            k: round(float(np.abs(picture - frames[k]).mean()), 2)
            for k in (index - 1, index + 1)
            if k in frames
        }
        print(f"t={t:.3f}s: mean |diff| {mean:.2f}, 99.9th percentile {p999:.1f}; next to it: {neighbours}")
        assert mean < MEAN_TOLERANCE and p999 < P999_TOLERANCE, (t, mean, p999)
        # the still is that very frame, not one beside it
        assert all(mean < other for other in neighbours.values()), (t, mean, neighbours)
    # and a still at another time is measurably not that frame (the comparison can fail)
    other = client.get(
        f"/api/state/nemo_agent/me/{sid}/preview/frame", params={"t": 0.0}, headers=bearer(token)
    )
    picture = np.asarray(Image.open(io.BytesIO(other.content)).convert("RGB"), dtype=np.float32)
    assert float(np.abs(picture - frames[indices[2]]).mean()) > 10 * MEAN_TOLERANCE


def test_previews_thumbnails_waveforms_and_posters(studio_server: httpx.Client, tmp_path: Path) -> None:
    client = studio_server
    token = get_anon_token(client)
    sid = create_session(client, token)
    frame_url = f"/api/state/nemo_agent/me/{sid}/preview/frame"
    empty = client.get(frame_url, params={"t": 1}, headers=bearer(token))
    assert empty.status_code == 400 and "empty" in empty.json()["message"]

    photo = textured_photo((200, 120, 40), (640, 480))
    song = media_factory.mp3_tone(tmp_path, seconds=1.0).read_bytes()
    files = _upload(
        client, token, sid, {"p.jpg": photo, "q.jpg": textured_photo((40, 90, 200)), "s.mp3": song}
    )
    by_type = {f["file_type"]: f for f in reversed(files)}  # the first of each type

    thumb = client.get(
        f"/api/upload-video/nemo_agent/me/{sid}/{by_type['image']['media_id']}/thumbnail",
        headers=bearer(token),
    )
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(thumb.content)) as small:
        assert small.size == (320, 240)  # the photo's shape, long side 320
        typical = np.median(np.asarray(small.convert("RGB")).reshape(-1, 3), axis=0)
    assert typical[0] > 100 and typical[2] < 60, typical  # the orange photo, not the blue one
    sound = client.get(
        f"/api/upload-video/nemo_agent/me/{sid}/{by_type['audio']['media_id']}/thumbnail",
        headers=bearer(token),
    )
    assert sound.status_code == 404 and sound.json()["code"] == 4004

    _turn(client, token, sid, "make a slideshow with calm music")
    low = client.get(frame_url, params={"t": 0.5, "resolution": "480p"}, headers=bearer(token))
    with Image.open(io.BytesIO(low.content)) as still:
        draft = _state(client, token, sid)["draft"]
        short = min(draft["m"]["width"], draft["m"]["height"])
        assert min(still.size) == min(480, short)

    waves = client.get(f"/api/state/nemo_agent/me/{sid}/preview/waveform", headers=bearer(token)).json()[
        "data"
    ]
    music = [s for t in draft["t"] if t["tt"] == 1 for s in t["sg"]]
    assert [w["seg_id"] for w in waves["segments"]] == [s["id"] for s in music]
    peaks = waves["segments"][0]["peaks"]
    assert len(peaks) == round(waves["segments"][0]["duration_ms"] / 1000 * 20)
    assert max(peaks) == 1.0 and min(peaks) >= 0.0 and len(set(peaks)) > 5  # a shape, not a flat line

    started = client.post(f"/api/state/nemo_agent/me/{sid}/preview/render", headers=bearer(token), json={})
    assert started.status_code == 200 and started.json()["id"].startswith("preview_")
    done = _wait_render(client, token, started.json()["id"])
    assert min(done["output"]["width"], done["output"]["height"]) == min(480, short)
    noted = _state(client, token, sid)["generated_media"]
    assert [g["type"] for g in noted if g["url"] == done["outputUrl"]] == ["preview"]
    poster = client.get(f"/api/render/proxy/lambda/{done['id']}/poster", headers=bearer(token))
    assert poster.status_code == 200 and poster.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(poster.content)) as picture:
        assert (picture.width, picture.height) == (done["output"]["width"], done["output"]["height"])
        assert np.asarray(picture).std() > 5
    missing = client.get("/api/render/proxy/lambda/nope/poster", headers=bearer(token))
    assert missing.status_code == 404 and missing.json()["code"] == 4004

    projects = client.get("/api/tasks/me/nemo_agent", headers=bearer(token)).json()["data"]["projects"]
    assert [p["session_id"] for p in projects] == [sid]
    assert projects[0]["uploads"] == 3 and projects[0]["duration_ms"] == draft["d"]
    assert projects[0]["cover_media_id"] == by_type["image"]["media_id"]

    chat = client.get(f"/api/tasks/me/nemo_agent/{sid}/conversation", headers=bearer(token)).json()["data"]
    assert [m["role"] for m in chat["messages"]] == ["user", "model"]
    assert chat["messages"][0]["text"] == "make a slideshow with calm music"
    assert "make_slideshow" in chat["messages"][1]["tools"] and chat["messages"][1]["text"]

    # another user sees none of it: the session is "not found", exactly as for a missing one
    stranger = bearer(get_anon_token(client))
    for path in (
        f"{frame_url}?t=1",
        f"/api/state/nemo_agent/me/{sid}/preview/waveform",
        f"/api/upload-video/nemo_agent/me/{sid}/{by_type['image']['media_id']}/thumbnail",
        f"/api/tasks/me/nemo_agent/{sid}/conversation",
    ):
        refused = client.get(path, headers=stranger)
        assert refused.status_code == 404 and refused.json()["code"] == 1002, path
    assert (
        client.get(f"/api/render/proxy/lambda/{done['id']}/poster", headers=stranger).json()["code"] == 4004
    )
    assert client.get("/api/tasks/me/nemo_agent", headers=stranger).json()["data"]["projects"] == []
    assert client.get(f"{frame_url}?t=1").json()["code"] == 1001


def test_the_studio_page_runs_no_inline_script_and_sends_its_security_headers(
    studio_server: httpx.Client,
) -> None:
    for path in ("/", "/behind/proxy/workspace/claim?ct=clm_unknown"):
        page = studio_server.get(path)
        assert page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert (
            "script-src 'self';" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
        )
        assert "frame-ancestors 'none'" in policy
        assert page.headers["referrer-policy"] == "no-referrer"  # a claim link's secret stays put
        scripts = re.findall(r"<script\b[^>]*>", page.text)
        assert scripts and all(' src="' in tag for tag in scripts)
        assert not re.search(r"\son[a-z]+\s*=", page.text) and " style=" not in page.text
    prefixed = studio_server.get("/behind/proxy/workspace/claim?ct=clm_unknown")
    assert prefixed.status_code == 404 and 'src="/behind/proxy/studio/app.js"' in prefixed.text
    assert studio_server.get("/behind/proxy/studio/app.js").status_code == 200
    script = studio_server.get("/studio/app.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "content-security-policy" in script.headers
    for bad in ("/studio/../server/app.py", "/studio/nope.js", "/studio/index.html"):
        assert studio_server.get(bad).status_code == 404, bad


def test_a_claim_link_signs_the_studio_in_as_the_projects_owner(studio_server: httpx.Client) -> None:
    client = studio_server
    token = get_anon_token(client)
    sid = create_session(client, token)
    claim = client.post("/api/auth/claim-token", headers=bearer(token), json={"session_id": sid}).json()[
        "data"
    ]
    signed = client.post("/api/auth/claim", json={"claim_token": claim["claim_token"]})
    assert signed.status_code == 200
    data = signed.json()["data"]
    assert data["session_id"] == sid and data["token"].startswith("nmv_usr_") and data["token"] != token
    assert (
        client.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=bearer(data["token"])).status_code == 200
    )
    for dead in ("clm_" + "x" * 43, "nope", ""):
        refused = client.post("/api/auth/claim", json={"claim_token": dead})
        assert refused.status_code == 401 and refused.json()["code"] == 1001
        assert "expired" in refused.json()["message"]
