# ruff: noqa: E501  (the security.md -> test map is a wide table)
"""security.md, "Uploads (multipart and by URL)": every line, as a named test that can fail.

| security.md line                                   | test                                                         |
|----------------------------------------------------|--------------------------------------------------------------|
| limit ours; Content-Length rejected before reading | server/test_uploads::test_content_length_over_the_limit_is_refused_before_reading, |
|                                                    | test_a_request_over_the_total_cap_is_refused_before_reading  |
| count bytes streaming to a temp file under root    | test_an_upload_streams_into_a_temp_file_under_the_storage_root |
| stop at the limit (chunked bodies too)             | server/test_uploads::test_streamed_body_over_the_limit_stops_at_the_limit, |
|                                                    | test_a_chunked_request_over_the_total_cap_stops_reading      |
| the limit is per file (batch of files)             | test_each_file_has_its_own_limit_so_a_larger_batch_is_accepted, |
|                                                    | test_one_file_over_the_limit_is_4002_naming_it_and_the_rest_are_kept |
| nothing is left behind                             | every test here ends with `no_leftovers(...)`                |
| 200 MB upload: RSS grows < 50 MB                   | server/test_uploads::test_a_200_mb_upload_never_sits_in_memory |
| 10 at once < 150 MB and the API keeps answering    | test_ten_concurrent_uploads_stay_in_bounds_and_the_api_answers (10 x 50 MB here; |
|                                                    | 10 x 200 MB in `make load`: bench/load.py)                   |
| type sniffed from content, not extension/C-Type    | test_the_type_comes_from_content_not_the_name_or_content_type |
| text/HTML/SVG/PDF/EPS/PSD renamed .jpg -> 4001     | server/test_uploads::test_documents_renamed_as_media_are_4001 |
| Pillow opens only accepted formats; no EPS/GS      | renderer/test_probe::test_pillow_formats_outside_the_allow_list_are_never_opened |
| 20000x20000 PNG refused from its header            | server/test_uploads::test_pixel_bomb_is_4002_from_its_header, |
|                                                    | renderer/test_probe::test_pixel_bomb_is_refused_from_the_header |
| HEIC with absurd declared sizes; heif limits on    | test_heic_with_an_absurd_declared_size_is_refused            |
| "mp4" that is an HLS playlist (file:///etc/passwd) | test_an_hls_playlist_named_mp4_is_refused_and_opens_nothing  |
| ffconcat naming another user's upload              | test_an_ffconcat_script_naming_another_users_upload_is_refused |
| AVI carrying an HLS playlist                       | test_an_avi_carrying_an_hls_playlist_is_refused_and_opens_nothing |
| forced demuxer, protocol_whitelist=file, px cap    | renderer/test_probe::test_open_av_refuses_demuxers_outside_the_allow_list, |
|                                                    | renderer/test_probe::test_video_over_the_pixel_cap_is_refused |
| 8 hours at 1000 fps in 1 MB                        | test_media_claiming_8_hours_is_refused (two lies)            |
| 5000 streams                                       | test_a_file_with_5000_streams_is_refused                     |
| truncated files                                    | server/test_uploads::test_truncated_clip_is_refused, test_truncated_heic_is_refused, |
|                                                    | renderer/test_probe::test_truncated_files_are_corrupt        |
| mutated samples per format: 4xx, no 5xx, no crash  | test_mutated_samples_of_every_format_are_judged_never_crash (NEMO_FUZZ_CASES, |
|                                                    | 40 per format in CI, 500 in `make soak`), test_mutants_over_http_are_never_5xx |
| filenames are data, never paths                    | server/test_uploads::test_path_like_filenames_are_stored_under_server_names |
| outputs carry no GPS or other EXIF                 | test_a_rendered_photo_carries_no_gps_or_exif_into_the_mp4,   |
|                                                    | server/test_uploads::test_photo_proxy_is_made_upright_small_and_without_exif |
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from renderer.media.probe import MediaError
from server.config import RenderSettings, Settings
from server.errors import ApiError
from server.storage import Storage
from server.uploads import intake
from tests import media_factory as mf
from tests.conftest import bearer
from tests.ffprobe import ffprobe
from tests.security import hostile_media as hm

LIMIT_MB = 2
MB = 1024 * 1024
FUZZ_CASES = int(os.environ.get("NEMO_FUZZ_CASES", "40"))


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(max_upload_mb=LIMIT_MB, max_request_mb=8)


@pytest.fixture
def user(
    client: httpx.Client, anon_token: Callable[..., str], new_session: Callable[..., str]
) -> dict[str, Any]:
    token = anon_token(client)
    return {"token": token, "session": new_session(client, token), "headers": bearer(token)}


def upload(
    client: httpx.Client, user: dict[str, Any], files: list[tuple[str, bytes]], **kw: Any
) -> httpx.Response:
    parts = [("files", (name, data, kw.get("content_type", "image/jpeg"))) for name, data in files]
    return client.post(
        f"/api/upload-video/nemo_agent/me/{user['session']}", headers=user["headers"], files=parts
    )


def video_infos(client: httpx.Client, user: dict[str, Any]) -> list[dict[str, Any]]:
    answer = client.get(f"/api/state/nemo_agent/me/{user['session']}/latest", headers=user["headers"])
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"]["state"]["video_infos"])


def no_leftovers(settings: Settings) -> None:
    leftovers = [p for p in (settings.data_dir / "tmp").iterdir() if p.suffix != ".proxy"]
    assert leftovers == [], leftovers


def refused_4xx(answer: httpx.Response, name: str) -> dict[str, Any]:
    assert 400 <= answer.status_code < 500, answer.text
    body = answer.json()
    assert body["code"] in (4001, 4002), body
    assert name in body["message"]
    assert "Traceback" not in answer.text
    return dict(body)


def noise_png(path: Path, size_bytes: int) -> Path:
    """An incompressible PNG of about `size_bytes` (a real photo, so it is accepted)."""
    import numpy as np
    from PIL import Image

    side = int((size_bytes / 3) ** 0.5)
    rng = np.random.default_rng(size_bytes)
    Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)).save(path, compress_level=1)
    return path


# ---------------------------------------------------------------- size limits


def test_each_file_has_its_own_limit_so_a_larger_batch_is_accepted(
    client: httpx.Client, user: dict[str, Any], tmp_path: Path, settings: Settings
) -> None:
    # Three files of ~1.5 MB under a 2 MB per-file limit: 4.5 MB in all is fine.
    files = [noise_png(tmp_path / f"n{i}.png", int(1.5 * MB) + i * 1000) for i in range(3)]
    assert all(1.2 * MB < p.stat().st_size < LIMIT_MB * MB for p in files)
    answer = upload(client, user, [(p.name, p.read_bytes()) for p in files])
    assert answer.status_code == 200, answer.text
    assert [f["filename"] for f in answer.json()["data"]["files"]] == ["n0.png", "n1.png", "n2.png"]
    assert len(video_infos(client, user)) == 3
    no_leftovers(settings)


def test_one_file_over_the_limit_is_4002_naming_it_and_the_rest_are_kept(
    client: httpx.Client, user: dict[str, Any], tmp_path: Path, settings: Settings
) -> None:
    good = noise_png(tmp_path / "fine.png", MB)
    big = b"\xff\xd8\xff\xe0" + b"\0" * (LIMIT_MB * MB + 1)  # one byte over
    answer = upload(client, user, [("huge.jpg", big), ("fine.png", good.read_bytes())])
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert [f["filename"] for f in data["files"]] == ["fine.png"]
    assert data["errors"][0]["filename"] == "huge.jpg" and data["errors"][0]["code"] == 4002
    alone = upload(client, user, [("huge.jpg", big)])
    assert alone.status_code == 413
    assert refused_4xx(alone, "huge.jpg")["code"] == 4002
    assert len(video_infos(client, user)) == 1
    assert [p.name for p in (settings.data_dir / "media").rglob("*") if p.is_file()] == [
        f"{data['files'][0]['hash']}.png"
    ]
    no_leftovers(settings)


def test_a_request_over_the_total_cap_is_refused_before_reading(
    client: httpx.Client, user: dict[str, Any], settings: Settings
) -> None:
    # Raw HTTP: Content-Length promises 9 MB (cap 8 MB); the body never comes, the answer does.
    url = httpx.URL(str(client.base_url))
    with socket.create_connection((url.host, url.port), timeout=30) as sock:
        sock.sendall(
            (
                f"POST /api/upload-video/nemo_agent/me/{user['session']} HTTP/1.1\r\n"
                f"Host: {url.host}:{url.port}\r\nAuthorization: Bearer {user['token']}\r\n"
                "Content-Type: multipart/form-data; boundary=xyz\r\n"
                f"Content-Length: {9 * MB}\r\n\r\n"
            ).encode()
        )
        reply = b""
        while not reply.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert json.loads(body)["code"] == 4002 and "8 MB" in json.loads(body)["message"]
    no_leftovers(settings)


def _parts(boundary: str, sizes: list[int], pause: Callable[[], None] | None = None) -> Iterator[bytes]:
    for i, size in enumerate(sizes):
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="part{i}.jpg"\r\n\r\n'
        ).encode()
        yield b"\xff\xd8\xff\xe0"
        sent = 0
        while sent < size:
            yield b"\0" * 65536
            sent += 65536
            if pause is not None and sent == 512 * 1024:
                pause()
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()


def test_a_chunked_request_over_the_total_cap_stops_reading(
    client: httpx.Client, user: dict[str, Any], settings: Settings
) -> None:
    # Five files, each under the 2 MB file limit, 9.5 MB together: no Content-Length to trust.
    answer = client.post(
        f"/api/upload-video/nemo_agent/me/{user['session']}",
        headers={**user["headers"], "Content-Type": "multipart/form-data; boundary=bnd"},
        content=_parts("bnd", [int(1.9 * MB)] * 5),
    )
    assert answer.status_code == 413
    assert answer.json()["code"] == 4002 and "all files together" in answer.json()["message"]
    assert video_infos(client, user) == []
    no_leftovers(settings)


def test_an_upload_streams_into_a_temp_file_under_the_storage_root(
    client: httpx.Client, user: dict[str, Any], settings: Settings
) -> None:
    seen: list[list[Path]] = []

    def look() -> None:
        time.sleep(0.3)  # let the server write what it has received
        seen.append([p for p in settings.data_dir.rglob("*") if p.is_file() and p.parent.name == "tmp"])

    answer = client.post(
        f"/api/upload-video/nemo_agent/me/{user['session']}",
        headers={**user["headers"], "Content-Type": "multipart/form-data; boundary=bnd"},
        content=_parts("bnd", [MB], pause=look),
    )
    assert answer.status_code == 415  # zeros after a JPEG marker: refused by content
    (during,) = seen
    assert len(during) == 1 and during[0].parent == (settings.data_dir / "tmp")
    assert during[0].name != "part0.jpg"  # a server-made name
    no_leftovers(settings)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_ten_concurrent_uploads_stay_in_bounds_and_the_api_answers(
    make_app: Callable[..., Any],
    make_client: Callable[[Any], httpx.Client],
    make_settings: Callable[..., Settings],
    anon_token: Callable[..., str],
    new_session: Callable[..., str],
    tmp_path: Path,
) -> None:
    big = make_settings(max_upload_mb=60, data_dir=tmp_path / "big")
    client = make_client(make_app(big))
    token = anon_token(client)
    sid = new_session(client, token)
    baseline = peak = _rss_bytes()
    answers: list[int] = []
    polls: list[int] = []
    done = threading.Event()

    def one() -> None:
        with httpx.Client(base_url=client.base_url, timeout=300) as own:
            reply = own.post(
                f"/api/upload-video/nemo_agent/me/{sid}",
                headers={**bearer(token), "Content-Type": "multipart/form-data; boundary=bnd"},
                content=_parts("bnd", [50 * MB]),
            )
            answers.append(reply.status_code)

    threads = [threading.Thread(target=one) for _ in range(10)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        peak = max(peak, _rss_bytes())
        polls.append(client.get("/api/credits/balance/simple", headers=bearer(token)).status_code)
        time.sleep(0.05)
    done.set()
    assert answers == [415] * 10  # each received in full, counted, refused by content
    assert polls and set(polls) == {200}  # the API kept answering meanwhile
    assert peak - baseline < 150 * MB, f"RSS grew {(peak - baseline) / MB:.0f} MB"
    assert list((big.data_dir / "tmp").iterdir()) == []


# ---------------------------------------------------------------- what a file is


def test_the_type_comes_from_content_not_the_name_or_content_type(
    client: httpx.Client, user: dict[str, Any], tmp_path: Path
) -> None:
    photo = mf.png_tiny(tmp_path)
    clip = mf.mp4_clip(tmp_path)
    answer = upload(
        client,
        user,
        [("movie.mp4", photo.read_bytes()), ("picture.png", clip.read_bytes())],
        content_type="application/pdf",
    )
    assert answer.status_code == 200, answer.text
    files = answer.json()["data"]["files"]
    assert [(f["filename"], f["file_type"], f["format"]) for f in files] == [
        ("movie.mp4", "image", "png"),
        ("picture.png", "video", "mp4"),
    ]
    assert files[0]["storage_key"].endswith(".png") and files[1]["storage_key"].endswith(".mp4")


def test_heic_with_an_absurd_declared_size_is_refused(
    client: httpx.Client, user: dict[str, Any], tmp_path: Path, settings: Settings
) -> None:
    for side in (65_535, 100_000):
        path = hm.heic_absurd_size(tmp_path, f"absurd{side}.heic", side=side)
        answer = upload(client, user, [(path.name, path.read_bytes())])
        refused_4xx(answer, path.name)
    assert video_infos(client, user) == []
    assert list((settings.data_dir / "proxies").rglob("*.*")) == []
    no_leftovers(settings)


# ---------------------------------------------------------------- FFmpeg never follows anything


def test_an_hls_playlist_named_mp4_is_refused_and_opens_nothing(
    client: httpx.Client, user: dict[str, Any], tmp_path: Path, settings: Settings
) -> None:
    with hm.OpenSentinel(tmp_path / "secret.ts") as sentinel:
        for target in ("file:///etc/passwd", f"file://{sentinel.path}", str(sentinel.path)):
            path = hm.hls_naming(tmp_path, target)
            refused_4xx(upload(client, user, [(path.name, path.read_bytes())]), path.name)
        time.sleep(0.1)
    assert not sentinel.opened
    assert video_infos(client, user) == []
    no_leftovers(settings)


def test_an_ffconcat_script_naming_another_users_upload_is_refused(
    client: httpx.Client,
    user: dict[str, Any],
    anon_token: Callable[..., str],
    new_session: Callable[..., str],
    tmp_path: Path,
    settings: Settings,
) -> None:
    clip = mf.mp4_clip(tmp_path)
    victim = upload(client, user, [("private.mp4", clip.read_bytes())])
    assert victim.status_code == 200, victim.text
    stored = settings.data_dir / victim.json()["data"]["files"][0]["storage_key"]
    assert stored.is_file()
    token = anon_token(client)
    intruder = {"token": token, "session": new_session(client, token), "headers": bearer(token)}
    with hm.OpenSentinel(tmp_path / "watched.mp4") as sentinel:
        for target in (str(stored), str(sentinel.path)):
            script = hm.ffconcat_naming(tmp_path, target)
            refused_4xx(upload(client, intruder, [(script.name, script.read_bytes())]), script.name)
        time.sleep(0.1)
    assert not sentinel.opened
    assert video_infos(client, intruder) == []


def test_an_avi_carrying_an_hls_playlist_is_refused_and_opens_nothing(
    client: httpx.Client, user: dict[str, Any], tmp_path: Path, settings: Settings
) -> None:
    with hm.OpenSentinel(tmp_path / "segment.ts") as sentinel:
        for target in (f"file:{sentinel.path}", str(sentinel.path), "file:///etc/passwd"):
            path = hm.avi_with_hls_playlist(tmp_path, target)
            refused_4xx(upload(client, user, [(path.name, path.read_bytes())]), path.name)
        time.sleep(0.1)
    assert not sentinel.opened
    assert video_infos(client, user) == []
    no_leftovers(settings)


# ---------------------------------------------------------------- media that lies


def test_media_claiming_8_hours_is_refused(
    client: httpx.Client, user: dict[str, Any], tmp_path: Path, settings: Settings
) -> None:
    tables = hm.mp4_claiming_8_hours_at_1000_fps(tmp_path)
    assert tables.stat().st_size == MB
    refused_4xx(upload(client, user, [(tables.name, tables.read_bytes())]), tables.name)
    long = hm.mp4_frames_8_hours_long(tmp_path)
    answer = upload(client, user, [(long.name, long.read_bytes())])
    assert refused_4xx(answer, long.name)["code"] == 4002 and "hours" in answer.json()["message"]
    assert video_infos(client, user) == []
    no_leftovers(settings)


def test_a_file_with_5000_streams_is_refused(
    client: httpx.Client, user: dict[str, Any], tmp_path: Path, settings: Settings
) -> None:
    path = hm.mkv_with_streams(tmp_path, 5000)
    answer = upload(client, user, [(path.name, path.read_bytes())])
    refused_4xx(answer, path.name)
    assert "streams" in answer.json()["message"]
    no_leftovers(settings)


def _judge(storage: Storage, path: Path, name: str) -> str:
    """What the upload route would answer for these bytes: "ok", "4001"/"4002", or it raises."""
    tmp = storage.new_tmp_path()
    tmp.write_bytes(path.read_bytes())
    import hashlib

    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    try:
        item = intake(
            storage, tmp, filename=name, sha256=digest, size=tmp.stat().st_size, max_pixels=50_000_000
        )
    except ApiError as exc:
        assert int(exc.code) in (4001, 4002), exc.message
        return str(int(exc.code))
    return "ok" if item.key else "?"


def _decode_all(storage: Storage, key: str, kind: str) -> None:
    """What a render worker does with an accepted file: decode it; only MediaError/FFmpeg errors."""
    import av

    from renderer.media.probe import open_av, open_image

    path = storage.path_for(key)
    if kind == "image":
        with open_image(path) as img, contextlib.suppress(OSError, ValueError, SyntaxError, EOFError):
            img.load()
        return
    try:
        with open_av(path) as container:
            streams = [*container.streams.video, *container.streams.audio]  # what a render reads
            for count, _frame in enumerate(container.decode(*streams)):
                if count > 200:
                    break
    except (MediaError, av.FFmpegError):
        pass


def test_mutated_samples_of_every_format_are_judged_never_crash(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "data")
    seeds = hm.fuzz_seeds(tmp_path)
    outcomes: dict[str, dict[str, int]] = {}
    slowest = 0.0
    for fmt, seed_path in seeds.items():
        original = seed_path.read_bytes()
        counts: dict[str, int] = {}
        for case in range(FUZZ_CASES):
            rng = random.Random(f"{fmt}:{case}")
            mutant = tmp_path / f"mutant.{fmt}"
            mutant.write_bytes(hm.mutate(original, rng))
            started = time.monotonic()
            try:
                verdict = _judge(storage, mutant, mutant.name)
            except Exception as exc:  # would be a 5xx: name the case so it can be replayed
                raise AssertionError(f"{fmt} mutant {case} raised {type(exc).__name__}: {exc}") from exc
            if verdict == "ok":
                for key_path in storage.media_dir.rglob("*.*"):
                    _decode_all(storage, storage.key_for(key_path), "image" if fmt in (
                        "jpeg", "png", "gif", "webp", "heif") else "av")  # fmt: skip
                    key_path.unlink()
            slowest = max(slowest, time.monotonic() - started)
            counts[verdict] = counts.get(verdict, 0) + 1
        outcomes[fmt] = counts
    print(
        f"\nfuzz: {FUZZ_CASES} mutants x {len(seeds)} formats; slowest {slowest:.2f} s; {json.dumps(outcomes)}"
    )
    assert set(outcomes) == set(seeds)
    assert sum(n for counts in outcomes.values() for v, n in counts.items() if v != "ok") > 0
    assert list(storage.tmp_dir.iterdir()) == []


def test_mutants_over_http_are_never_5xx(
    client: httpx.Client, user: dict[str, Any], tmp_path: Path, settings: Settings
) -> None:
    seeds = hm.fuzz_seeds(tmp_path)
    statuses: list[int] = []
    for fmt, seed_path in seeds.items():
        original = seed_path.read_bytes()
        batch = [
            (f"m{case}.{fmt}", hm.mutate(original, random.Random(f"http:{fmt}:{case}"))) for case in range(3)
        ]
        answer = upload(client, user, batch)
        statuses.append(answer.status_code)
        assert answer.status_code in (200, 413, 415), answer.text
        body = answer.json()
        judged = (
            len(body["data"].get("files", [])) + len(body["data"]["errors"])
            if answer.status_code == 200
            else 3
        )
        assert judged == 3 or answer.status_code != 200
    assert 500 not in statuses
    no_leftovers(settings)


# ---------------------------------------------------------------- outputs


def test_a_rendered_photo_carries_no_gps_or_exif_into_the_mp4(
    make_settings: Callable[..., Settings],
    make_app: Callable[..., Any],
    make_client: Callable[[Any], httpx.Client],
    anon_token: Callable[..., str],
    new_session: Callable[..., str],
    tmp_path: Path,
) -> None:
    settings = make_settings(render=RenderSettings(workers=1, device="cpu", poll_seconds=0.05))
    client = make_client(make_app(settings, start_workers=True))
    token = anon_token(client)
    sid = new_session(client, token)
    photo = hm.jpeg_with_gps(tmp_path)
    with open(photo, "rb") as fh:
        answer = client.post(
            f"/api/upload-video/nemo_agent/me/{sid}", headers=bearer(token), files={"files": (photo.name, fh)}
        )
    assert answer.status_code == 200, answer.text
    src = answer.json()["data"]["files"][0]["cdn_url"]
    draft = {
        "d": 1000,
        "m": {"width": 160, "height": 284, "fps": 10, "bg": "#000000"},
        "t": [
            {"id": "v1", "tt": 0, "sg": [{"id": "p", "src": src, "st": 0, "d": 1000, "m": {"fit": "cover"}}]}
        ],
    }
    body = {"id": "gps-check", "sessionId": sid, "draft": draft, "output": {"quality": "low"}}
    assert client.post("/api/render/proxy/lambda", json=body, headers=bearer(token)).status_code == 200
    deadline = time.monotonic() + 180
    while (status := client.get("/api/render/proxy/lambda/gps-check", headers=bearer(token)).json())[
        "status"
    ] not in ("completed", "failed", "cancelled"):
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    assert status["status"] == "completed", status
    out = tmp_path / "out.mp4"
    out.write_bytes(client.get(status["outputUrl"], headers=bearer(token)).content)
    probed = ffprobe(out)
    text = json.dumps(probed).lower()
    for leaked in ("spycam", "model-gps-7", "home address", "gps", "48.85", "+48", "iso6709"):
        assert leaked not in text, leaked
    tags = {k.lower() for k in probed["format"].get("tags", {})}
    for stream in probed["streams"]:
        tags |= {k.lower() for k in stream.get("tags", {})}
    assert not tags & {"location", "location-eng", "com.apple.quicktime.location.iso6709", "make", "model"}
