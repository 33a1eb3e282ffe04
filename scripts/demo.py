"""`make demo`: a real video from sample media, through the public API, exactly as a client would.

Makes sample photos and a song with our own code, then: token -> session -> upload -> chat
(/run_sse) -> state -> render -> poll -> download. Uses the server at `--base-url` when given (one
started with `make serve`, say), else starts one on 127.0.0.1 with its own data dir under `--out`.
Writes `<out>/demo.mp4` (default out: a `nemo-demo` folder in the system's temp dir, never the
repository) and prints the ffprobe summary and the export time.

    make demo DEMO_ARGS="--base-url http://127.0.0.1:8000 --out ~/nemo-demo"
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
import tempfile
import time
import uuid
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

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
    img = img.filter(ImageFilter.GaussianBlur(1))
    draw_label(img, f"Photo {seed}")
    return img


LABEL_FONT = ROOT / "renderer" / "fonts" / "DejaVuSans-Bold.ttf"


def draw_label(img: Image.Image, text: str) -> None:
    """The photo's name, large enough to read on a phone once the photo is a slide: 7% of the
    shorter side, white with a dark outline, centred near the top. Centred because a portrait
    canvas crops the sides of a photo (a 4:3 one keeps its middle 42% in 9:16), and Ken Burns
    motion crops a little more."""
    w, h = img.size
    font = ImageFont.truetype(str(LABEL_FONT), size=max(12, round(min(w, h) * 0.07)))
    edge = max(2, round(font.size / 14))
    ImageDraw.Draw(img).text(
        (w / 2, h * 0.12), text, font=font, anchor="mt", fill=(255, 255, 255),
        stroke_width=edge, stroke_fill=(20, 20, 30),
    )  # fmt: skip


def make_sample_photos(folder: Path, count: int = 8) -> list[Path]:
    paths = []
    for i in range(1, count + 1):
        portrait = i % 3 != 0
        size = (1800, 2400) if portrait else (2400, 1800)
        path = folder / f"photo_{i:02d}.jpg"
        _scene(i, size).save(path, quality=90)
        paths.append(path)
    return paths


def make_sample_song(path: Path, seconds: float = 30.0) -> Path:
    """The client's "background music": 30 s of the renderer's own "upbeat" arrangement (drums,
    bass, chords; a beat to cut to), faded out over the last 2 s, as a 48 kHz WAV. Its envelopes
    are smooth: no click on the beats, as a gated test tone had."""
    from renderer.music.synth import SAMPLE_RATE, synthesise

    samples = synthesise("upbeat")[:, : round(seconds * SAMPLE_RATE)].copy()
    fade = round(2.0 * SAMPLE_RATE)
    samples[:, -fade:] *= np.cos(np.linspace(0.0, np.pi / 2, fade)) ** 2
    pcm = np.round(np.clip(samples, -1, 1) * 32767).astype("<i2").T.copy()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
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
        # a new client id per run: a shared server keeps each run's credits and sessions apart
        client_id = f"make-demo-{uuid.uuid4().hex[:12]}"
        token = ok(client.post("/api/auth/anonymous-token", headers={"X-Client-Id": client_id}))["data"]
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
        render_id = f"demo_{int(time.time())}_{uuid.uuid4().hex[:6]}"  # ids are the client's to keep unique
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


DEFAULT_OUT = Path(tempfile.gettempdir()) / "nemo-demo"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base-url",
        help="a running server to use (e.g. http://127.0.0.1:8000 from make serve); "
        "default: start one on 127.0.0.1 with its own data dir under --out",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT,
        help=f"folder for demo.mp4, the sample media and a started server's data (default {DEFAULT_OUT})",
    )  # fmt: skip
    parser.add_argument(
        "--media-only", action="store_true", help="only write the sample photos and song to <out>/media"
    )
    args = parser.parse_args(argv)
    out_dir = args.out.expanduser().resolve()
    media = out_dir / "media"
    shutil.rmtree(media, ignore_errors=True)
    media.mkdir(parents=True)
    say("making sample photos and a song")
    photos = make_sample_photos(media)
    song = make_sample_song(media / "song.wav")
    if args.media_only:
        say(f"wrote {len(photos)} photos and a song to {media}")
        return
    video = out_dir / "demo.mp4"
    if args.base_url:
        say(f"using the server at {args.base_url}")
        walk(args.base_url.rstrip("/"), photos, song, video)
    else:
        data = out_dir / "data"
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir()
        with running_server(data) as base:
            say(f"server up at {base}")
            walk(base, photos, song, video)
    ffprobe_summary(video)


if __name__ == "__main__":
    main()
