"""POST /api/upload-video/...: multipart uploads judged by content, streamed under a limit, stored
content-addressed, added to the session; GET /media/...: what cdn_url points at."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlmodel import Session, select

from server.config import Settings
from server.storage import Storage
from server.tables import Media
from tests import media_factory as mf
from tests.conftest import bearer
from tests.ffprobe import ffprobe

LIMIT_MB = 2


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(max_upload_mb=LIMIT_MB)


@pytest.fixture
def user(
    client: httpx.Client, anon_token: Callable[..., str], new_session: Callable[..., str]
) -> dict[str, Any]:
    token = anon_token(client)
    return {"token": token, "session": new_session(client, token), "headers": bearer(token)}


def upload(
    client: httpx.Client,
    user: dict[str, Any],
    paths: list[Path],
    *,
    names: list[str] | None = None,
    field: str = "files",
) -> httpx.Response:
    names = names or [p.name for p in paths]
    files = [(field, (name, p.read_bytes(), "image/jpeg")) for name, p in zip(names, paths, strict=True)]
    return client.post(
        f"/api/upload-video/nemo_agent/me/{user['session']}", headers=user["headers"], files=files
    )


def state(client: httpx.Client, user: dict[str, Any]) -> dict[str, Any]:
    answer = client.get(f"/api/state/nemo_agent/me/{user['session']}/latest", headers=user["headers"])
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["state"]


def tmp_dir_of(settings: Settings) -> list[Path]:
    """Upload leftovers; a background proxy being written right now (`*.proxy`) is not one."""
    return [p for p in (settings.data_dir / "tmp").iterdir() if p.suffix != ".proxy"]


def test_ten_photo_formats_in_one_batch(client: httpx.Client, user: dict[str, Any], tmp_path: Path) -> None:
    photos = mf.ten_photos(tmp_path)
    answer = upload(client, user, photos)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["code"] == 0
    data = body["data"]
    assert data["session_state_applied"] is True
    assert data["errors"] == []
    files = data["files"]
    assert [f["filename"] for f in files] == [p.name for p in photos]
    sizes = {f["filename"]: (f["width"], f["height"]) for f in files}
    assert sizes["rotated.jpg"] == (300, 400)  # EXIF orientation 6 applied
    assert sizes["photo.heic"] == (640, 480)
    assert sizes["big12mp.jpg"] == (4000, 3000)
    assert sizes["tiny.png"] == (16, 12)
    for f, path in zip(files, photos, strict=True):
        assert f["file_type"] == "image"
        assert f["media_id"].startswith("media_")
        assert f["size"] == path.stat().st_size
        assert len(f["hash"]) == 64
        assert f["cdn_url"].startswith(str(client.base_url))
    assert next(f for f in files if f["filename"] == "anim.gif")["duration"] == pytest.approx(0.6)
    infos = state(client, user)["video_infos"]
    assert [i["media_id"] for i in infos] == [f["media_id"] for f in files]


def test_clips_and_audio_report_their_facts(
    client: httpx.Client, user: dict[str, Any], tmp_path: Path
) -> None:
    media = [*mf.video_set(tmp_path), mf.mp4_rotated(tmp_path), *mf.audio_set(tmp_path)]
    answer = upload(client, user, media)
    assert answer.status_code == 200, answer.text
    files = answer.json()["data"]["files"]
    assert len(files) == len(media)
    for f, path in zip(files, media, strict=True):
        info = ffprobe(path)
        kinds = {s["codec_type"] for s in info["streams"]}
        assert f["file_type"] == ("video" if "video" in kinds else "audio"), path.name
        assert f["duration"] == pytest.approx(float(info["format"]["duration"]), abs=0.15)
        assert f["has_audio"] == ("audio" in kinds)
        if f["file_type"] == "audio":
            assert f["width"] is None and f["fps"] is None
    rotated = next(f for f in files if f["filename"] == "rotated.mp4")
    assert (rotated["width"], rotated["height"]) == (90, 160)
    clip = next(f for f in files if f["filename"] == "clip.webm")
    assert (clip["width"], clip["height"], clip["fps"]) == (160, 90, 10.0)


def test_single_file_field_is_accepted(client: httpx.Client, user: dict[str, Any], tmp_path: Path) -> None:
    answer = upload(client, user, [mf.webp_photo(tmp_path)], field="file")
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["files"][0]["file_type"] == "image"


REFUSED = mf.IMPOSTORS


@pytest.mark.parametrize("make", REFUSED, ids=[m.__name__ for m in REFUSED])
def test_documents_renamed_as_media_are_4001(
    client: httpx.Client,
    user: dict[str, Any],
    tmp_path: Path,
    settings: Settings,
    make: Callable[[Path], Path],
) -> None:
    path = make(tmp_path)
    answer = upload(client, user, [path])
    assert answer.status_code == 415
    body = answer.json()
    assert body["code"] == 4001
    assert path.name in body["message"]
    assert body["data"]["errors"][0]["filename"] == path.name
    assert tmp_dir_of(settings) == []
    assert list((settings.data_dir / "media").rglob("*.*")) == []
    assert state(client, user)["video_infos"] == []


def test_one_bad_file_fails_only_itself(
    client: httpx.Client, user: dict[str, Any], tmp_path: Path, settings: Settings
) -> None:
    good = [mf.jpeg_exif_rotated(tmp_path), mf.png_rgba(tmp_path)]
    bad = mf.pdf_as_jpg(tmp_path)
    answer = upload(client, user, [good[0], bad, good[1]])
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert [f["filename"] for f in data["files"]] == ["rotated.jpg", "alpha.png"]
    assert data["errors"] == [{"filename": "doc.jpg", "code": 4001, "message": data["errors"][0]["message"]}]
    assert "doc.jpg" in data["errors"][0]["message"]
    assert len(state(client, user)["video_infos"]) == 2
    assert tmp_dir_of(settings) == []


def test_pixel_bomb_is_4002_from_its_header(
    client: httpx.Client, user: dict[str, Any], tmp_path: Path
) -> None:
    bomb = mf.png_bomb(tmp_path)
    answer = upload(client, user, [bomb])
    assert answer.status_code == 413
    assert answer.json()["code"] == 4002
    assert "pixels" in answer.json()["message"]


def test_truncated_clip_is_refused(client: httpx.Client, user: dict[str, Any], tmp_path: Path) -> None:
    cut = mf.truncated(mf.mp4_clip(tmp_path), tmp_path, keep=0.4)
    answer = upload(client, user, [cut])
    assert answer.status_code == 415
    assert answer.json()["code"] == 4001


def test_path_like_filenames_are_stored_under_server_names(
    client: httpx.Client, user: dict[str, Any], tmp_path: Path, settings: Settings
) -> None:
    photo = mf.png_tiny(tmp_path)
    names = ["../../etc/passwd", "/abs/path/evil.png", "a\x00b.png", "..\\..\\win.png", "x" * 5000 + ".png"]
    answer = upload(client, user, [photo] * len(names), names=names)
    assert answer.status_code == 200, answer.text
    stored = [f["filename"] for f in answer.json()["data"]["files"]]
    assert stored[0] == "passwd"
    assert stored[1] == "evil.png"
    assert "\x00" not in stored[2] and "/" not in "".join(stored)
    assert stored[3] == "win.png"
    assert len(stored[4]) <= 255 and stored[4].endswith(".png")
    # Only the content-addressed name exists in the media dir; nothing was written elsewhere.
    digest = answer.json()["data"]["files"][0]["hash"]
    assert [p.name for p in (settings.data_dir / "media").rglob("*") if p.is_file()] == [f"{digest}.png"]
    assert not (tmp_path / "etc").exists() and not Path("/abs/path/evil.png").exists()
    keys = {f["storage_key"] for f in answer.json()["data"]["files"]}
    assert len(keys) == 1  # the same bytes five times: stored once


def test_content_length_over_the_limit_is_refused_before_reading(
    client: httpx.Client, user: dict[str, Any], settings: Settings
) -> None:
    # Raw HTTP: headers promise 10 GB, no body is ever sent; the answer must come anyway.
    url = httpx.URL(str(client.base_url))
    with socket.create_connection((url.host, url.port), timeout=30) as sock:
        sock.sendall(
            (
                f"POST /api/upload-video/nemo_agent/me/{user['session']} HTTP/1.1\r\n"
                f"Host: {url.host}:{url.port}\r\n"
                f"Authorization: Bearer {user['token']}\r\n"
                "Content-Type: multipart/form-data; boundary=xyz\r\n"
                f"Content-Length: {10 * 1024**3}\r\n\r\n"
            ).encode()
        )
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert json.loads(body)["code"] == 4002
    assert tmp_dir_of(settings) == []


def _chunked_body(boundary: str, size: int) -> Iterator[bytes]:
    yield f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.jpg"\r\n\r\n'.encode()
    yield b"\xff\xd8\xff\xe0"
    sent = 0
    while sent < size:
        yield b"\0" * 65536
        sent += 65536
    yield f"\r\n--{boundary}--\r\n".encode()


def test_streamed_body_over_the_limit_stops_at_the_limit(
    client: httpx.Client, user: dict[str, Any], settings: Settings
) -> None:
    # A generator body goes out chunked: no Content-Length to trust, only the byte count.
    answer = client.post(
        f"/api/upload-video/nemo_agent/me/{user['session']}",
        headers={**user["headers"], "Content-Type": "multipart/form-data; boundary=b0undary"},
        content=_chunked_body("b0undary", (LIMIT_MB + 3) * 1024 * 1024),
    )
    assert answer.status_code == 413
    assert answer.json()["code"] == 4002
    assert "big.jpg" in answer.json()["message"]
    assert tmp_dir_of(settings) == []
    assert state(client, user)["video_infos"] == []


def test_a_file_just_under_the_limit_is_accepted(
    client: httpx.Client, user: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "noise.png"
    import numpy as np

    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (700, 900, 3), dtype=np.uint8)).save(path)  # ~1.9 MB, incompressible
    assert LIMIT_MB * 1024 * 1024 * 0.8 < path.stat().st_size < LIMIT_MB * 1024 * 1024
    answer = upload(client, user, [path])
    assert answer.status_code == 200, answer.text


def test_another_users_session_is_1002(
    client: httpx.Client, user: dict[str, Any], anon_token: Callable[..., str], tmp_path: Path
) -> None:
    intruder = {"token": anon_token(client), "session": user["session"]}
    intruder["headers"] = bearer(intruder["token"])
    answer = upload(client, intruder, [mf.png_tiny(tmp_path)])
    assert answer.status_code == 404
    assert answer.json()["code"] == 1002
    missing = {**user, "session": "1234567890123456789"}
    assert upload(client, missing, [mf.png_tiny(tmp_path)]).json()["code"] == 1002
    assert state(client, user)["video_infos"] == []


def test_no_token_is_1001(client: httpx.Client, user: dict[str, Any], tmp_path: Path) -> None:
    answer = upload(client, {**user, "headers": {}}, [mf.png_tiny(tmp_path)])
    assert answer.status_code == 401
    assert answer.json()["code"] == 1001


def test_no_files_or_wrong_body_is_400(client: httpx.Client, user: dict[str, Any]) -> None:
    url = f"/api/upload-video/nemo_agent/me/{user['session']}"
    answer = client.post(url, headers=user["headers"], files={"other": ("a.txt", b"x")})
    assert answer.status_code == 400
    answer = client.post(url, headers={**user["headers"], "Content-Type": "text/plain"}, content=b"hello")
    assert answer.status_code == 400
    answer = client.post(url, headers=user["headers"], json={"urls": []})
    assert answer.status_code == 400


def test_cdn_url_serves_the_bytes_with_range(
    client: httpx.Client, user: dict[str, Any], tmp_path: Path
) -> None:
    clip = mf.mp4_clip(tmp_path)
    info = upload(client, user, [clip]).json()["data"]["files"][0]
    data = clip.read_bytes()
    whole = httpx.get(info["cdn_url"])
    assert whole.status_code == 200
    assert whole.content == data
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["content-disposition"].startswith("inline")
    part = httpx.get(info["cdn_url"], headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"


@pytest.mark.parametrize(
    "path",
    [
        "media/00/" + "0" * 64 + ".jpg",
        "media/../nemo.db",
        "..%2Fnemo.db",
        "tmp/x",
        "nemo.db",
        "renders/x.mp4",
    ],
)
def test_unknown_or_unsafe_media_paths_are_404(client: httpx.Client, path: str) -> None:
    answer = client.get(f"/media/{path}")
    assert answer.status_code == 404
    assert answer.json()["code"] == 4004


def test_photo_proxy_is_made_upright_small_and_without_exif(
    client: httpx.Client, user: dict[str, Any], tmp_path: Path, app: Any
) -> None:
    photos = [
        mf.jpeg_exif_rotated(tmp_path),
        mf.jpeg_12mp(tmp_path),
        mf.png_rgba(tmp_path),
        mf.gif_animated(tmp_path),
    ]
    files = upload(client, user, photos).json()["data"]["files"]
    engine = app.state.ctx.engine
    deadline = time.monotonic() + 60
    proxies: dict[str, str] = {}
    while time.monotonic() < deadline and len(proxies) < 3:
        with Session(engine) as db:
            for row in db.exec(select(Media)).all():
                key = json.loads(row.info_json).get("proxy_key")
                if key:
                    proxies[row.filename] = key
        time.sleep(0.05)
    assert set(proxies) == {"rotated.jpg", "big12mp.jpg", "alpha.png"}  # none for the animation
    storage = app.state.ctx.storage
    with Image.open(storage.path_for(proxies["rotated.jpg"])) as img:
        assert img.size == (300, 400)
        assert not img.getexif()
        top, bottom = img.getpixel((150, 20)), img.getpixel((150, 390))
        assert top[0] > 150 and top[2] < 100  # the red band is on top: upright
        assert bottom[1] > 150 and bottom[0] < 100  # green at the bottom
    with Image.open(storage.path_for(proxies["big12mp.jpg"])) as img:
        assert max(img.size) == 3840 and img.format == "JPEG"
    with Image.open(storage.path_for(proxies["alpha.png"])) as img:
        assert img.mode == "RGBA" and img.getpixel((0, 0))[3] == 0
    # Served like an upload, under its own keyed link (a proxy's link is not guessable from the upload's).
    base = files[0]["cdn_url"].split("/media/", 1)[0]
    assert (
        client.get(
            files[0]["cdn_url"].replace(
                files[0]["storage_key"].removeprefix("media/"), proxies["rotated.jpg"]
            )
        ).status_code
        == 404
    )
    proxy_url = client.get(Storage.public_url(proxies["rotated.jpg"], base, app.state.ctx.secret))
    assert proxy_url.status_code == 200 and proxy_url.headers["content-type"] == "image/jpeg"


def test_heic_proxy_is_made_during_the_upload(
    client: httpx.Client, user: dict[str, Any], tmp_path: Path, app: Any
) -> None:
    info = upload(client, user, [mf.heic_photo(tmp_path)]).json()["data"]["files"][0]
    with Session(app.state.ctx.engine) as db:
        row = db.get(Media, info["media_id"])
    assert row is not None
    key = json.loads(row.info_json)["proxy_key"]
    with Image.open(app.state.ctx.storage.path_for(key)) as img:
        assert img.size == (640, 480) and img.format == "JPEG"


def test_truncated_heic_is_refused(client: httpx.Client, user: dict[str, Any], tmp_path: Path) -> None:
    cut = mf.truncated(mf.heic_photo(tmp_path, size=(1280, 960)), tmp_path, keep=0.6)
    answer = upload(client, user, [cut])
    assert answer.status_code == 415
    assert answer.json()["code"] == 4001


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_a_200_mb_upload_never_sits_in_memory(
    make_app: Callable[..., Any],
    make_client: Callable[[Any], httpx.Client],
    make_settings: Callable[..., Settings],
    anon_token: Callable[..., str],
    new_session: Callable[..., str],
    tmp_path: Path,
) -> None:
    big_settings = make_settings(max_upload_mb=210, data_dir=tmp_path / "big")
    client = make_client(make_app(big_settings))
    token = anon_token(client)
    sid = new_session(client, token)
    peak = baseline = _rss_bytes()
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _rss_bytes())
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        # 200 MB of a "JPEG" that is not one: received in full, counted, then refused by content.
        answer = client.post(
            f"/api/upload-video/nemo_agent/me/{sid}",
            headers={**bearer(token), "Content-Type": "multipart/form-data; boundary=b0undary"},
            content=_chunked_body("b0undary", 200 * 1024 * 1024),
        )
    finally:
        stop.set()
        sampler.join()
    assert answer.status_code == 415, answer.text
    assert peak - baseline < 50 * 1024 * 1024
    assert list((big_settings.data_dir / "tmp").iterdir()) == []


def _hex_rgb(value: str) -> tuple[int, int, int]:
    assert value.startswith("#") and len(value) == 7, value
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


def _near(found: str, wanted: tuple[int, int, int], tolerance: int = 24) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(_hex_rgb(found), wanted, strict=True))


def test_state_lists_uploads_as_the_upload_answered_with_per_media_analyses(
    client: httpx.Client, user: dict[str, Any], tmp_path: Path
) -> None:
    # A landscape photo, two thirds orange and one third teal: its colours, most covered first.
    photo = tmp_path / "sunset.jpg"
    img = Image.new("RGB", (600, 300), (240, 120, 30))
    img.paste((20, 150, 160), (400, 0, 600, 300))
    img.save(photo, quality=95)
    media = [photo, mf.mp4_rotated(tmp_path), mf.wav_tone(tmp_path)]
    answer = upload(client, user, media)
    assert answer.status_code == 200, answer.text
    files = answer.json()["data"]["files"]
    got = state(client, user)
    # api-contract.md: `video_infos` holds the upload file objects "as above": the same keys,
    # nulls included (a photo's duration and fps), not a thinned copy.
    assert got["video_infos"] == files
    assert all({"duration", "width", "height", "fps", "warnings"} <= set(f) for f in got["video_infos"])

    analyses = got["video_analyses"]
    photo_id, clip_id, song_id = (f["media_id"] for f in files)
    assert set(analyses) == {photo_id, clip_id, song_id}
    assert analyses[photo_id]["orientation"] == "landscape"
    colors = analyses[photo_id]["dominant_colors"]
    assert _near(colors[0], (240, 120, 30)) and _near(colors[1], (20, 150, 160)), colors
    assert analyses[clip_id]["orientation"] == "portrait"  # 160x90 stored, shown turned
    assert any(_near(c, mf.RED, 40) for c in analyses[clip_id]["dominant_colors"])  # its red band
    assert analyses[song_id]["file_type"] == "audio" and "orientation" not in analyses[song_id]


def test_url_uploads_sent_without_a_content_type_are_read_as_json(
    client: httpx.Client, user: dict[str, Any]
) -> None:
    body = b'{"urls": ["http://127.0.0.1:9/x.jpg"], "source_type": "url"}'
    answer = client.post(
        f"/api/upload-video/nemo_agent/me/{user['session']}", headers=user["headers"], content=body
    )
    # The URL itself is refused (loopback), which shows the body was read as the JSON it is.
    assert answer.status_code == 400 and answer.json()["code"] == 4003, answer.text
    assert answer.json()["data"]["errors"][0]["filename"] == "x.jpg"
