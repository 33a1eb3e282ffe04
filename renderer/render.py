"""render(): draft + local files -> MP4. Plans, picks the device, encoder and number of parts, and
runs the frame pipeline (pipeline.py) once over every frame, or in parts (chunks/) at once.

On a machine with a few cores one pipeline keeps them all busy (x264 uses 2 cores well); with more,
one x264 instance can't use them, so the frames are split into parts at keyframes, each composited
and encoded by its own process, and joined by stream copy (chunks/parts.py says how many).
Every render logs one line at the end: device, encoder, parts, per-phase seconds and the outcome.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from renderer.audio import soundtrack
from renderer.chunks.parts import Part, choose_parts
from renderer.chunks.pool import render_in_parts
from renderer.compose.ops.device import DEVICES
from renderer.compose.sources import SourcePool
from renderer.encode.choice import choose_encoder
from renderer.encode.muxer import EncoderSettings
from renderer.errors import RenderError
from renderer.media.decode_image import is_photo
from renderer.pipeline import encode_frames
from renderer.plan import RenderPlan, build_plan
from renderer.priority import BEHIND_ENCODER
from renderer.schema.draft import Draft
from renderer.schema.output import OutputSpec, Phase, RenderProgress, RenderResult

log = logging.getLogger("nemo.renderer")

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


def cores_available() -> int:
    """The cores this process may run on (its CPU affinity, as a container or taskset limits it)."""
    return len(os.sched_getaffinity(0))


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
    parts: int | None = None,
    cores: int | None = None,
) -> RenderResult:
    """Render `draft` to `out_path`. `parts`: split the frames into this many parts (at most one per
    keyframe interval); None chooses from the frames and `cores` (default: this process's)."""
    started = time.monotonic()
    phases: dict[str, float] = {}
    chosen_device, label, split = device, encoder, "?"
    try:
        progress = _Progress(on_progress)
        progress.report("decode", 0)
        plan = build_plan(draft, sources, output)
        chosen_device = choose_device(device)
        settings = choose_encoder(encoder, output)
        label = settings.label
        n_cores = cores if cores is not None else cores_available()
        chosen = choose_parts(plan.n_frames, plan.fps, n_cores, parts)
        if settings.via != "pyav" or settings.codec != "libx264":
            # the ffmpeg command muxes its own file; NVENC sessions per GPU are few (and unmeasured)
            chosen = [Part(index=0, start=0, stop=plan.n_frames)]
        split = str(len(chosen))
        items = [a for a in plan.audio if not is_photo(a.path) and soundtrack.has_audio(a.path)]
        mix = soundtrack.soundtrack_for(plan, items)  # streamed to the muxer in blocks (pass 2)
        phases["plan"] = time.monotonic() - started
        if len(chosen) == 1:
            _render_whole(plan, mix, settings, out_path, chosen_device, progress, should_cancel, phases)
        else:
            render_in_parts(
                draft,
                sources,
                output,
                plan,
                mix,
                settings,
                chosen_device,
                chosen,
                out_path,
                lambda done: progress.report("compose", 3 + 92 * done / max(1, plan.n_frames)),
                lambda: progress.report("mux", 96),
                should_cancel,
                phases,
                processes=min(len(chosen), n_cores),
                threads=max(1, n_cores // min(len(chosen), n_cores)),
            )
        progress.report("mux", 100)
    except RenderError as exc:
        _log_render(chosen_device, label, split, phases, started, f"failed ({exc.code})")
        raise
    except BaseException as exc:
        _log_render(chosen_device, label, split, phases, started, f"crashed ({type(exc).__name__})")
        raise
    _log_render(chosen_device, label, split, phases, started, "done")
    return RenderResult(
        size=out_path.stat().st_size,
        duration=plan.n_frames / plan.fps,
        width=plan.width,
        height=plan.height,
        fps=plan.fps,
        video_codec="h264",
        encoder=settings.label,
        device=chosen_device,
        parts=len(chosen),
        phase_seconds={name: round(seconds, 3) for name, seconds in phases.items()},
    )


def _render_whole(
    plan: RenderPlan,
    mix: soundtrack.Soundtrack,
    settings: EncoderSettings,
    out_path: Path,
    device: str,
    progress: _Progress,
    should_cancel: Callable[[], bool] | None,
    phases: dict[str, float],
) -> None:
    """One pipeline over every frame, the soundtrack muxed beside them (the few-cores case)."""
    started = time.monotonic()
    pool = SourcePool(plan, lookahead=max(1, round(LOOKAHEAD_SECONDS * plan.fps)), nice=BEHIND_ENCODER)
    try:
        pool.advance(0)  # the first photos decode while the soundtrack is measured
        mix.measure()  # pass 1: loudness; here, so a bad audio file fails as bad_media before encoding
        phases["audio_measure"] = time.monotonic() - started
        progress.report("decode", 3)
        encode_frames(
            plan,
            pool,
            mix,
            settings,
            out_path,
            device,
            range(plan.n_frames),
            lambda done: progress.report("compose", 3 + 95 * done / max(1, plan.n_frames)),
            should_cancel,
        )
    finally:
        pool.close()
    phases["compose_encode"] = time.monotonic() - started - phases["audio_measure"]


def _log_render(
    device: str, encoder: str, parts: str, phases: dict[str, float], started: float, outcome: str
) -> None:
    """The render's one summary line (the worker's log keeps it with the job's id around it)."""
    timings = " ".join(f"{name}={seconds:.2f}s" for name, seconds in phases.items())
    log.info(
        "render %s: device=%s encoder=%s parts=%s %s total=%.2fs",
        outcome,
        device,
        encoder,
        parts,
        timings,
        time.monotonic() - started,
    )
