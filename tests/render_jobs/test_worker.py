"""The worker: renders in a child process, heartbeats, renames `.part` into place, survives crashes.

The render functions here are real (they encode an H.264 MP4 with PyAV) and reach the worker the
way every render does: as a module-level function the spawned child imports by name (the
standalone worker's `--render-target module:function` names one too).
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import av
import numpy as np
from sqlalchemy.engine import Engine

from render_jobs import lease
from render_jobs.table import RenderJob
from render_jobs.worker import Worker
from renderer.errors import RenderError
from renderer.schema.draft import Draft
from renderer.schema.output import OutputSpec, RenderProgress, RenderResult
from tests.ffprobe import ffprobe

HERE = __name__


def tiny_render(
    draft: Draft,
    sources: Mapping[str, Path],
    out_path: Path,
    output: OutputSpec,
    *,
    device: str = "auto",
    encoder: str = "auto",
    on_progress: Callable[[RenderProgress], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> RenderResult:
    """A real, tiny render: `m.frames` grey frames at 64x64, `m.slow_ms` per frame."""
    extra = draft.m.model_extra or {}
    frames, delay = int(extra.get("frames", 10)), float(extra.get("slow_ms", 0)) / 1000
    for src, path in sources.items():
        if not path.is_file():
            raise RenderError("missing_source", f"{src} is not available")
    w, h, fps = 64, 64, 10
    with av.open(str(out_path), "w", format="mp4") as box:
        stream = box.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(frames):
            if should_cancel is not None and should_cancel():
                raise RenderError("cancelled", "cancelled")
            img = np.full((h, w, 3), (i * 20) % 256, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                box.mux(packet)
            if on_progress is not None:
                on_progress(RenderProgress(phase="encode", progress=(i + 1) * 100 // frames, eta_seconds=0.0))
            time.sleep(delay)
        for packet in stream.encode():
            box.mux(packet)
    return RenderResult(
        size=out_path.stat().st_size, duration=frames / fps, width=w, height=h, fps=fps,
        video_codec="h264", encoder="libx264", device="cpu",
    )  # fmt: skip


def crashing_render(*_: Any, **__: Any) -> RenderResult:
    os._exit(1)  # what a segfault in FFmpeg or CUDA looks like from the parent


def refusing_render(*_: Any, **__: Any) -> RenderResult:
    raise RenderError("bad_media", "photo.jpg cannot be decoded")


def _job(engine: Engine, *, frames: int = 10, slow_ms: int = 0, sources: dict[str, str] | None = None,
         max_attempts: int = 3, render_id: str = "render_1") -> RenderJob:  # fmt: skip
    meta = {"width": 64, "height": 64, "frames": frames, "slow_ms": slow_ms}
    draft = {"d": frames * 100, "m": meta, "t": []}
    return lease.create(
        engine, render_id=render_id, user_id="anon_a", session_id="1", draft=draft,
        sources=sources or {}, output={"format": "mp4"}, max_attempts=max_attempts,
    )  # fmt: skip


def _worker(engine: Engine, data_dir: Path, target: str = "tiny_render", **kw: Any) -> Worker:
    kw.setdefault("lease_seconds", 5.0)
    kw.setdefault("poll_seconds", 0.05)
    return Worker(engine, data_dir=data_dir, render=globals()[target], **kw)


def _wait(pred: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_job_renders_to_one_whole_file_with_growing_progress(engine: Engine, tmp_path: Path) -> None:
    job = _job(engine, frames=20, slow_ms=60)
    seen: list[tuple[str, int]] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            row = lease.get(engine, job.id or 0)
            assert row is not None
            seen.append((row.status, row.progress))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        assert _worker(engine, tmp_path, heartbeat_seconds=0.1).run_once()
    finally:
        done.set()
        watcher.join()
    row = lease.get(engine, job.id or 0)
    assert row is not None and row.status == "completed" and row.progress == 100
    assert row.output_key == f"renders/{job.id}.mp4"
    final = tmp_path / row.output_key
    probe = ffprobe(final)
    assert probe["streams"][0]["codec_name"] == "h264"
    assert int(probe["streams"][0]["nb_frames"]) == 20
    assert row.size == final.stat().st_size and (row.width, row.height) == (64, 64)
    assert list(final.parent.glob("*.part*")) == []
    progress = [p for _, p in seen]
    assert progress == sorted(progress)
    assert any(s == "processing" and 0 < p < 100 for s, p in seen), seen


def test_always_crashing_render_fails_after_max_attempts(engine: Engine, tmp_path: Path) -> None:
    job = _job(engine, max_attempts=2)
    worker = _worker(engine, tmp_path, "crashing_render")
    assert worker.run_once() and worker.run_once()
    assert not worker.run_once()  # nothing left to run: it does not loop
    row = lease.get(engine, job.id or 0)
    assert row is not None and row.status == "failed" and row.attempts == 2
    assert row.error_message == "gave up after 2 attempts; last: the render process died (exit code 1)"
    assert not (tmp_path / "renders" / f"{job.id}.mp4").exists()


def test_render_error_fails_at_once_with_its_message(engine: Engine, tmp_path: Path) -> None:
    job = _job(engine)
    assert _worker(engine, tmp_path, "refusing_render").run_once()
    row = lease.get(engine, job.id or 0)
    assert row is not None and (row.status, row.attempts) == ("failed", 1)
    assert (row.error_code, row.error_message) == ("bad_media", "photo.jpg cannot be decoded")


def test_missing_source_is_reported_and_builtin_music_is_resolved(engine: Engine, tmp_path: Path) -> None:
    missing = _job(engine, sources={"https://x/y.jpg": "media/none.jpg"}, render_id="a")
    builtin = _job(engine, sources={"builtin:lofi": "builtin:lofi"}, render_id="b")
    worker = _worker(engine, tmp_path)
    assert worker.run_once() and worker.run_once()
    row = lease.get(engine, missing.id or 0)
    assert row is not None and (row.status, row.error_code) == ("failed", "missing_source")
    row = lease.get(engine, builtin.id or 0)
    assert row is not None and row.status == "completed"
    assert any((tmp_path / "builtin").iterdir())


def test_cancel_stops_a_running_render(engine: Engine, tmp_path: Path) -> None:
    job = _job(engine, frames=400, slow_ms=50)
    worker = _worker(engine, tmp_path, heartbeat_seconds=0.1)
    runner = threading.Thread(target=worker.run_once)
    runner.start()
    _wait(lambda: (r := lease.get(engine, job.id or 0)) is not None and r.progress > 0)
    lease.request_cancel(engine, job.id or 0)
    runner.join(60)
    row = lease.get(engine, job.id or 0)
    assert row is not None and row.status == "cancelled"
    assert list((tmp_path / "renders").iterdir()) == []


def test_worker_that_lost_its_lease_stops_and_the_new_holder_finishes(engine: Engine, tmp_path: Path) -> None:
    job = _job(engine, frames=300, slow_ms=50)
    stale = _worker(engine, tmp_path, heartbeat_seconds=0.1, worker_id="stale")
    runner = threading.Thread(target=stale.run_once)
    runner.start()
    _wait(lambda: (r := lease.get(engine, job.id or 0)) is not None and r.progress > 0)
    # Another worker sees the lease as lapsed (as if the stale one had been paused past it).
    claim = lease.claim_next(engine, "fresh", 30, now=time.time() + 60)
    assert claim is not None and claim.token == 2
    runner.join(60)
    assert not runner.is_alive()
    row = lease.get(engine, job.id or 0)
    assert row is not None and row.status == "processing" and row.lease_owner == "fresh"
    assert not list((tmp_path / "renders").glob("*.part-1"))  # the stale part file is gone

    fresh = _worker(engine, tmp_path, worker_id="fresh")
    fresh.process(lease.Claim(job=lease.get(engine, job.id or 0), token=claim.token, worker_id="fresh"))  # type: ignore[arg-type]
    row = lease.get(engine, job.id or 0)
    assert row is not None and row.status == "completed" and row.fencing_token == 2
    assert int(ffprobe(tmp_path / (row.output_key or ""))["streams"][0]["nb_frames"]) == 300
    assert [p.name for p in (tmp_path / "renders").iterdir()] == [f"{job.id}.mp4"]


def _stop_mid_render(engine: Engine, tmp_path: Path, frames: int, grace_seconds: float) -> RenderJob | None:
    """Run a worker on a slow job, stop it once the render is under way; the job's row after."""
    job = _job(engine, frames=frames, slow_ms=50)
    worker = _worker(engine, tmp_path, heartbeat_seconds=0.1)
    runner = threading.Thread(target=worker.run)
    runner.start()
    _wait(lambda: (r := lease.get(engine, job.id or 0)) is not None and r.progress > 0)
    worker.stop(grace_seconds=grace_seconds)
    runner.join(max(60, grace_seconds))
    return lease.get(engine, job.id or 0)


