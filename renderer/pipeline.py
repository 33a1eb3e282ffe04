"""The pipelined frame loop: composite a range of a plan's frames and encode them into one file.

Three overlapping stages: a decode thread loads upcoming photos (compose/sources.py), a compositing
thread (at a lower CPU priority than the encoder's: _behind_the_encoder) draws each frame straight
into yuv420p planes, and an encoder thread turns queued frames into H.264 and muxes the AAC
soundtrack beside them (when there is one: a chunked render's parts are video only). OpenCV and
FFmpeg release the GIL, so the stages really run in parallel; the queue is bounded, so memory does
not grow with the video. render.py runs it over all frames; chunks/part.py over one part's.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from renderer.audio.soundtrack import Soundtrack
from renderer.compose.compositor import Compositor
from renderer.compose.sources import SourcePool
from renderer.encode.ffmpeg_command import FfmpegMuxer
from renderer.encode.muxer import EncoderSettings, Muxer, VideoMuxer
from renderer.errors import RenderError
from renderer.plan import RenderPlan
from renderer.planes import FrameBuffer
from renderer.priority import lower_this_thread

QUEUE_FRAMES = 4
CANCEL_EVERY = 5


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


def encode_frames(
    plan: RenderPlan,
    pool: SourcePool,
    mix: Soundtrack | None,
    settings: EncoderSettings,
    out_path: Path,
    device: str,
    frames: range,
    on_frame: Callable[[int], None],
    should_cancel: Callable[[], bool] | None,
    threads: int = 0,
) -> None:
    """Composite and encode `frames` of `plan` into `out_path` (timestamps from 0), with `mix` as
    the sound or none; `on_frame(n)` after the n-th frame is composited. `threads`: x264's (0:
    its own choice). On any failure, no file is left."""
    muxer: VideoMuxer
    if settings.via == "ffmpeg":
        assert mix is not None, "the ffmpeg command path always muxes the soundtrack"
        muxer = FfmpegMuxer(out_path, plan.width, plan.height, plan.fps, settings, mix)
    else:
        muxer = Muxer(out_path, plan.width, plan.height, plan.fps, settings, mix, threads=threads)
    encoder_thread = _EncoderThread(muxer, plan.width, plan.height)
    finished = False
    try:
        encoder_thread.start()
        _behind_the_encoder(
            lambda stop: _frame_loop(
                plan, pool, encoder_thread, device, frames, on_frame, should_cancel, stop
            )
        )
        encoder_thread.frames.put(None)
        encoder_thread.join()
        encoder_thread.check()
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
    frames: range,
    on_frame: Callable[[int], None],
    should_cancel: Callable[[], bool] | None,
    stop: threading.Event,
) -> None:
    compositor = Compositor(plan, pool, device)
    for done, frame in enumerate(frames, start=1):
        if stop.is_set() or (should_cancel is not None and frame % CANCEL_EVERY == 0 and should_cancel()):
            raise RenderError("cancelled", "the render was cancelled")
        buffer = encoder_thread.take_buffer()
        compositor.draw(frame, buffer)
        encoder_thread.frames.put(buffer)
        on_frame(done)
