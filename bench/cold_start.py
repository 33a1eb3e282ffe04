"""Fake mode's numbers: cold start to a healthy /healthz, and a fake render of a 10-photo draft.

    python -m bench.cold_start              # 5 cold starts + one 10-photo render
    python -m bench.cold_start --starts 10 --photos bench   # the bench's 12 MP photos

Each cold start is a fresh `python -m server --fake` process (its own temporary data dir), timed
from spawn to the first 200 from /healthz. The render is what a client sees: the agent makes the
draft from 10 uploaded photos, then submit -> `completed`, polled every 50 ms. Prints one JSON
line per measurement and a summary line.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 2.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (Linux): the cold start as an idle machine sees
    it, whatever else is running (wall time on a busy 2-core box is mostly waiting for a core)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server() -> tuple[subprocess.Popen[bytes], str, float, float]:
    """A fresh fake server process: it, its base URL, seconds to a healthy /healthz, CPU seconds."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEMO_")}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "--fake", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = started + 60
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc, base, time.perf_counter() - started, _cpu_seconds(proc.pid)
        except httpx.TransportError:
            pass
        time.sleep(0.005)
    proc.kill()
    raise RuntimeError("no healthy /healthz within 60 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _photos(kind: str) -> list[tuple[str, bytes]]:
    if kind == "bench":
        from bench.job import media

        return [(p.name, p.read_bytes()) for p in media()[0]]
    from PIL import Image

    out = []
    for i in range(10):
        buf = io.BytesIO()
        Image.new("RGB", (1600, 1200), (i * 25, 110, 220 - i * 20)).save(buf, "JPEG", quality=90)
        out.append((f"photo_{i}.jpg", buf.getvalue()))
    return out


def render_ten_photos(base: str, photos: list[tuple[str, bytes]]) -> dict[str, Any]:
    with httpx.Client(base_url=base, timeout=120) as http:
        token = http.post("/api/auth/anonymous-token", headers={"X-Client-Id": "bench"}).json()["data"][
            "token"
        ]
        auth = {"Authorization": f"Bearer {token}"}
        session = http.post("/api/tasks/me/with-session/nemo_agent", headers=auth, json={}).json()["data"]
        sid = session["session_id"]
        files = [("files", (name, data, "image/jpeg")) for name, data in photos]
        assert (
            http.post(f"/api/upload-video/nemo_agent/me/{sid}", headers=auth, files=files).status_code == 200
        )
        turn = {"session_id": sid, "new_message": {"parts": [{"text": "make a slideshow with music"}]}}
        http.post("/run_sse", headers=auth, json=turn).raise_for_status()
        draft = http.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=auth).json()["data"]["state"][
            "draft"
        ]
        started = time.perf_counter()
        body = {"id": "bench_render", "sessionId": sid, "draft": draft, "output": {"format": "mp4"}}
        http.post("/api/render/proxy/lambda", headers=auth, json=body).raise_for_status()
        while True:
            status = http.get("/api/render/proxy/lambda/bench_render", headers=auth).json()
            if status["status"] in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - started
    output = status.get("output") or {}
    return {
        "case": "fake_render_10_photos",
        "status": status["status"],
        "render_s": round(seconds, 2),
        "video_s": output.get("duration"),
        "size": f"{output.get('width')}x{output.get('height')}",
        "draft_canvas": f"{draft['m']['width']}x{draft['m']['height']}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="fake mode: cold start and a 10-photo render")
    parser.add_argument("--starts", type=int, default=5, help="cold starts to time")
    parser.add_argument("--photos", choices=["small", "bench"], default="small", help="1600x1200 or 12 MP")
    parser.add_argument("--no-render", action="store_true")
    args = parser.parse_args()
    times, cpu = [], []
    for i in range(args.starts):
        proc, _, seconds, cpu_s = start_server()
        stop_server(proc)
        times.append(seconds)
        cpu.append(cpu_s)
        line = {"case": "fake_cold_start", "run": i + 1, "healthy_s": round(seconds, 3), "cpu_s": cpu_s}
        print(json.dumps(line), flush=True)
    summary: dict[str, Any] = {"case": "fake_summary", "target_s": TARGET_S}
    if times:
        summary["cold_start_median_s"] = round(statistics.median(times), 3)
        summary["cold_start_min_s"] = round(min(times), 3)
        summary["cold_start_cpu_median_s"] = round(statistics.median(cpu), 3)
        summary["load_average"] = os.getloadavg()[0]
        summary["cold_start_ok"] = statistics.median(times) < TARGET_S
    if not args.no_render:
        proc, base, _, _ = start_server()
        try:
            result = render_ten_photos(base, _photos(args.photos))
        finally:
            stop_server(proc)
        print(json.dumps(result), flush=True)
        summary["fake_render_10_photos_s"] = result["render_s"]
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
