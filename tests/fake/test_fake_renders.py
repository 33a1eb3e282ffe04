"""Renders in fake mode: real MP4s, small and fast; failure, slowness and a stuck job on demand."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from fake_client import Client, small_draft


def _uploaded(client: Client, count: int) -> tuple[str, list[str]]:
    session = client.new_session()
    answer = client.upload_photos(session, count)
    assert answer.status_code == 200
    return session, [f["cdn_url"] for f in answer.json()["data"]["files"]]


def _wait_for(client: Client, render_id: str, statuses: set[str], limit: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + limit
    while True:
        status = client.render_status(render_id)
        if status["status"] in statuses or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def _probe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return {s["codec_type"]: s for s in json.loads(out.stdout)["streams"]}


def test_a_fake_render_is_a_small_valid_mp4(nemo_fake: Any, client: Client, tmp_path: Path) -> None:
    session, urls = _uploaded(client, 2)
    assert client.render(session, "render_1", small_draft(urls)).status_code == 200

    done = _wait_for(client, "render_1", {"completed", "failed"})
    assert done["status"] == "completed", done
    assert (done["output"]["width"], done["output"]["height"]) == (240, 428)
    download = client.http.get("/api/render/proxy/render_1/download", headers=client.auth())
    assert download.status_code == 200
    (tmp_path / "out.mp4").write_bytes(download.content)
    video = _probe(tmp_path / "out.mp4")["video"]
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 240, 428)


def test_full_size_on_request(nemo_fake: Any, client: Client) -> None:
    session, urls = _uploaded(client, 1)
    draft = small_draft(urls, width=320, height=568)
    assert client.render(session, "full", draft, fake_full_size=True).status_code == 200

    done = _wait_for(client, "full", {"completed", "failed"})
    assert (done["status"], done["output"]["width"], done["output"]["height"]) == ("completed", 320, 568)


def test_a_failed_render(nemo_fake: Any, client: Client) -> None:
    session, urls = _uploaded(client, 1)
    nemo_fake.fault(render="fail", message="out of GPU memory")
    submitted = client.render(session, "render_fail", small_draft(urls))
    assert submitted.status_code == 200 and submitted.json()["status"] == "pending"

    failed = _wait_for(client, "render_fail", {"completed", "failed"})
    assert failed["status"] == "failed"
    assert failed["error"] == {"code": "render_failed", "message": "out of GPU memory"}
    assert failed["data"]["status"] == "failed" and failed["outputUrl"] is None
    download = client.http.get("/api/render/proxy/render_fail/download", headers=client.auth())
    assert download.status_code == 404 and download.json()["code"] == 4004


def test_a_stuck_render_stays_processing_until_cancelled(nemo_fake: Any, client: Client) -> None:
    session, urls = _uploaded(client, 1)
    nemo_fake.fault(render="stuck")
    client.render(session, "render_stuck", small_draft(urls))

    stuck = _wait_for(client, "render_stuck", {"processing"})
    assert stuck["status"] == "processing"
    for _ in range(5):
        assert client.render_status("render_stuck")["status"] == "processing"
        time.sleep(0.1)
    cancel = client.http.post("/api/render/proxy/lambda/render_stuck/cancel", headers=client.auth())
    assert cancel.status_code == 200
    final = _wait_for(client, "render_stuck", {"failed"})
    assert final["status"] == "failed" and final["error"]["code"] == "cancelled"


@pytest.mark.parametrize("seconds", [1.0])
def test_slow_progress_only_grows_then_completes(nemo_fake: Any, client: Client, seconds: float) -> None:
    session, urls = _uploaded(client, 1)
    nemo_fake.fault(render="slow", seconds=seconds)
    client.render(session, "render_slow", small_draft(urls))

    seen: list[int] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = client.render_status("render_slow")
        seen.append(status["progress"])
        if status["status"] in ("completed", "failed"):
            break
        time.sleep(0.05)
    assert status["status"] == "completed"
    assert seen == sorted(seen) and seen[-1] == 100
    assert any(0 < p < 100 for p in seen), "progress was visible while the render crept"
