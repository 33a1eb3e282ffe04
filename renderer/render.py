"""render(): draft + local files -> MP4. The pipelined frame loop, nothing else.

Three overlapping stages: a decode thread loads upcoming photos (sources.py), a compositing
thread (at a lower CPU priority than the encoder's: _behind_the_encoder) draws each frame
straight into yuv420p planes, and an encoder thread turns queued frames into H.264 and muxes
the AAC soundtrack beside them. OpenCV and FFmpeg release the GIL, so the
stages really run in parallel; the queue is bounded, so memory does not grow with the video.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from renderer.audio import soundtrack
from renderer.compose.compositor import Compositor
from renderer.compose.ops.device import DEVICES
from renderer.compose.sources import SourcePool
from renderer.encode.choice import choose_encoder
from renderer.encode.ffmpeg_command import FfmpegMuxer
from renderer.encode.muxer import EncoderSettings, Muxer, VideoMuxer
from renderer.errors import RenderError
from renderer.media.decode_image import is_photo
from renderer.plan import RenderPlan, build_plan
from renderer.planes import FrameBuffer
from renderer.priority import BEHIND_ENCODER, lower_this_thread
from renderer.schema.draft import Draft
from renderer.schema.output import OutputSpec, Phase, RenderProgress, RenderResult

log = logging.getLogger("nemo.renderer")

QUEUE_FRAMES = 4
CANCEL_EVERY = 5
LOOKAHEAD_SECONDS = 1.0


def choose_device(device: str) -> str:
    """cuda when asked for (or auto) and torch sees a GPU; else cpu. Never imports torch for cpu.
    "torch-cpu" runs the GPU compositor's code on the CPU (slow; for checking it without a GPU)."""
    if device not in DEVICES:
        raise RenderError("bad_output", f"unknown device {device!r}; use one of {', '.join(DEVICES)}")
    if device == "torch-cpu":
        log.info("compositing device: torch-cpu (the GPU code path on the CPU)")
        return device
    chosen = "cpu"
    if device != "cpu" and (Path("/dev/nvidiactl").exists() or device == "cuda"):
        import torch

        if torch.cuda.is_available():
            chosen = "cuda"
        elif device == "cuda":
            log.warning("device cuda requested but torch sees no GPU; compositing on the CPU")
    log.info("compositing device: %s", chosen)
    return chosen


class _Progress:
    def __init__(self, callback: Callable[[RenderProgress], None] | None) -> None:
        self.callback = callback
        self.started = time.monotonic()
        self.last = -1

    def report(self, phase: Phase, progress: float) -> None:
        value = max(self.last, min(100, int(progress)))
        if self.callback is None or (value == self.last and phase != "mux"):
            return
        self.last = value
        elapsed = time.monotonic() - self.started
        eta = elapsed * (100 - value) / value if value > 0 else None
        self.callback(RenderProgress(phase=phase, progress=value, eta_seconds=eta))


class _EncoderThread(threading.Thread):
    """Takes filled frame buffers from `frames`, encodes them, hands the buffers back via `free`."""

    def __init__(self, muxer: VideoMuxer, width: int, height: int) -> None:
        super().__init__(name="nemo-encode", daemon=True)
        self.muxer = muxer
        self.frames: queue.Queue[FrameBuffer | None] = queue.Queue(maxsize=QUEUE_FRAMES)
        self.free: queue.Queue[FrameBuffer] = queue.Queue()
        for _ in range(QUEUE_FRAMES + 2):
            self.free.put(FrameBuffer(width, height))
        self.error: BaseException | None = None

    def run(self) -> None:
        while True:
            buffer = self.frames.get()
            if buffer is None:
                return
            try:
                if self.error is None:
                    self.muxer.add_video(buffer.array())
            except BaseException as exc:  # handed to the compositing thread, which raises it
                self.error = exc
            finally:
                self.free.put(buffer)

    def take_buffer(self) -> FrameBuffer:
        while True:
            self.check()
            try:
                return self.free.get(timeout=0.5)
            except queue.Empty:
                continue

    def check(self) -> None:
        if self.error is not None:
            raise RenderError("encoder", f"encoding failed: {self.error}") from self.error


