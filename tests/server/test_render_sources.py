"""What a draft's `src` may name: the caller's uploads (cdn_url or media_id), built-in music, or a
foreign URL fetched through the guarded downloader. Checked by rendering and looking at pixels."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import media_factory
import numpy as np
import pytest
from fastapi import FastAPI

from server.config import RenderSettings, Settings
from server.fetch_url import FetchPolicy, UrlFetcher
from tests.conftest import bearer


@pytest.fixture
def live(
    make_settings: Callable[..., Settings],
    make_app: Callable[..., FastAPI],
    make_client: Callable[[FastAPI], httpx.Client],
) -> tuple[FastAPI, httpx.Client]:
    settings = make_settings(
        render=RenderSettings.model_validate({"workers": 1, "device": "cpu", "poll_seconds": 0.05})
    )
    app = make_app(settings, start_workers=True)
    return app, make_client(app)


def _upload(client: httpx.Client, token: str, sid: str, path: Path) -> dict[str, Any]:
    with open(path, "rb") as fh:
        answer = client.post(
            f"/api/upload-video/nemo_agent/me/{sid}", headers=bearer(token), files={"files": (path.name, fh)}
        )
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["files"][0]  # type: ignore[no-any-return]


def _render(
    client: httpx.Client, token: str, sid: str, draft: dict[str, Any], render_id: str
) -> dict[str, Any]:
    body = {"id": render_id, "sessionId": sid, "draft": draft, "output": {"quality": "low"}}
    answer = client.post("/api/render/proxy/lambda", json=body, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    deadline = time.monotonic() + 120
    while True:
        status = client.get(f"/api/render/proxy/lambda/{render_id}", headers=bearer(token)).json()
        if status["status"] in ("completed", "failed", "cancelled"):
            return status  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, status
        time.sleep(0.1)


def _draft(photo_srcs: list[str], audio_src: str) -> dict[str, Any]:
    each = 1000
    total = each * len(photo_srcs)
    return {
        "d": total,
        "m": {"width": 160, "height": 284, "fps": 10, "bg": "#000000"},
        "t": [
            {"id": "v1", "tt": 0, "sg": [
                {"id": f"p{i}", "src": src, "st": i * each, "d": each, "m": {"fit": "cover"}}
                for i, src in enumerate(photo_srcs)]},
            {"id": "a1", "tt": 1, "sg": [
                {"id": "m", "src": audio_src, "st": 0, "d": total, "m": {"loop": True}}]},
        ],
    }  # fmt: skip


def _centre_pixels(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as box:
        return [f.to_ndarray(format="rgb24")[142, 80].astype(int) for f in box.decode(video=0)]


def test_uploads_by_cdn_url_and_media_id_render_as_the_photo(
    live: tuple[FastAPI, httpx.Client],
    anon_token: Callable[..., str],
    new_session: Callable[..., str],
    tmp_path: Path,
) -> None:
    _, client = live
    token = anon_token(client)
    sid = new_session(client, token)
    photo = tmp_path / "upright.png"
    media_factory.upright_reference().save(photo)
    song = media_factory.wav_tone(tmp_path)
    photo_info = _upload(client, token, sid, photo)
    song_info = _upload(client, token, sid, song)

    draft = _draft([photo_info["cdn_url"], photo_info["media_id"]], song_info["cdn_url"])
    status = _render(client, token, sid, draft, "from_uploads")
    assert status["status"] == "completed", status
    out = tmp_path / "out.mp4"
    out.write_bytes(client.get(status["outputUrl"], headers=bearer(token)).content)
    centres = _centre_pixels(out)
    assert len(centres) == 20
    for rgb in centres:  # the photo's blue body fills the middle of every frame
        assert np.abs(rgb - np.array(media_factory.BLUE)).max() < 40, rgb
    with av.open(str(out)) as box:
        assert [s.type for s in box.streams] == ["video", "audio"]


def test_another_users_upload_is_refused_naming_the_segment(
    live: tuple[FastAPI, httpx.Client],
    anon_token: Callable[..., str],
    new_session: Callable[..., str],
    tmp_path: Path,
) -> None:
    _, client = live
    owner = anon_token(client)
    photo = tmp_path / "p.png"
    media_factory.upright_reference().save(photo)
    info = _upload(client, owner, new_session(client, owner), photo)

    thief = anon_token(client)
    sid = new_session(client, thief)
    for src in (info["cdn_url"], info["media_id"]):
        body = {"id": f"steal_{len(src)}", "sessionId": sid, "draft": _draft([src], "builtin:lofi")}
        answer = client.post("/api/render/proxy/lambda", json=body, headers=bearer(thief))
        assert answer.status_code == 400, answer.text
        assert "draft.t.0.sg.0.src" in answer.json()["message"]


class _OneFile(http.server.BaseHTTPRequestHandler):
    payload = b""
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Type", "audio/wav")
        self.send_header("Content-Length", str(len(self.payload)))
        self.end_headers()
        self.wfile.write(self.payload)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def song_server(tmp_path: Path) -> Iterator[tuple[int, type[_OneFile]]]:
    handler = type(
        "Song", (_OneFile,), {"payload": media_factory.wav_tone(tmp_path, seconds=1.0).read_bytes()}
    )
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], handler
    httpd.shutdown()
    httpd.server_close()


def test_foreign_url_is_fetched_through_the_guard(
    live: tuple[FastAPI, httpx.Client],
    anon_token: Callable[..., str],
    new_session: Callable[..., str],
    song_server: tuple[int, type[_OneFile]],
    tmp_path: Path,
) -> None:
    app, client = live
    port, handler = song_server

    async def resolver(host: str, _port: int) -> list[str]:  # the DNS boundary: one name, on loopback
        assert host == "music.example"
        return ["127.0.0.1"]

    policy = FetchPolicy(max_bytes=10 * 1024 * 1024, allowed_ports=frozenset({port}), allow_loopback=True)
    app.state.ctx.extras["url_fetcher"] = UrlFetcher(policy, resolver=resolver)
    token = anon_token(client)
    sid = new_session(client, token)
    photo = tmp_path / "p.png"
    media_factory.upright_reference().save(photo)
    info = _upload(client, token, sid, photo)

    status = _render(
        client, token, sid, _draft([info["cdn_url"]], f"http://music.example:{port}/song.wav"), "r"
    )
    assert status["status"] == "completed", status
    assert handler.hits == 1
    out = tmp_path / "o.mp4"
    out.write_bytes(client.get(status["outputUrl"], headers=bearer(token)).content)
    with av.open(str(out)) as box:
        assert [s.type for s in box.streams] == ["video", "audio"]
