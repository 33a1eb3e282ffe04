"""`make load`: the server under load on 127.0.0.1, measured (security.md, "Whole-system checks").

Starts `python -m server` in its own data dir (per-token rate limit off, generous per-IP limit),
then, one after another:
  1. state + credits at a fixed rate (default 200 requests/s for 20 s, open loop): p50/p99/max
     latency and errors;
  2. N concurrent /run_sse streams (default 100), each on its own user and session: how many were
     held at once and how many ended with the agent's final event;
  3. ten concurrent 200 MB multipart uploads: the server's RSS growth (VmRSS from /proc), and
     whether state kept answering meanwhile.
Everything is bounded in count and time; nothing leaves the machine.

    python -m bench.load [--rate 200] [--seconds 20] [--streams 100] [--uploads 10] [--upload-mb 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEMO_")}
    env.update(
        PYTHONPATH=str(ROOT),
        NEMO_HOST="127.0.0.1",
        NEMO_PORT=str(port),
        NEMO_DATA_DIR=str(data_dir),
        NEMO_SECRET_KEY="load-test",
        NEMO_LOG_LEVEL="warning",
        NEMO_RATE_LIMIT_PER_TOKEN="",
        NEMO_ANON_TOKENS_PER_IP="100000",
        NEMO_MAX_UPLOAD_MB="210",
        NEMO_RENDER__WORKERS="0",
    )
    proc = subprocess.Popen([sys.executable, "-m", "server"], cwd=data_dir, env=env)
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return proc
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start") from None
            time.sleep(0.1)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def user(client: httpx.AsyncClient, client_id: str) -> tuple[dict[str, str], str]:
    answer = await client.post("/api/auth/anonymous-token", headers={"X-Client-Id": client_id})
    auth = {"Authorization": f"Bearer {answer.json()['data']['token']}"}
    answer = await client.post("/api/tasks/me/with-session/nemo_agent", headers=auth, json={})
    return auth, str(answer.json()["data"]["session_id"])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def steady_rate(base: str, rate: int, seconds: float) -> dict[str, object]:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, timeout=10, limits=limits) as client:
        auth, sid = await user(client, "load-rate")
        urls = [f"/api/state/nemo_agent/me/{sid}/latest", "/api/credits/balance/simple"]
        latencies: list[float] = []
        errors = 0

        async def one(url: str) -> None:
            nonlocal errors
            started = time.perf_counter()
            try:
                answer = await client.get(url, headers=auth)
                if answer.status_code != 200:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append((time.perf_counter() - started) * 1000)

        tasks = []
        start = time.perf_counter()
        total = int(rate * seconds)
        for i in range(total):  # open loop: request i leaves at start + i/rate, whatever came back
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(urls[i % 2])))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return {
        "requests": total,
        "achieved_rps": round(total / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(pct(latencies, 0.99), 2),
        "max_ms": round(max(latencies), 2),
        "errors": errors,
    }


async def held_streams(base: str, streams: int) -> dict[str, object]:
    limits = httpx.Limits(max_connections=streams + 10)
    async with httpx.AsyncClient(base_url=base, timeout=300, limits=limits) as client:
        users = await asyncio.gather(*(user(client, f"load-sse-{i}") for i in range(streams)))
        open_now = peak = completed = errors = 0
        gate = asyncio.Event()

        async def one(auth: dict[str, str], sid: str) -> None:
            nonlocal open_now, peak, completed, errors
            message = {"role": "user", "parts": [{"text": "make a slideshow with the title Load"}]}
            body = {"app_name": "nemo_agent", "user_id": "me", "session_id": sid, "new_message": message}
            await gate.wait()
            try:
                async with client.stream("POST", "/run_sse", headers=auth, json=body) as answer:
                    if answer.status_code != 200:
                        errors += 1
                        return
                    open_now += 1
                    peak = max(peak, open_now)
                    last = ""
                    async for line in answer.aiter_lines():
                        if line.startswith("data: "):
                            last = line
                    open_now -= 1
                    if last and json.loads(last[6:]).get("author") == "nemo_agent":
                        completed += 1
                    else:
                        errors += 1
            except httpx.HTTPError:
                errors += 1

        tasks = [asyncio.create_task(one(auth, sid)) for auth, sid in users]
        started = time.perf_counter()
        gate.set()
        await asyncio.gather(*tasks)
    return {"streams": streams, "held_at_once": peak, "completed": completed, "errors": errors,
            "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip


async def big_uploads(base: str, pid: int, count: int, size_mb: int) -> dict[str, object]:
    async def body() -> object:
        yield b'--bnd\r\nContent-Disposition: form-data; name="files"; filename="big.jpg"\r\n\r\n'
        yield b"\xff\xd8\xff\xe0"
        chunk = b"\0" * (1024 * 1024)
        for _ in range(size_mb):
            yield chunk
        yield b"\r\n--bnd--\r\n"

    async with httpx.AsyncClient(base_url=base, timeout=600) as client:
        auth, sid = await user(client, "load-upload")
        baseline = peak = rss_mb(pid)
        polls: list[int] = []
        done = asyncio.Event()

        async def watch() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, rss_mb(pid))
                answer = await client.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=auth)
                polls.append(answer.status_code)
                await asyncio.sleep(0.05)

        async def one() -> int:
            headers = {**auth, "Content-Type": "multipart/form-data; boundary=bnd"}
            answer = await client.post(
                f"/api/upload-video/nemo_agent/me/{sid}", headers=headers, content=body()
            )
            return answer.status_code

        watcher = asyncio.create_task(watch())
        started = time.perf_counter()
        statuses = await asyncio.gather(*(one() for _ in range(count)))
        done.set()
        await watcher
    return {"uploads": count, "each_mb": size_mb, "statuses": sorted(set(statuses)),
            "rss_baseline_mb": round(baseline, 1), "rss_growth_mb": round(peak - baseline, 1),
            "state_polls": len(polls), "state_errors": sum(1 for s in polls if s != 200),
            "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--uploads", type=int, default=10)
    parser.add_argument("--upload-mb", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nemo-load-") as tmp:
        port = _free_port()
        server = start_server(Path(tmp), port)
        base = f"http://127.0.0.1:{port}"
        try:
            results = {
                "state_and_credits": asyncio.run(steady_rate(base, args.rate, args.seconds)),
                "sse": asyncio.run(held_streams(base, args.streams)),
                "uploads": asyncio.run(big_uploads(base, server.pid, args.uploads, args.upload_mb)),
            }
        finally:
            server.terminate()
            server.wait(30)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
