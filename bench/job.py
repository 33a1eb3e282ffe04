"""The benchmark job of issue 3, made once and cached under bench/.cache.

10 photos of 12 MP, 30 s at 1080x1920 30 fps, 3 s per photo (each segment 3.45 s so that nine
0.5 s crossfades land the end at exactly 30 s), Ken Burns 1.0 -> 1.1, a title, music,
libx264 veryfast crf 23.
"""

from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CACHE = Path(__file__).resolve().parent / ".cache"
WIDTH, HEIGHT, FPS, SECONDS = 1080, 1920, 30, 30
CROSSFADE_MS = 500
TITLE = "Summer 2026"


def photo(i: int, folder: Path, size: tuple[int, int] = (4000, 3000)) -> Path:
    path = folder / f"photo_{i:02d}.jpg"
    if path.exists():
        return path
    rng = np.random.default_rng(i)
    w, h = size
    # Smooth gradients plus detail, so the encoder sees realistic content rather than flat colour.
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(30, 220, 3)
    img = np.empty((h, w, 3), np.float32)
    for c in range(3):
        img[..., c] = (
            base[c] + 30 * np.sin(xx / rng.uniform(80, 400) + c) + 30 * np.cos(yy / rng.uniform(80, 400))
        )
    noise = rng.normal(0, 6, (h // 4, w // 4, 1)).repeat(4, 0).repeat(4, 1)
    pil = Image.fromarray((img + noise).clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(pil)
    for _ in range(40):
        x, y, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(20, 200)
        draw.ellipse(
            [x - r, y - r, x + r, y + r], outline=tuple(int(v) for v in rng.integers(0, 255, 3)), width=6
        )
    pil.save(path, quality=92)
    return path


def music(folder: Path, seconds: float = 40.0, rate: int = 48000) -> Path:
    path = folder / "music.wav"
    if path.exists():
        return path
    t = np.arange(int(seconds * rate)) / rate
    tone = sum(np.sin(2 * math.pi * f * t) for f in (220.0, 277.18, 329.63)) * 0.15
    tone *= 0.6 + 0.4 * (np.sin(2 * math.pi * 2 * t) > 0)
    pcm = (np.stack([tone, tone], 1).clip(-1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(2)
        fh.setsampwidth(2)
        fh.setframerate(rate)
        fh.writeframes(pcm.tobytes())
    return path


def media(count: int = 10) -> tuple[list[Path], Path]:
    CACHE.mkdir(exist_ok=True)
    return [photo(i % 10, CACHE) for i in range(count)], music(CACHE)


def segment_ms(count: int, seconds: int) -> int:
    """Each photo's segment length so that `count` photos with crossfades fill `seconds` exactly."""
    return (seconds * 1000 + (count - 1) * CROSSFADE_MS) // count


def draft_json(photos: list[Path], song: Path, seconds: int = SECONDS) -> dict:
    seg = segment_ms(len(photos), seconds)
    total = seconds * 1000
    segments = []
    for i, path in enumerate(photos):
        st = i * (seg - CROSSFADE_MS)
        d = total - st if i == len(photos) - 1 else seg
        m: dict = {"fit": "cover", "motion": "zoom_in" if i % 2 == 0 else "zoom_out"}
        if i:
            m["tr"] = {"type": "crossfade", "d": CROSSFADE_MS}
        segments.append({"id": f"p{i}", "src": str(path), "st": st, "d": d, "m": m})
    return {
        "d": total,
        "m": {"width": WIDTH, "height": HEIGHT, "fps": FPS, "bg": "#000000"},
        "t": [
            {"id": "v1", "tt": 0, "sg": segments},
            {
                "id": "a1",
                "tt": 1,
                "sg": [
                    {
                        "id": "m",
                        "src": str(song),
                        "st": 0,
                        "d": total,
                        "m": {"vol": 0.35, "fade_in": 1000, "fade_out": 2000, "loop": True},
                    }
                ],
            },
            {
                "id": "x1",
                "tt": 7,
                "sg": [
                    {
                        "id": "t",
                        "st": 0,
                        "d": 3000,
                        "m": {"text": TITLE, "pos": "center", "size": 0.08, "anim": "fade"},
                    }
                ],
            },
        ],
    }