def render(
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
    progress = _Progress(on_progress)
    progress.report("decode", 0)
    plan = build_plan(draft, sources, output)
    chosen_device = choose_device(device)
    settings = choose_encoder(encoder, output)
    items = [a for a in plan.audio if not is_photo(a.path) and soundtrack.has_audio(a.path)]
    mix = soundtrack.soundtrack_for(plan, items)  # streamed to the muxer in blocks (pass 2)
    pool = SourcePool(plan, lookahead=max(1, round(LOOKAHEAD_SECONDS * plan.fps)), nice=BEHIND_ENCODER)
    try:
        pool.advance(0)  # the first photos decode while the soundtrack is measured
        mix.measure()  # pass 1: loudness; here, so a bad audio file fails as bad_media before encoding
        progress.report("decode", 3)
        _encode(plan, pool, mix, settings, out_path, chosen_device, progress, should_cancel)
    finally:
        pool.close()
    progress.report("mux", 100)
    return RenderResult(
        size=out_path.stat().st_size,
        duration=plan.n_frames / plan.fps,
        width=plan.width,
        height=plan.height,
        fps=plan.fps,
        video_codec="h264",
        encoder=settings.label,
        device=chosen_device,
    )


def _encode(
    plan: RenderPlan,
    pool: SourcePool,
    mix: soundtrack.Soundtrack,
    settings: EncoderSettings,
    out_path: Path,
    device: str,
    progress: _Progress,
    should_cancel: Callable[[], bool] | None,
) -> None:
    """Composite and encode every frame into `out_path`; on any failure, no file is left."""
    muxer: VideoMuxer
    if settings.via == "ffmpeg":
        muxer = FfmpegMuxer(out_path, plan.width, plan.height, plan.fps, settings, mix)
    else:
        muxer = Muxer(out_path, plan.width, plan.height, plan.fps, settings, mix)
    encoder_thread = _EncoderThread(muxer, plan.width, plan.height)
    finished = False
    try:
        encoder_thread.start()
        _behind_the_encoder(
            lambda stop: _frame_loop(plan, pool, encoder_thread, device, progress, should_cancel, stop)
        )
        encoder_thread.frames.put(None)
        encoder_thread.join()
        encoder_thread.check()
        progress.report("encode", 98)
        muxer.finish()
        finished = True
    finally:
        if not finished:
            if encoder_thread.is_alive():
                encoder_thread.frames.put(None)
                encoder_thread.join()
            muxer.abort()
            out_path.unlink(missing_ok=True)


def _behind_the_encoder(work: Callable[[threading.Event], None]) -> None:
    """Run `work` (the frame loop) in a thread of its own at a lower CPU priority than the
    caller's and the encoder's (priority.py). OpenCV's workers, when first started from it,
    inherit that priority.

    `work` gets an event that is set when the caller is interrupted (KeyboardInterrupt while
    waiting): it must then stop soon. Its exceptions are raised here, in the caller.
    """
    stop = threading.Event()
    with ThreadPoolExecutor(1, thread_name_prefix="nemo-compose", initializer=lower_this_thread) as thread:
        done = thread.submit(work, stop)
        try:
            done.result()
        finally:
            stop.set()  # a no-op once `work` has returned; else it stops before the executor joins


def _frame_loop(
    plan: RenderPlan,
    pool: SourcePool,
    encoder_thread: _EncoderThread,
    device: str,
    progress: _Progress,
    should_cancel: Callable[[], bool] | None,
    stop: threading.Event,
) -> None:
    compositor = Compositor(plan, pool, device)
    for frame in range(plan.n_frames):
        if stop.is_set() or (should_cancel is not None and frame % CANCEL_EVERY == 0 and should_cancel()):
            raise RenderError("cancelled", "the render was cancelled")
        buffer = encoder_thread.take_buffer()
        compositor.draw(frame, buffer)
        encoder_thread.frames.put(buffer)
        progress.report("compose", 3 + 95 * (frame + 1) / max(1, plan.n_frames))
