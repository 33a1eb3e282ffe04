# ruff: noqa: E501  (the security.md -> test map is a wide table)
"""security.md, "Render jobs": every line, as a named test that can fail (public behaviour only:
render_jobs/lease.py, worker.py and server/renders/ are driven, never patched).

| security.md line                                      | test                                                     |
|-------------------------------------------------------|----------------------------------------------------------|
| job row is the truth; claim = one atomic UPDATE,      | renderer/test_jobs::test_claim_sets_lease_and_bumps_token_once, |
| lease + fencing token                                 | test_racing_workers_claim_each_job_exactly_once          |
| heartbeats the lease                                  | renderer/test_worker::test_worker_that_lost_its_lease_stops_and_the_new_holder_finishes |
| `.part`, fsync, rename; done only if token matches    | renderer/test_jobs::test_expired_lease_is_reclaimed_and_the_stale_worker_is_fenced_off, |
|                                                       | renderer/test_worker::test_job_renders_to_one_whole_file_with_growing_progress |
| kill -9 mid-render: after restart exactly once, one   | server/test_render_restart::test_kill_9_mid_render_then_restart_completes_exactly_once, |
| ffprobe-clean file, no partial at the final path      | test_kill_9_of_the_server_at_random_moments_loses_and_duplicates_nothing |
| repeated 20 times at random moments                   | test_kill_9_of_the_server_at_random_moments_loses_and_duplicates_nothing |
|                                                       | (NEMO_KILL_ROUNDS: 20 in CI, more in `make soak`)        |
| always-crashing job: at most N attempts, then failed  | renderer/test_jobs::test_crashing_job_stops_after_max_attempts_with_a_message, |
|                                                       | test_job_whose_worker_keeps_dying_fails_instead_of_looping, |
|                                                       | renderer/test_worker::test_always_crashing_render_fails_after_max_attempts |
| SIGTERM: finish within grace or release at once       | renderer/test_worker::test_stop_releases_the_lease_at_once, |
|                                                       | test_stop_with_grace_lets_a_short_render_finish, |
|                                                       | test_standalone_worker_renders_and_sigterm_releases_the_lease |
| renders in a child process; a crash cannot take down  | test_a_render_that_kills_its_process_leaves_the_api_answering |
| the API                                               |                                                          |
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import bearer, create_session, get_anon_token
from tests.ffprobe import ffprobe
from tests.server_process import ServerProcess

KILL_ROUNDS = int(os.environ.get("NEMO_KILL_ROUNDS", "20"))
JOBS = 4
SECONDS = 12


class KillableServer(ServerProcess):
    """`python -m server` as an operator runs it, allowing its renders to lose their worker more
    often than the kills here take it (the default 3 attempts stay: a kill is no attempt of the
    render's own; test_hardening::test_server_deaths_during_a_render_do_not_use_up_its_attempts)."""

    def settings_env(self) -> dict[str, str]:
        return {
            **super().settings_env(),
            "NEMO_SECRET_KEY": "kill-test-key",
            "NEMO_RATE_LIMIT_PER_TOKEN": "",
            "NEMO_RENDER__LEASE_SECONDS": "1",
            "NEMO_RENDER__MAX_LOST_LEASES": str(KILL_ROUNDS + 10),
            "NEMO_RENDER__MAX_ACTIVE_PER_USER": str(JOBS),  # one user queues them all at once
        }


@pytest.fixture
def server(tmp_path: Path) -> Iterator[KillableServer]:
    srv = KillableServer.in_tmp(tmp_path)
    yield srv
    srv.stop()


def _draft(text: str) -> dict[str, Any]:
    ms = SECONDS * 1000
    return {
        "d": ms,
        "m": {"width": 160, "height": 284, "fps": 30, "bg": "#224466"},
        "t": [
            {
                "id": "a",
                "tt": 1,
                "sg": [{"id": "m", "src": "builtin:lofi", "st": 0, "d": ms, "m": {"loop": True}}],
            },
            {"id": "x", "tt": 7, "sg": [{"id": "t", "st": 0, "d": ms, "m": {"text": text}}]},
        ],
    }


def test_kill_9_of_the_server_at_random_moments_loses_and_duplicates_nothing(
    server: KillableServer, tmp_path: Path
) -> None:
    server.start()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        token = get_anon_token(client, "kills")
        auth, sid = bearer(token), create_session(client, token)
        for n in range(JOBS):
            body = {
                "id": f"job{n}",
                "sessionId": sid,
                "draft": _draft(f"Job {n}"),
                "output": {"quality": "low"},
            }
            assert client.post("/api/render/proxy/lambda", json=body, headers=auth).status_code == 200
    rng = random.Random(7)
    for _ in range(KILL_ROUNDS):
        time.sleep(rng.uniform(0.1, 2.0))
        server.kill9()
        server.start()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        deadline = time.monotonic() + 600
        statuses: dict[str, dict[str, Any]] = {}
        while len(statuses) < JOBS:
            for n in range(JOBS):
                status = client.get(f"/api/render/proxy/lambda/job{n}", headers=auth).json()
                if status["status"] in ("completed", "failed", "cancelled"):
                    statuses[f"job{n}"] = status
            assert time.monotonic() < deadline, statuses
            time.sleep(0.3)
        assert {s["status"] for s in statuses.values()} == {"completed"}, statuses
        for n, status in enumerate(statuses.values()):
            out = tmp_path / f"out{n}.mp4"
            out.write_bytes(client.get(status["outputUrl"], headers=auth).content)
            probe = ffprobe(out)
            assert abs(float(probe["format"]["duration"]) - SECONDS) < 0.5
        state = client.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=auth).json()["data"]["state"]
        assert [g["type"] for g in state["generated_media"]].count("render") == JOBS  # none twice
    finals = sorted(p.name for p in (server.data_dir / "renders").iterdir())
    assert len(finals) == JOBS and not [p for p in finals if ".part" in p or p.endswith(".tmp")], finals


def test_a_render_that_kills_its_process_leaves_the_api_answering(
    server: KillableServer, tmp_path: Path
) -> None:
    """The render runs in a child: SIGKILL every child of the server while it renders; the API
    process lives on, answers, and the job still completes (or fails with a message), never hangs."""
    server.start()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        token = get_anon_token(client, "child")
        auth, sid = bearer(token), create_session(client, token)
        body = {"id": "victim", "sessionId": sid, "draft": _draft("Child"), "output": {"quality": "low"}}
        assert client.post("/api/render/proxy/lambda", json=body, headers=auth).status_code == 200
        assert server.proc is not None
        killed = 0
        deadline = time.monotonic() + 60
        while not killed and time.monotonic() < deadline:
            children = _children(server.proc.pid)
            for pid in children:
                os.kill(pid, 9)
                killed += 1
            time.sleep(0.05)
        assert killed, "no render child process was ever seen: renders run inside the API process"
        assert server.proc.poll() is None
        assert client.get("/api/credits/balance/simple", headers=auth).status_code == 200
        deadline = time.monotonic() + 300
        while (status := client.get("/api/render/proxy/lambda/victim", headers=auth).json())["status"] not in (
            "completed", "failed", "cancelled"):  # fmt: skip
            assert time.monotonic() < deadline, status
            time.sleep(0.3)
        assert status["status"] == "completed" or status["error"]["message"], status


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found
