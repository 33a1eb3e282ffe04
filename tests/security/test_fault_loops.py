"""The fault loops of issue 14, on loopback, each bounded: `kill -9` of `python -m server` during
uploads, chat turns and renders; a small real disk filling up; corrupt database files. Each prints
its figures. CI runs a few rounds; `make soak` the long counts (NEMO_FAULT_KILLS=20,
NEMO_FULL_DISK_ROUNDS=10, NEMO_CORRUPT_ROUNDS=10).

After the kills: 0 frozen credits, 0 temp files, every render job completed exactly once (one
final file each, announced to its session once), and SQLite's integrity_check says ok.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.app import create_app
from server.config import Settings
from tests import media_factory as mf
from tests.conftest import bearer, create_session, get_anon_token
from tests.security.faults import SilentLLM, fill, small_disk
from tests.security.test_hardening import _chat, _start_upload, _tmp_files, _upload_photo
from tests.server_process import ServerProcess, free_port, operator_env

FAULT_KILLS = int(os.environ.get("NEMO_FAULT_KILLS", "3"))
FULL_DISK_ROUNDS = int(os.environ.get("NEMO_FULL_DISK_ROUNDS", "2"))
CORRUPT_ROUNDS = int(os.environ.get("NEMO_CORRUPT_ROUNDS", "2"))


def _report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    with capsys.disabled():
        print(f"\n[fault loop] {line}")


class _FaultServer(ServerProcess):
    """`python -m server`, its planner asking an LLM that never answers (turns stay mid-turn, holding
    credits), short leases, a fast sweep; renders embedded."""

    llm_url = ""

    def settings_env(self) -> dict[str, str]:
        return {
            **super().settings_env(),
            "NEMO_RATE_LIMIT_PER_TOKEN": "",
            "NEMO_LLM__BASE_URL": self.llm_url,
            "NEMO_LLM__TIMEOUT_SECONDS": "600",
            "NEMO_TURN_LEASE_SECONDS": "1",
            "NEMO_SWEEP_SECONDS": "0.2",
            "NEMO_RENDER__LEASE_SECONDS": "1",
            "NEMO_RENDER__MAX_ACTIVE_PER_USER": "100",
        }


def _draft(seconds: int, text: str) -> dict[str, Any]:
    ms = seconds * 1000
    return {
        "d": ms,
        "m": {"width": 160, "height": 284, "fps": 30},
        "t": [
            {
                "id": "a",
                "tt": 1,
                "sg": [{"id": "m", "src": "builtin:lofi", "st": 0, "d": ms, "m": {"loop": True}}],
            },
            {"id": "x", "tt": 7, "sg": [{"id": "t", "st": 0, "d": ms, "m": {"text": text}}]},
        ],
    }


def _wait(
    what: str, check: Callable[[], bool], seconds: float = 120, detail: Callable[[], object] = lambda: ""
) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what}: not reached in {seconds:g} s {detail()}"
        time.sleep(0.1)


def test_kill_9_during_uploads_turns_and_renders_leaves_nothing_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    llm = SilentLLM()
    server = _FaultServer.in_tmp(tmp_path)
    server.llm_url = llm.base_url
    kinds = ["upload", "turn", "render"]
    rng = random.Random(14)
    counts = dict.fromkeys(kinds, 0)
    renders: list[str] = []
    try:
        server.start()
        with httpx.Client(base_url=server.url, timeout=30) as http:
            token = get_anon_token(http, "faults")
            sid = create_session(http, token)
        auth = bearer(token)
        for i in range(FAULT_KILLS):
            kind = kinds[i % 3]
            counts[kind] += 1
            if kind == "upload":
                conn = _start_upload(server.url, token, sid, 50 * 1024 * 1024)
                _wait("an upload's temp file", lambda: bool(_tmp_files(server.data_dir)))
            elif kind == "turn":
                asked = len(llm._conns)

                def ask() -> None:
                    with contextlib.suppress(httpx.HTTPError):
                        httpx.post(
                            f"{server.url}/run_sse", headers=auth, json=_chat(sid, "hello"), timeout=60
                        )

                threading.Thread(target=ask, daemon=True).start()
                _wait("a turn asking the LLM", lambda n=asked: len(llm._conns) > n)
            else:
                render_id = f"job{i}"
                renders.append(render_id)
                body = {
                    "id": render_id,
                    "sessionId": sid,
                    "draft": _draft(6, f"Job {i}"),
                    "output": {"quality": "low"},
                }
                assert (
                    httpx.post(f"{server.url}/api/render/proxy/lambda", headers=auth, json=body).status_code
                    == 200
                )

                def running(rid: str = render_id) -> bool:
                    s = httpx.get(f"{server.url}/api/render/proxy/lambda/{rid}", headers=auth).json()
                    return bool(s["status"] == "processing" and s["progress"] > 0)

                _wait("the render to run", running, 180)
            time.sleep(rng.uniform(0.0, 0.5))
            server.kill9()
            if kind == "upload":
                conn.close()
            server.start()
        # Everything settles while the last server runs: its sweep and its workers.
        with httpx.Client(base_url=server.url, timeout=30, headers=auth) as http:

            def settled() -> bool:
                balance = http.get("/api/credits/balance/simple").json()["data"]
                statuses = [http.get(f"/api/render/proxy/lambda/{r}").json()["status"] for r in renders]
                state = http.get(f"/api/state/nemo_agent/me/{sid}/latest").json()["data"]["state"]
                announced = [g for g in state["generated_media"] if g["type"] == "render"]
                return (
                    balance["frozen"] == 0
                    and not _tmp_files(server.data_dir)
                    and all(s in ("completed", "failed", "cancelled") for s in statuses)
                    and len(announced) >= statuses.count("completed")
                )

            _wait("credits, temp files and renders to settle", settled, 600)
            balance = http.get("/api/credits/balance/simple").json()["data"]
            statuses = {r: http.get(f"/api/render/proxy/lambda/{r}").json()["status"] for r in renders}
            state = http.get(f"/api/state/nemo_agent/me/{sid}/latest").json()["data"]["state"]
            announced = [g for g in state["generated_media"] if g["type"] == "render"]
        server.stop()
        finals = sorted((server.data_dir / "renders").iterdir())
        with sqlite3.connect(server.data_dir / "nemo.db") as db:
            integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        temp_files = len(_tmp_files(server.data_dir))
        completed = sum(1 for s in statuses.values() if s == "completed")
        _report(
            capsys,
            f"{FAULT_KILLS} kills ({counts['upload']} during uploads, {counts['turn']} during turns, "
            f"{counts['render']} during renders): frozen credits {balance['frozen']} "
            f"(available {balance['available']} of {balance['total']}), temp files {temp_files}, "
            f"render jobs completed {completed}/{len(renders)}, final files {len(finals)}, "
            f"announced {len(announced)}, integrity_check {integrity}",
        )
        assert balance["frozen"] == 0 and balance["available"] == balance["total"] == 100
        assert temp_files == 0
        assert set(statuses.values()) <= {"completed"}, statuses
        assert len(finals) == len(renders) and not [p for p in finals if ".part" in p.name]
        assert len(announced) == len(renders)  # each render announced to its session exactly once
        assert integrity == "ok"
    finally:
        server.stop()
        llm.close()


def test_a_small_disk_filling_up_again_and_again(
    make_settings: Callable[..., Settings],
    make_client: Callable[[Any], httpx.Client],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.security.test_hardening import _DiskFillingPlanner

    answers: list[int] = []
    events: list[str] = []
    with small_disk(tmp_path / "disk", size_mb=24) as disk:
        settings = make_settings(data_dir=disk / "data", sweep_seconds=0.2)
        http = make_client(create_app(settings, planner=_DiskFillingPlanner(disk), start_workers=False))
        token = get_anon_token(http)
        sid = create_session(http, token)
        assert _upload_photo(http, token, sid, tmp_path).status_code == 200
        for _ in range(FULL_DISK_ROUNDS):
            filler = fill(disk, leave_bytes=128 * 1024)
            up = http.post(
                f"/api/upload-video/nemo_agent/me/{sid}",
                headers=bearer(token),
                files={"files": ("big.mp4", os.urandom(2 * 1024 * 1024))},
            )
            answers.append(up.status_code)
            filler.unlink()
            with http.stream(
                "POST", "/run_sse", headers=bearer(token), json=_chat(sid, "make a slideshow")
            ) as s:
                lines = [ln for ln in s.iter_lines() if ln.startswith("data: ")]
            events.append(json.loads(lines[-1][6:]).get("errorMessage", "") if lines else "(no event)")
            for left in disk.glob("filler-*"):
                left.unlink()
        _wait("frozen credits back", lambda: _balance(http, token)["frozen"] == 0, 60)
        # A background photo proxy may be mid-write: a temp file in flight is fine, a leak is not.
        _wait("temp files gone", lambda: not _tmp_files(settings.data_dir), 60,
              detail=lambda: [(p.name, p.stat().st_size) for p in _tmp_files(settings.data_dir)])  # fmt: skip
        final = _balance(http, token)
        left = _tmp_files(settings.data_dir)
        temp_files = len(left)
    said = sum(1 for e in events if "disk is full" in e)
    _report(
        capsys,
        f"{FULL_DISK_ROUNDS} full-disk rounds: uploads answered {sorted(set(answers))}, turns ending with "
        f"'disk is full' {said}/{len(events)}, frozen credits {final['frozen']}, temp files {temp_files}",
    )
    assert answers == [507] * FULL_DISK_ROUNDS
    assert said == FULL_DISK_ROUNDS
    assert final == {"available": 100, "frozen": 0, "total": 100} and temp_files == 0, (final, left)


def _balance(http: httpx.Client, token: str) -> dict[str, int]:
    return dict(http.get("/api/credits/balance/simple", headers=bearer(token)).json()["data"])


def test_corrupt_database_files_never_start_a_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A real database with users, sessions and a render, made by the server itself.
    (tmp_path / "source").mkdir()
    source = ServerProcess.in_tmp(tmp_path / "source")
    source.start()
    with httpx.Client(base_url=source.url, timeout=30) as http:
        token = get_anon_token(http, "victim")
        sid = create_session(http, token)
        photo = mf.png_tiny(tmp_path)
        http.post(
            f"/api/upload-video/nemo_agent/me/{sid}",
            headers=bearer(token),
            files={"files": ("p.png", photo.read_bytes())},
        )
    source.stop()
    with sqlite3.connect(source.data_dir / "nemo.db") as db:  # the rows into the file, out of the WAL
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    good = (source.data_dir / "nemo.db").read_bytes()
    assert len(good) > 8 * 4096, len(good)
    rng = random.Random(7)
    refused = 0
    other: list[tuple[str, int, str]] = []
    for n in range(CORRUPT_ROUNDS):
        data_dir = tmp_path / f"round{n}" / "data"
        data_dir.mkdir(parents=True)
        kind = ("zero", "truncated", "pages", "header")[n % 4]
        if kind == "zero":
            damaged = b""
        elif kind == "truncated":
            damaged = good[: rng.randrange(100, len(good) - 4096)]
        elif kind == "pages":
            page = rng.randrange(1, max(2, len(good) // 4096))
            damaged = good[: page * 4096] + os.urandom(4096 * 2) + good[(page + 2) * 4096 :]
        else:
            damaged = os.urandom(16) + good[16:]
        (data_dir / "nemo.db").write_bytes(damaged)
        env = {**operator_env(), "NEMO_DATA_DIR": str(data_dir), "NEMO_PORT": str(free_port()),
               "NEMO_SECRET_KEY": "k", "NEMO_RENDER__WORKERS": "0"}  # fmt: skip
        try:
            done = subprocess.run([sys.executable, "-m", "server"], cwd=data_dir.parent, env=env,
                                  capture_output=True, text=True, timeout=60)  # fmt: skip
        except subprocess.TimeoutExpired:
            pytest.fail(f"round {n} ({kind}): the server started on a damaged database")
        # The standalone render worker (another machine sharing the file) refuses it the same way.
        url = f"sqlite:///{data_dir / 'nemo.db'}"
        try:
            worker = subprocess.run([sys.executable, "-m", "render_jobs", "--database-url", url,
                                     "--data-dir", str(data_dir)], cwd=data_dir.parent, env=env,
                                    capture_output=True, text=True, timeout=60)  # fmt: skip
        except subprocess.TimeoutExpired:
            pytest.fail(f"round {n} ({kind}): the render worker started on a damaged database")
        for who, run in (("server", done), ("worker", worker)):
            one_line = [ln for ln in run.stderr.splitlines() if "refusing to start" in ln]
            if run.returncode == 2 and len(one_line) == 1 and "Traceback" not in run.stderr:
                refused += 1
            else:
                other.append((f"{who} {kind}", run.returncode, run.stderr[-1500:]))
        assert (data_dir / "nemo.db").read_bytes() == damaged, f"round {n} ({kind}): the file was changed"
    _report(
        capsys,
        f"{CORRUPT_ROUNDS} damaged database files: server and worker refused with one line "
        f"{refused}/{2 * CORRUPT_ROUNDS}",
    )
    assert refused == 2 * CORRUPT_ROUNDS, other
