"""`kill -9` of the whole server during a render, then a restart on the same data dir: the job
completes exactly once, into one whole MP4, with no partial file left at the final path. SIGTERM
instead: the running render gives its lease back at once, and the restart resumes it.

The server runs as `python -m server`, configured by NEMO_ variables only, as an operator runs it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from database.engine import make_engine
from render_jobs.table import RenderJob
from tests.conftest import bearer, create_session, get_anon_token
from tests.ffprobe import ffprobe
from tests.server_process import ServerProcess

VIDEO_SECONDS = 90  # long enough at 160x284 to be caught mid-render


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess.in_tmp(tmp_path)
    yield srv
    srv.stop()


def _draft() -> dict[str, Any]:
    ms = VIDEO_SECONDS * 1000
    return {
        "d": ms,
        "m": {"width": 160, "height": 284, "fps": 30, "bg": "#336699"},
        "t": [
            {
                "id": "a1",
                "tt": 1,
                "sg": [{"id": "m", "src": "builtin:lofi", "st": 0, "d": ms, "m": {"loop": True}}],
            },
            {
                "id": "x1",
                "tt": 7,
                "sg": [{"id": "t", "st": 0, "d": ms, "m": {"text": "Restart", "anim": "fade"}}],
            },
        ],
    }


def _start_render(server: ServerProcess, render_id: str) -> tuple[dict[str, str], str]:
    """Token, session, render submitted, and waited for until it is really under way."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        token = get_anon_token(client, "restart")
        auth, sid = bearer(token), create_session(client, token)
        body = {"id": render_id, "sessionId": sid, "draft": _draft(), "output": {"quality": "low"}}
        assert client.post("/api/render/proxy/lambda", json=body, headers=auth).status_code == 200
        deadline = time.monotonic() + 120
        while True:
            status = client.get(f"/api/render/proxy/lambda/{render_id}", headers=auth).json()
            if status["status"] == "processing" and status["progress"] > 0:
                break
            assert status["status"] in ("pending", "processing"), status
            assert time.monotonic() < deadline, status
            time.sleep(0.05)
    assert status["progress"] < 100
    return auth, sid


def _finish_and_check(
    server: ServerProcess, auth: dict[str, str], sid: str, render_id: str, tmp_path: Path
) -> None:
    """After the restart: the render completes, progress never went back, one whole file."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        seen = []
        deadline = time.monotonic() + 300
        while True:
            status = client.get(f"/api/render/proxy/lambda/{render_id}", headers=auth).json()
            seen.append(status["progress"])
            if status["status"] in ("completed", "failed", "cancelled"):
                break
            assert time.monotonic() < deadline, status
            time.sleep(0.2)
        assert status["status"] == "completed", status
        assert seen == sorted(seen)

        download = client.get(status["outputUrl"], headers=auth)
        assert download.status_code == 200
        out = tmp_path / "downloaded.mp4"
        out.write_bytes(download.content)
        probe = ffprobe(out)
        assert abs(float(probe["format"]["duration"]) - VIDEO_SECONDS) < 0.5
        assert {s["codec_name"] for s in probe["streams"]} == {"h264", "aac"}
        assert sorted(p.name for p in (server.data_dir / "renders").iterdir()) == ["1.mp4"]  # no .part

        state = client.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=auth).json()["data"]["state"]
        assert [g["type"] for g in state["generated_media"]].count("render") == 1


def _job_row(server: ServerProcess) -> RenderJob:
    engine = make_engine(f"sqlite:///{server.data_dir / 'nemo.db'}")
    with Session(engine) as db:
        job = db.exec(select(RenderJob)).one()
    engine.dispose()
    return job


def test_kill_9_mid_render_then_restart_completes_exactly_once(server: ServerProcess, tmp_path: Path) -> None:
    server.start()
    auth, sid = _start_render(server, "render_kill")
    server.kill9()
    assert not (server.data_dir / "renders" / "1.mp4").exists()  # killed before the rename

    server.start()  # same data dir and database: the lapsed lease is reclaimed
    _finish_and_check(server, auth, sid, "render_kill", tmp_path)
    server.stop()
    job = _job_row(server)
    # The killed run was no attempt of the render's own: it is counted as a lost lease instead.
    assert (job.status, job.attempts, job.lost_leases, job.fencing_token) == ("completed", 1, 1, 2)


def test_sigterm_releases_the_render_at_once_and_a_restart_resumes_it(
    server: ServerProcess, tmp_path: Path
) -> None:
    server.start()
    auth, sid = _start_render(server, "render_term")
    server.stop()  # SIGTERM: the embedded worker gives the job back instead of holding its lease
    job = _job_row(server)
    assert (job.status, job.lease_owner, job.attempts, job.phase) == ("pending", None, 0, "queued")
    assert job.progress > 0  # progress is kept: it only grows
    assert list((server.data_dir / "renders").iterdir()) == []

    server.start()
    _finish_and_check(server, auth, sid, "render_term", tmp_path)
    server.stop()
    job = _job_row(server)
    assert (job.status, job.attempts, job.fencing_token) == ("completed", 1, 2)