def test_stop_releases_the_lease_at_once(engine: Engine, tmp_path: Path) -> None:
    row = _stop_mid_render(engine, tmp_path, frames=400, grace_seconds=0)
    assert row is not None and (row.status, row.attempts, row.lease_owner) == ("pending", 0, None)
    assert list((tmp_path / "renders").iterdir()) == []


def test_stop_with_grace_lets_a_short_render_finish(engine: Engine, tmp_path: Path) -> None:
    row = _stop_mid_render(engine, tmp_path, frames=20, grace_seconds=120)
    assert row is not None and row.status == "completed"


def _standalone(tmp_path: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEMO_")}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parents[2]), str(Path(__file__).parent)]
    )
    cmd = [
        sys.executable, "-m", "render_jobs",
        "--database-url", f"sqlite:///{tmp_path / 'jobs.db'}", "--data-dir", str(tmp_path),
        "--render-target", f"{HERE}:tiny_render", "--lease-seconds", "5", "--poll-seconds", "0.05", *extra,
    ]  # fmt: skip
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "worker.log", "wb")
    )


def test_standalone_worker_renders_and_sigterm_releases_the_lease(engine: Engine, tmp_path: Path) -> None:
    quick = _job(engine, frames=10, render_id="quick")
    proc = _standalone(tmp_path, "--grace-seconds", "0")
    try:
        _wait(lambda: (r := lease.get(engine, quick.id or 0)) is not None and r.status == "completed")
        slow = _job(engine, frames=600, slow_ms=50, render_id="slow")
        _wait(lambda: (r := lease.get(engine, slow.id or 0)) is not None and r.progress > 0)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    row = lease.get(engine, slow.id or 0)
    assert row is not None and (row.status, row.attempts, row.lease_owner) == ("pending", 0, None)
    assert sorted(p.name for p in (tmp_path / "renders").iterdir()) == [f"{quick.id}.mp4"]
    assert int(ffprobe(tmp_path / "renders" / f"{quick.id}.mp4")["streams"][0]["nb_frames"]) == 10


