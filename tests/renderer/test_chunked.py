"""Chunked rendering (issue 16): the frames split into parts at keyframes, each part composited and
encoded by its own process, joined by stream copy beside one AAC soundtrack. What a user gets must
not show it: on a lossless render every decoded frame equals the unchunked render's, the sound is
the same, keyframes are at most 2 s apart, and the streams are as long as the timeline."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from renderer.chunks.parts import choose_parts, part_count
from renderer.errors import RenderError
from renderer.render import render
from renderer.schema.draft import Draft
from renderer.schema.output import OutputSpec, RenderProgress
from tests.renderer.render_check import assert_output_streams, ffprobe, media_factory, needs_ffprobe, solid

pytestmark = needs_ffprobe

FPS = 10
LOOP = {"loop": True}


def _photo(directory: Path, name: str, seed: int) -> Path:
    """A photo with detail everywhere, so any misplaced frame or pixel shows."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (48, 36, 3), dtype=np.uint8).repeat(10, axis=0).repeat(10, axis=1)
    path = directory / name
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def media(tmp_path: Path) -> dict[str, Path]:
    return {
        "a": _photo(tmp_path, "a.png", 1),
        "b": _photo(tmp_path, "b.png", 2),
        "c": _photo(tmp_path, "c.png", 3),
        "clip": media_factory.mp4_clip(tmp_path, "clip.mp4", seconds=3.0, fps=FPS),
        "tone": media_factory.wav_tone(tmp_path, "tone.wav", seconds=2.0),
        "grey": solid(tmp_path, "grey.png", (128, 128, 128)),
    }


def _draft(seconds: float = 8.0) -> Draft:
    """Ken Burns photos with crossfades, a clip and a title, each crossing a part boundary (the
    parts of 3 start at 2 s and 6 s), under a looping tone."""
    ms = int(seconds * 1000)
    fade = {"type": "crossfade", "d": 500}
    return Draft.model_validate(
        {
            "d": ms,
            "m": {"width": 72, "height": 128, "fps": FPS, "bg": "#000000"},
            "t": [
                {
                    "id": "v",
                    "tt": 0,
                    "sg": [
                        {"id": "a", "src": "a", "st": 0, "d": 2500, "m": {"motion": "zoom_in"}},
                        {"id": "b", "src": "b", "st": 2000, "d": 2600, "m": {"motion": "pan_up", "tr": fade}},
                        {"id": "k", "src": "clip", "st": 4100, "d": 2600, "m": {"tr": fade}},
                        {
                            "id": "c",
                            "src": "c",
                            "st": 6200,
                            "d": ms - 6200,
                            "m": {"motion": "zoom_out", "tr": fade},
                        },
                    ],
                },
                {
                    "id": "x",
                    "tt": 7,
                    "sg": [{"id": "t", "st": 1000, "d": 4000, "m": {"text": "Join", "anim": "fade"}}],
                },
                {"id": "m", "tt": 1, "sg": [{"id": "m", "src": "tone", "st": 0, "d": ms, "m": LOOP}]},
            ],
        }
    )


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="yuv420p") for f in container.decode(video=0)]


def _samples(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)


