"""`make demo` (scripts/demo.py): against a server that is already running, into a folder of the
user's choosing, with sample media that shows what the renderer does."""

from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageChops

from tests.ffprobe import ffprobe

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import demo  # noqa: E402


def _repo_files() -> set[str]:
    return {p.name for p in ROOT.iterdir()}


def test_demo_uses_a_running_server_and_writes_only_into_its_out_folder(
    nemo_fake: Any, tmp_path: Path
) -> None:
    before = _repo_files()
    out = tmp_path / "my videos"
    run = subprocess.run(
        [sys.executable, "scripts/demo.py", "--base-url", nemo_fake.base_url, "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"using the server at {nemo_fake.base_url}" in run.stdout
    streams = {s["codec_type"]: s for s in ffprobe(out / "demo.mp4")["streams"]}
    assert streams["video"]["codec_name"] == "h264" and streams["audio"]["codec_name"] == "aac"
    assert sorted(p.name for p in (out / "media").iterdir())[-1] == "song.wav"
    assert not (out / "data").exists()  # no server of its own
    assert _repo_files() == before  # nothing written into the repository
    renders = nemo_fake.requests(path="/api/render/proxy/lambda", method="POST")
    assert len(renders) == 1 and renders[0]["headers"]["x-skill-source"] == "demo"


def _steps(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").reshape(-1, wav.getnchannels())
    return np.abs(np.diff(pcm[:, 0].astype(np.float64) / 32767))


def test_the_sample_song_has_no_clicks(tmp_path: Path) -> None:
    # A click is a step far larger than anything the music itself does, heard on every beat in
    # the old song (a gated 60 Hz tone cut off mid-cycle): none may be 4x the 99.9th percentile.
    steps = _steps(demo.make_sample_song(tmp_path / "song.wav"))
    assert steps.size > 48_000 * 25
    clicks = int((steps > 4 * np.quantile(steps, 0.999)).sum())
    assert clicks == 0


def test_the_photo_labels_can_be_read_once_the_photo_is_a_slide() -> None:
    # A 2400x1800 photo shown on a 1080x1920 canvas is scaled by 0.45 at most: a label under 5% of
    # the picture's height would be a few pixels tall (the old default font was 11 px of 2400).
    # Cover fit keeps only the middle 42% of a landscape photo's width on a portrait canvas, and
    # Ken Burns motion zooms in from the top a little: the label must sit inside what is shown.
    for size in ((1800, 2400), (2400, 1800)):
        w, h = size
        blank = Image.new("RGB", size, (90, 120, 150))
        labelled = blank.copy()
        demo.draw_label(labelled, "Photo 3")
        box = ImageChops.difference(blank, labelled).getbbox()
        assert box is not None
        assert box[3] - box[1] >= 0.05 * min(size) and box[2] - box[0] >= 0.15 * min(size)
        assert box[0] >= 0.29 * w and box[2] <= 0.71 * w and box[1] >= 0.08 * h, box
