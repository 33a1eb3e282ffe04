"""`make demo`: a real video from sample media, through the public API, exactly as a client would.

Makes sample photos and a song with our own code, starts the server on 127.0.0.1 with its own data
dir, then: token -> session -> upload -> chat (/run_sse) -> state -> render -> poll -> download.
Writes demo.mp4 and prints the ffprobe summary and the export time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "turn my photos into a 30-second slideshow video with transitions and this background music"


def say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def progress_bar(fraction: float, label: str, width: int = 32) -> None:
    done = round(width * max(0.0, min(1.0, fraction)))
    sys.stdout.write(f"\r[demo] {label:<8} [{'#' * done}{'.' * (width - done)}] {fraction * 100:5.1f}%")
    sys.stdout.flush()


# ---- sample media, made here -------------------------------------------------------------------


def _scene(seed: int, size: tuple[int, int]) -> Image.Image:
    """A landscape-ish picture: sky gradient, a sun, layered hills; different per seed."""
    rng = np.random.default_rng(seed)
    w, h = size
    top, bottom = rng.integers(40, 255, 3), rng.integers(0, 200, 3)
    t = np.linspace(0.0, 1.0, h)[:, None, None]
    sky = (top * (1 - t) + bottom * t).astype(np.uint8)
    img = Image.fromarray(np.broadcast_to(sky, (h, w, 3)).copy())
    draw = ImageDraw.Draw(img)
    r = int(min(w, h) * rng.uniform(0.06, 0.12))
    cx, cy = int(w * rng.uniform(0.2, 0.8)), int(h * rng.uniform(0.15, 0.4))
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=tuple(int(v) for v in rng.integers(200, 256, 3)))
    for layer in range(3):
        base = h * (0.55 + 0.13 * layer)
        xs = np.linspace(0, w, 24)
        ys = base + np.sin(xs / w * math.tau * rng.uniform(0.5, 2.0) + rng.uniform(0, 6)) * h * 0.05
        colour = tuple(int(v) for v in rng.integers(10, 120, 3))
        draw.polygon([(0, h), *zip(xs.tolist(), ys.tolist(), strict=True), (w, h)], fill=colour)
    label = f"#{seed}"
    draw.text((w * 0.05, h * 0.05), label, fill=(255, 255, 255))
    return img.filter(ImageFilter.GaussianBlur(1))


def make_sample_photos(folder: Path, count: int = 8) -> list[Path]:
    paths = []
    for i in range(1, count + 1):
        portrait = i % 3 != 0
        size = (1800, 2400) if portrait else (2400, 1800)
        path = folder / f"photo_{i:02d}.jpg"
        _scene(i, size).save(path, quality=90)
        paths.append(path)
    return paths


def make_sample_song(path: Path, seconds: float = 24.0, rate: int = 44100) -> Path:
    """A short chord progression with a beat, as a WAV file (the client's 'background music')."""
    t = np.arange(int(seconds * rate)) / rate
    chords = [
        (220.0, 277.18, 329.63),
        (196.0, 246.94, 293.66),
        (174.61, 220.0, 261.63),
        (196.0, 246.94, 293.66),
    ]
    out = np.zeros_like(t)
    bar = 2.0
    for i, chord in enumerate(chords * int(seconds / (bar * len(chords)) + 1)):
        mask = (t >= i * bar) & (t < (i + 1) * bar)
        local = t[mask] - i * bar
        env = np.minimum(1.0, local * 8) * np.exp(-local * 0.6)
        out[mask] += sum(np.sin(2 * np.pi * f * t[mask]) for f in chord) * env * 0.18
    beat = (t % 0.5) < 0.04
    out[beat] += np.sin(2 * np.pi * 60 * t[beat]) * 0.5
    stereo = (np.stack([out, out * 0.9], axis=1).clip(-1, 1) * 32767).astype("<i2")
    import wave

    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(stereo.tobytes())
    return path


# ---- the server ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(data_dir: Path) -> Iterator[str]:
    port = free_port()
    env = dict(os.environ, NEMO_DATA_DIR=str(data_dir), NEMO_HOST="127.0.0.1", NEMO_PORT=str(port))
    env.setdefault("NEMO_LOG_LEVEL", "warning")
    log = open(data_dir / "server.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "server"], cwd=ROOT, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server did not start; see {data_dir / 'server.log'}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


# ---- the client walk ----------------------------------------------------------------------------


def ok(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    if response.status_code != 200 or body.get("code") != 0:
        raise SystemExit(
            f"{response.request.method} {response.request.url.path} -> {response.status_code} {body}"
        )
    return body


def chat(client: httpx.Client, session_id: str, text: str) -> None:
    say(f'chat: "{text}"')
    body = {
        "app_name": "nemo_agent",
        "user_id": "me",
        "session_id": session_id,
        "new_message": {"role": "user", "parts": [{"text": text}]},
    }
    with client.stream("POST", "/run_sse", json=body, timeout=300) as response:
        if response.status_code != 200:
            raise SystemExit(f"/run_sse -> {response.status_code} {response.read().decode()}")
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line[6:])
            for part in (event.get("content") or {}).get("parts", []):
                if "functionCall" in part:
                    call = part["functionCall"]
                    say(f"  tool {call['name']}({json.dumps(call.get('args', {}))[:80]})")
                elif part.get("text") and not event.get("partial"):
                    for text_line in part["text"].splitlines():
                        say(f"  agent: {text_line}")


def walk(base: str, photos: list[Path], song: Path, out: Path) -> None:
    headers = {"X-Skill-Source": "demo", "X-Skill-Version": "1.0", "X-Skill-Platform": "make"}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        token = ok(client.post("/api/auth/anonymous-token", headers={"X-Client-Id": "make-demo"}))["data"]
        client.headers["Authorization"] = f"Bearer {token['token']}"
        say(f"token for {token['user_id']} ({token['credits']} credits)")
        session = ok(
            client.post("/api/tasks/me/with-session/nemo_agent", json={"task_name": "demo", "language": "en"})
        )
        sid = session["data"]["session_id"]
        say(f"session {sid}")
        files = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in [*photos, song]]
        uploaded = ok(client.post(f"/api/upload-video/nemo_agent/me/{sid}", files=files))["data"]["files"]
        for f in uploaded:
            size = f"{f.get('width')}x{f.get('height')}" if f.get("width") else f"{f.get('duration')} s"
            say(f"  uploaded {f['filename']}: {f['file_type']} {size}")
        chat(client, sid, PROMPT)
        state = ok(client.get(f"/api/state/nemo_agent/me/{sid}/latest"))["data"]["state"]
        draft = state["draft"]
        canvas = f"{draft['m']['width']}x{draft['m']['height']}"
        say(f"draft: {draft['d'] / 1000:.1f} s, {canvas}, {len(draft['t'])} tracks")
        render_id = f"render_{int(time.time())}"
        started = time.monotonic()
        ok(
            client.post(
                "/api/render/proxy/lambda",
                json={
                    "id": render_id,
                    "sessionId": sid,
                    "draft": draft,
                    "output": {"format": "mp4", "quality": "high"},
                },
            )
        )
        shown = None
        while True:
            status = client.get(f"/api/render/proxy/lambda/{render_id}").json()
            now = (status.get("progress", 0), status.get("phase") or status["status"])
            if now != shown:  # redraw only on change, so a log file gets one line per step
                progress_bar(now[0] / 100, now[1])
                shown = now
            if status["status"] in ("completed", "failed", "cancelled"):
                print()
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        if status["status"] != "completed":
            raise SystemExit(f"render {status['status']}: {status.get('error')}")
        download = f"/api/render/proxy/{render_id}/download"
        with client.stream("GET", download) as response, out.open("wb") as fh:
            for chunk in response.iter_bytes():
                fh.write(chunk)
        say(f"export took {elapsed:.1f} s; wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")


def ffprobe_summary(path: Path) -> None:
    if not shutil.which("ffprobe"):
        say("ffprobe not found; install ffmpeg to see the summary")
        return
    cmd = [
        "ffprobe",
        "-v",
        "error",
        "-show_entries",
        "format=duration,size,bit_rate:stream=codec_name,profile,width,height,pix_fmt,r_frame_rate,sample_rate,channels,color_primaries",
        "-of",
        "json",
        str(path),
    ]
    info = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    say(f"ffprobe: {json.dumps(info['format'])}")
    for stream in info["streams"]:
        say(f"ffprobe: {json.dumps(stream)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "demo.mp4")
    parser.add_argument("--work", type=Path, default=ROOT / "demo_out")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    (args.work / "media").mkdir(parents=True)
    (args.work / "data").mkdir()
    say("making sample photos and a song")
    photos = make_sample_photos(args.work / "media")
    song = make_sample_song(args.work / "media" / "song.wav")
    with running_server(args.work / "data") as base:
        say(f"server up at {base}")
        walk(base, photos, song, args.out)
    ffprobe_summary(args.out)


if __name__ == "__main__":
    main()