def _frame_info(path: Path) -> list[dict[str, Any]]:
    """ffprobe's frames of the video stream: key flag and presentation time, in display order."""
    out = subprocess.run(
        [
            *("ffprobe", "-v", "error", "-select_streams", "v:0"),
            *("-show_entries", "frame=key_frame,pts_time", "-of", "json", str(path)),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return list(json.loads(out)["frames"])


def test_three_parts_match_the_unchunked_render_frame_for_frame(
    tmp_path: Path, media: dict[str, Path]
) -> None:
    whole = tmp_path / "whole.mp4"
    chunked = tmp_path / "chunked.mp4"
    lossless = OutputSpec(crf=0, preset="ultrafast")
    render(_draft(), media, whole, lossless, device="cpu", parts=1)
    render(_draft(), media, chunked, lossless, device="cpu", parts=3)

    a, b = _frames(whole), _frames(chunked)
    assert len(a) == len(b) == 80
    for index, (x, y) in enumerate(zip(a, b, strict=True)):
        assert np.array_equal(x, y), f"frame {index} differs"
    # and the frames really change across each join (a repeated frame would equal its neighbour)
    for join in (20, 60):
        assert not np.array_equal(b[join - 1], b[join])
    assert np.array_equal(_samples(whole), _samples(chunked))  # one soundtrack, the same AAC


def test_a_chunked_file_has_keyframes_on_the_joins_and_exact_durations(
    tmp_path: Path, media: dict[str, Path]
) -> None:
    out = tmp_path / "out.mp4"
    render(_draft(), media, out, OutputSpec(quality="low"), device="cpu", parts=3)
    _, video, audio = assert_output_streams(out)
    assert float(video["duration"]) == pytest.approx(8.0, abs=0.001)
    assert abs(float(audio["duration"]) - 8.0) <= 1 / FPS
    frames = _frame_info(out)
    times = [round(float(f["pts_time"]) * FPS) for f in frames]
    assert times == list(range(80))  # one timestamp per frame: none repeated or missing
    keys = [t for t, f in zip(times, frames, strict=True) if f["key_frame"] == 1]
    assert {0, 20, 60} <= set(keys)  # each part starts on a keyframe
    assert max(b - a for a, b in zip(keys, [*keys[1:], 80], strict=True)) <= 2 * FPS
    with out.open("rb") as fh:  # faststart: the index (moov) before the media (mdat)
        head = fh.read(4096)
    assert 0 <= head.find(b"moov") < head.find(b"mdat") or b"mdat" not in head


def test_an_unchunked_render_has_a_keyframe_every_two_seconds(tmp_path: Path, media: dict[str, Path]) -> None:
    out = tmp_path / "out.mp4"
    render(_draft(), media, out, OutputSpec(quality="low"), device="cpu", parts=1)
    keys = [round(float(f["pts_time"]) * FPS) for f in _frame_info(out) if f["key_frame"] == 1]
    assert max(b - a for a, b in zip(keys, [*keys[1:], 80], strict=True)) <= 2 * FPS


def test_chunked_progress_only_grows_and_a_cancel_leaves_no_file(
    tmp_path: Path, media: dict[str, Path]
) -> None:
    seen: list[RenderProgress] = []
    out = tmp_path / "out.mp4"
    render(_draft(), media, out, OutputSpec(quality="low"), device="cpu", parts=2, on_progress=seen.append)
    values = [p.progress for p in seen]
    assert values == sorted(values) and values[-1] == 100
    assert any(0 < v < 95 for v in values)  # the parts' frames were reported on the way

    cancelled = tmp_path / "cancelled.mp4"
    with pytest.raises(RenderError) as caught:
        render(
            _draft(),
            media,
            cancelled,
            OutputSpec(quality="low"),
            device="cpu",
            parts=2,
            should_cancel=lambda: True,
        )
    assert caught.value.code == "cancelled"
    assert list(tmp_path.glob("cancelled*")) == [] and list(tmp_path.glob("nemo-parts-*")) == []


def test_a_failing_part_fails_the_render_with_its_code(tmp_path: Path, media: dict[str, Path]) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    with pytest.raises(RenderError) as caught:
        render(_draft(), {**media, "c": broken}, tmp_path / "o.mp4", OutputSpec(), device="cpu", parts=3)
    assert caught.value.code in ("bad_media", "missing_source")
    assert not (tmp_path / "o.mp4").exists()


def test_parts_follow_the_cores_and_the_length() -> None:
    # 2 cores: one x264 already keeps both busy; a render stays one part
    assert part_count(900, 30, 2) == 1
    assert part_count(900, 30, 3) == 1
    assert part_count(900, 30, 16) == 7  # 30 s: parts of at least 4 s
    assert part_count(18000, 30, 16) == 8  # 10 min: a part per 2 cores
    assert part_count(90, 30, 64) == 1  # 3 s: too short to split
    parts = choose_parts(900, 30, 16)
    assert parts[0].start == 0 and parts[-1].stop == 900
    assert all(p.start % 60 == 0 for p in parts)  # on keyframe intervals
    assert all(a.stop == b.start for a, b in itertools.pairwise(parts))
    assert [(p.start, p.stop) for p in choose_parts(80, 10, 2, forced=3)] == [(0, 20), (20, 60), (60, 80)]
    assert len(choose_parts(25, 10, 2, forced=8)) == 2  # at most one part per keyframe interval


def check_av_sync(directory: Path, seconds: int, parts: int) -> tuple[float, float, float, float]:
    """A grey picture under a looping song; one second before the end the picture turns white and
    a 1 kHz beep starts, both at the same draft time. Rendered at 30 fps in `parts` parts, the
    first white frame and the beep's onset must lie within one frame of that time and of each
    other, and the streams as long as the timeline. Returns (flash, onset, video s, audio s).
    (tests/renderer/audio: the same check over ten minutes, unchunked; bench/README quotes this
    one run over ten minutes in parts.)"""
    fps, cue = 30, seconds - 1.0
    rate = 48_000
    song = directory / "song.wav"
    beep = directory / "beep.wav"
    for path, hz, length, amplitude in ((song, 300, 7.3, 0.05), (beep, 1000, 1.0, 0.5)):
        t = np.arange(int(length * rate)) / rate
        wave = (amplitude * np.sin(2 * np.pi * hz * t) * 32767).astype(np.int16)
        with av.open(str(path), "w", format="wav") as container:
            stream = container.add_stream("pcm_s16le", rate=rate, layout="mono")
            frame = av.AudioFrame.from_ndarray(wave[None, :], format="s16", layout="mono")
            frame.sample_rate = rate
            container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
    sources = {
        "grey": solid(directory, "grey.png", (128, 128, 128)),
        "white": solid(directory, "white.png", (250, 250, 250)),
        "song": song,
        "beep": beep,
    }
    ms, cue_ms = seconds * 1000, int(cue * 1000)
    d = Draft.model_validate(
        {
            "d": ms,
            "m": {"width": 64, "height": 64, "fps": fps},
            "t": [
                {
                    "id": "v",
                    "tt": 0,
                    "sg": [
                        {"id": "g", "src": "grey", "st": 0, "d": cue_ms},
                        {"id": "w", "src": "white", "st": cue_ms, "d": 1000},
                    ],
                },
                {"id": "a", "tt": 1, "sg": [{"id": "m", "src": "song", "st": 0, "d": ms, "m": LOOP}]},
                {"id": "b", "tt": 1, "sg": [{"id": "b", "src": "beep", "st": cue_ms, "d": 1000}]},
            ],
        }
    )
    out = directory / "sync.mp4"
    render(d, sources, out, OutputSpec(preset="ultrafast"), device="cpu", parts=parts)
    streams = {s["codec_type"]: s for s in ffprobe(out)["streams"]}
    video, audio = float(streams["video"]["duration"]), float(streams["audio"]["duration"])
    with av.open(str(out)) as container:
        flash = next(
            float(f.time)
            for f in container.decode(video=0)
            if f.time is not None and f.time > cue - 1 and f.to_ndarray(format="gray").mean() > 170
        )
    with av.open(str(out)) as container:
        tail = [f for f in container.decode(audio=0) if f.time is not None and f.time > cue - 1]
        start = float(tail[0].time or 0.0)
        mono = np.concatenate([f.to_ndarray() for f in tail], axis=1).mean(axis=0)
    t = start + np.arange(mono.size) / rate
    envelope = np.abs(np.convolve(mono * np.exp(-2j * np.pi * 1000 * t), np.ones(96) / 96, mode="same"))
    onset = float(t[np.argmax(envelope > envelope.max() / 2)])
    return flash, onset, video, audio


def test_a_chunked_render_keeps_audio_within_a_frame_of_video(tmp_path: Path) -> None:
    seconds, parts = 40, 4
    flash, onset, video, audio = check_av_sync(tmp_path, seconds, parts)
    cue, frame = seconds - 1.0, 1 / 30
    assert video == pytest.approx(seconds, abs=0.001)
    assert abs(audio - video) <= frame
    assert flash == pytest.approx(cue, abs=frame)
    assert onset == pytest.approx(cue, abs=frame)
    assert abs(onset - flash) <= frame


def _part_processes(pid: int) -> list[int]:
    """The children of `pid` running a part (python -m renderer.chunks.part)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = (task / "children").read_text().split() if (task / "children").exists() else []
        for child in children:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes() if Path(f"/proc/{child}").exists() else b""
            if b"renderer.chunks.part" in cmdline:
                found.append(int(child))
    return found


def test_parts_stop_when_their_render_is_killed(tmp_path: Path, media: dict[str, Path]) -> None:
    """kill -9 of the render process (a worker's child, say): its parts must not render on,
    burning the cores for a file nobody will join."""
    script = (
        "import sys, json, pathlib\n"
        "from renderer.render import render\n"
        "from renderer.schema.draft import Draft\n"
        "from renderer.schema.output import OutputSpec\n"
        "d = Draft.model_validate_json(sys.argv[1])\n"
        "sources = {k: pathlib.Path(v) for k, v in json.loads(sys.argv[2]).items()}\n"
        "render(d, sources, pathlib.Path(sys.argv[3]), OutputSpec(), device='cpu', parts=2)\n"
    )
    long = _draft(60.0).model_copy(deep=True)
    long.m.width, long.m.height = 720, 1280
    proc = subprocess.Popen(
        [
            *(sys.executable, "-c", script, long.model_dump_json(by_alias=True, exclude_none=True)),
            *(json.dumps({k: str(v) for k, v in media.items()}), str(tmp_path / "o.mp4")),
        ],
        cwd=Path(__file__).resolve().parents[2],
    )
    deadline = time.monotonic() + 120
    parts: list[int] = []
    while len(parts) < 2:
        assert time.monotonic() < deadline and proc.poll() is None, "the parts never started"
        time.sleep(0.1)
        parts = _part_processes(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 20
    while any(Path(f"/proc/{pid}").exists() and b"Z" not in _state(pid) for pid in parts):
        assert time.monotonic() < deadline, "a part rendered on after its render was killed"
        time.sleep(0.1)


def _state(pid: int) -> bytes:
    """The process state letter from /proc/<pid>/stat (Z: exited, not yet reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return b"Z"


def test_a_part_killed_mid_render_is_a_crash_to_retry_not_a_failed_job(
    tmp_path: Path, media: dict[str, Path]
) -> None:
    """A part's process killed (OOM killer, a crash in FFmpeg): the render raises PartCrashed,
    which the worker counts as a crashed attempt and runs again, not a RenderError that would
    fail the user's job for good; and no file is left."""
    from renderer.chunks.pool import PartCrashed

    long = _draft(60.0).model_copy(deep=True)
    long.m.width, long.m.height = 720, 1280
    out = tmp_path / "o.mp4"
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            render(long, media, out, OutputSpec(), device="cpu", parts=2)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 120
    parts: list[int] = []
    while len(parts) < 2:
        assert time.monotonic() < deadline and thread.is_alive(), "the parts never started"
        time.sleep(0.1)
        parts = _part_processes(os.getpid())
    os.kill(parts[1], signal.SIGKILL)
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], PartCrashed), outcome
    assert not isinstance(outcome[0], RenderError)
    assert not out.exists() and list(tmp_path.glob("nemo-parts-*")) == []


def test_the_gpu_compositor_in_parts_matches_it_unchunked(tmp_path: Path, media: dict[str, Path]) -> None:
    """The torch (CUDA) compositing path, run on the CPU device ("torch-cpu"), in 2 parts: each
    part process builds its own torch backend; the frames equal the unchunked render's."""
    whole, chunked = tmp_path / "whole.mp4", tmp_path / "chunked.mp4"
    lossless = OutputSpec(crf=0, preset="ultrafast")
    render(_draft(), media, whole, lossless, device="torch-cpu", parts=1)
    render(_draft(), media, chunked, lossless, device="torch-cpu", parts=2)
    a, b = _frames(whole), _frames(chunked)
    assert len(a) == len(b) == 80
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_more_parts_than_cores_run_a_core_s_worth_at_a_time(tmp_path: Path, media: dict[str, Path]) -> None:
    """Memory is bounded by the cores, not by the parts: 3 parts on 1 core run one after another,
    and the file is the same 80 frames."""
    most, stop = 0, threading.Event()

    def watch() -> None:
        nonlocal most
        while not stop.is_set():
            most = max(most, len(_part_processes(os.getpid())))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        out = tmp_path / "o.mp4"
        result = render(_draft(), media, out, OutputSpec(quality="low"), device="cpu", parts=3, cores=1)
    finally:
        stop.set()
        watcher.join()
    assert result.parts == 3 and most == 1
    assert len(_frame_info(out)) == 80
