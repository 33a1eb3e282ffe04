"""render(): draft + local files -> MP4. The pipelined frame loop, nothing else.

Three overlapping stages: a decode thread loads upcoming photos (sources.py), the calling thread
composites each frame straight into yuv420p planes, and an encoder thread turns queued frames
into H.264 and muxes the AAC soundtrack beside them. OpenCV and FFmpeg release the GIL, so the
stages really run in parallel; the queue is bounded, so memory does not grow with the video.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from renderer import audio as soundtrack
from renderer.composite import Warper, draw_text, draw_visual, make_warper
from renderer.decode_image import is_photo
from renderer.draft import Draft
from renderer.encode import Muxer, choose_encoder
from renderer.errors import RenderError
from renderer.motion import MOTION_REGISTRY
from renderer.output import OutputSpec, Phase, RenderProgress, RenderResult
from renderer.planes import FrameBuffer, Planes, solid_planes
from renderer.sources import SourcePool
from renderer.text import TEXT_ANIM_REGISTRY, TextLayer
from renderer.timeline import RenderPlan, VisualItem, build_plan
from renderer.transitions import TRANSITION_REGISTRY, ease_in_out

log = logging.getLogger("nemo.renderer")

QUEUE_FRAMES = 4
CANCEL_EVERY = 5
LOOKAHEAD_SECONDS = 1.0


def choose_device(device: str) -> str:
    """cuda when asked for (or auto) and torch sees a GPU; else cpu. Never imports torch for cpu."""
    if device not in ("auto", "cpu", "cuda"):
        raise RenderError("bad_output", f"unknown device {device!r}")
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

    def __init__(self, muxer: Muxer, width: int, height: int) -> None:
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
    mix.measure()  # pass 1: loudness; here, so a bad audio file fails as bad_media before encoding
    progress.report("decode", 3)
    muxer = Muxer(out_path, plan.width, plan.height, plan.fps, settings, mix)
    encoder_thread = _EncoderThread(muxer, plan.width, plan.height)
    pool = SourcePool(plan, lookahead=max(1, round(LOOKAHEAD_SECONDS * plan.fps)))
    finished = False
    try:
        encoder_thread.start()
        _frame_loop(plan, pool, encoder_thread, chosen_device, progress, should_cancel)
        encoder_thread.frames.put(None)
        encoder_thread.join()
        encoder_thread.check()
        progress.report("encode", 98)
        muxer.finish()
        finished = True
    finally:
        pool.close()
        if not finished:
            if encoder_thread.is_alive():
                encoder_thread.frames.put(None)
                encoder_thread.join()
            muxer.abort()
            out_path.unlink(missing_ok=True)
    progress.report("mux", 100)
    return RenderResult(
        size=out_path.stat().st_size,
        duration=plan.n_frames / plan.fps,
        width=plan.width,
        height=plan.height,
        fps=plan.fps,
        video_codec="h264",
        encoder=settings.codec,
        device=chosen_device,
    )


def _frame_loop(
    plan: RenderPlan,
    pool: SourcePool,
    encoder_thread: _EncoderThread,
    device: str,
    progress: _Progress,
    should_cancel: Callable[[], bool] | None,
) -> None:
    warper = make_warper(device)
    background = solid_planes(plan.width, plan.height, plan.bg)
    texts: dict[int, TextLayer] = {}
    for frame in range(plan.n_frames):
        if should_cancel is not None and frame % CANCEL_EVERY == 0 and should_cancel():
            raise RenderError("cancelled", "the render was cancelled")
        pool.advance(frame)
        buffer = encoder_thread.take_buffer()
        canvas = buffer.planes
        actives = [[it for it in track if it.start <= frame < it.end] for track in plan.tracks]
        if not _covers_canvas(actives, plan):
            for target, plane in zip(canvas.all(), background.all(), strict=True):
                np.copyto(target, plane)
        for active in actives:
            _draw_track(canvas, active, frame, plan, pool, warper)
        _draw_texts(canvas, plan, frame, texts)
        warper.next_frame()
        encoder_thread.frames.put(buffer)
        progress.report("compose", 3 + 95 * (frame + 1) / max(1, plan.n_frames))


def _covers_canvas(actives: list[list[VisualItem]], plan: RenderPlan) -> bool:
    """True when the first track's steady layer paints every pixel opaquely, so filling the
    background first would be overwritten anyway (a copy of a whole frame saved)."""
    if not actives or not actives[0]:
        return False
    item = actives[0][0]
    x, y, w, h = item.box
    return (
        item.fit in ("cover", "blur")
        and item.opacity >= 0.999
        and x <= 0
        and y <= 0
        and x + w >= plan.width
        and y + h >= plan.height
    )


def _draw_track(
    canvas: Planes, active: list[VisualItem], frame: int, plan: RenderPlan, pool: SourcePool, warper: Warper
) -> None:
    if not active:
        return
    *steady, incoming = active
    for item in steady:
        _draw_item(canvas, item, frame, plan, pool, warper)
    into = frame - incoming.start
    if incoming.transition_frames and into < incoming.transition_frames:
        p = ease_in_out((into + 0.5) / incoming.transition_frames)
        if incoming.transition == "crossfade" and incoming.fit != "blur":
            # mix(a, over(a, layer, o), p) == over(a, layer, o * p): one blend, no frame copies
            _draw_item(canvas, incoming, frame, plan, pool, warper, incoming.opacity * p)
            return
        below = canvas.copy()
        _draw_item(canvas, incoming, frame, plan, pool, warper)
        mixed = TRANSITION_REGISTRY[incoming.transition](below, canvas, p)
        for target, plane in zip(canvas.all(), mixed.all(), strict=True):
            if target is not plane:
                np.copyto(target, plane)
    else:
        _draw_item(canvas, incoming, frame, plan, pool, warper)


def _draw_item(
    canvas: Planes,
    item: VisualItem,
    frame: int,
    plan: RenderPlan,
    pool: SourcePool,
    warper: Warper,
    opacity: float | None = None,
) -> None:
    loaded = pool.get(item)
    source = loaded.source_at(frame, plan.fps)
    pose = MOTION_REGISTRY[item.motion]((frame - item.start + 0.5) / max(1, item.frames))
    draw_visual(canvas, source, item, pose, warper, loaded.backdrop, opacity)


def _draw_texts(canvas: Planes, plan: RenderPlan, frame: int, layers: dict[int, TextLayer]) -> None:
    for index, item in enumerate(plan.texts):
        if not item.start <= frame < item.end:
            layers.pop(index, None)
            continue
        layer = layers.get(index)
        if layer is None:
            layer = layers[index] = TextLayer(item, plan.width, plan.height)
        t = (frame - item.start + 0.5) / plan.fps
        pose = TEXT_ANIM_REGISTRY[item.anim](t, (item.end - item.start) / plan.fps, layer.size)
        draw_text(canvas, layer.raster(pose.reveal), pose.opacity, pose.dy)
