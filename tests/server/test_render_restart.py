"""`kill -9` of the whole server during a render, then a restart on the same data dir: the job
completes exactly once, into one whole MP4, with no partial file left at the final path. SIGTERM
instead: the running render gives its lease back at once, and the restart resumes it.

The server runs as `python -m server`, configured by NEMO_ variables only, as an operator runs it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from renderer.jobs import RenderJob
from server.db import make_engine

REPO = Path(__file__).resolve().parents[2]
VIDEO_SECONDS = 90  # long enough at 160x284 to be caught mid-render


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    def __init__(self, data_dir: Path, port: int, log: Path) -> None:
        self.data_dir, self.port, self.log = data_dir, port, log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEMO_")}
        env.update(
            PYTHONPATH=str(REPO),
            NEMO_HOST="127.0.0.1",
            NEMO_PORT=str(self.port),
            NEMO_DATA_DIR=str(self.data_dir),
            NEMO_SECRET_KEY="restart-test-key",
            NEMO_LOG_LEVEL="warning",
            NEMO_RENDER__WORKERS="1",
            NEMO_RENDER__DEVICE="cpu",
            NEMO_RENDER__LEASE_SECONDS="2",
            NEMO_RENDER__POLL_SECONDS="0.1",
        )
        with open(self.log, "ab") as log:
            # cwd is the temp dir, so no developer .env is read.
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "server"], cwd=self.data_dir.parent, env=env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                httpx.post(f"{self.url}/api/auth/anonymous-token", timeout=2)  # 400 without a client id
                return
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    srv = ServerProcess(data_dir, _free_port(), tmp_path / "server.log")
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
        answer = client.post("/api/auth/anonymous-token", headers={"X-Client-Id": "restart"})
        auth = {"Authorization": f"Bearer {answer.json()['data']['token']}"}
        answer = client.post("/api/tasks/me/with-session/nemo_agent", headers=auth, json={})
        sid = answer.json()["data"]["session_id"]
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
        probe = json.loads(
            subprocess.run(
                ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(out)],
                check=True, capture_output=True, text=True,
            ).stdout
        )  # fmt: skip
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
    assert (job.status, job.attempts, job.fencing_token) == ("completed", 2, 2)


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