def test_a_heartbeat_no_shorter_than_the_lease_is_refused_before_anything_starts(tmp_path: Path) -> None:
    """A lease renewed less often than it lapses would hand every running job to another worker."""
    run = subprocess.run(
        [sys.executable, "-m", "render_jobs", "--database-url", f"sqlite:///{tmp_path / 'w.db'}",
         "--data-dir", str(tmp_path), "--lease-seconds", "10", "--heartbeat-seconds", "10"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2
    assert "--heartbeat-seconds must be above 0 and below --lease-seconds" in run.stderr
    assert not (tmp_path / "w.db").exists()  # refused before it touched the database


def test_each_render_logs_its_device_encoder_times_and_outcome(
    engine: Engine, tmp_path: Path, caplog: Any, capfd: Any
) -> None:
    # An operator reading the server's log sees every render: what it ran on and how it ended.
    caplog.set_level(logging.INFO)
    done, refused = _job(engine, frames=5, render_id="logged_ok"), _job(engine, render_id="logged_bad")
    assert _worker(engine, tmp_path).run_once(done.id)
    assert _worker(engine, tmp_path, target="refusing_render").run_once(refused.id)
    child = capfd.readouterr().err  # the render's own process writes to the shared stderr
    assert f"[render-{done.id}]: render started: 64x64" in child
    assert re.search(rf"\[render-{done.id}\]: render done in [\d.]+ s: device cpu, encoder libx264", child)
    assert re.search(rf"\[render-{refused.id}\]: render ended after [\d.]+ s: bad_media: photo.jpg", child)
    worker = caplog.text
    assert re.search(
        r"job \d+ \(logged_ok\) attempt 1 completed in [\d.]+ s: device cpu, encoder libx264", worker
    )
    assert re.search(r"job \d+ \(logged_bad\) attempt 1 failed after [\d.]+ s: bad_media", worker)


def render_in_two_parts(*args: Any, **kwargs: Any) -> RenderResult:
    """The real renderer, its frames forced into two parts (issue 16: chunked rendering)."""
    from renderer.render import render

    return render(*args, parts=2, **kwargs)


def test_a_render_in_parts_completes_in_the_worker(engine: Engine, tmp_path: Path) -> None:
    """The worker's render process is a daemonic multiprocessing child, which may not start
    multiprocessing children of its own: its parts must start anyway, and the job complete."""
    from PIL import Image

    Image.new("RGB", (64, 64), (200, 30, 30)).save(tmp_path / "red.png")
    draft = {
        "d": 6000,
        "m": {"width": 64, "height": 64, "fps": 10},
        "t": [{"id": "v", "tt": 0, "sg": [{"id": "s", "src": "red", "st": 0, "d": 6000}]}],
    }
    job = lease.create(
        engine, render_id="parts", user_id="anon_a", session_id="1", draft=draft,
        sources={"red": "red.png"}, output={"format": "mp4", "quality": "low"},
    )  # fmt: skip
    seen: list[int] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            row = lease.get(engine, job.id or 0)
            assert row is not None
            seen.append(row.progress)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        assert _worker(engine, tmp_path, "render_in_two_parts", heartbeat_seconds=0.1).run_once()
    finally:
        done.set()
        watcher.join()
    row = lease.get(engine, job.id or 0)
    assert row is not None and row.status == "completed", (row.error_code if row else None, row)
    streams = ffprobe(tmp_path / (row.output_key or ""))["streams"]
    video = next(s for s in streams if s["codec_type"] == "video")
    assert int(video["nb_frames"]) == 60 and float(video["duration"]) == 6.0
    assert seen == sorted(seen)
    assert list((tmp_path / "renders").glob("nemo-parts-*")) == []  # the parts' scratch is gone
