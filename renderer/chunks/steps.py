"""A chunked render's steps as separate render calls, for the job queue's workers (render_jobs/parts.py):
`render_part_file` composites and encodes one part's frames into a video-only MP4 on whichever
machine claimed it; `join_part_files` mixes and AAC-encodes the soundtrack once for the whole
timeline and joins the parts by stream copy, on the machine that finished the last part.

Both take the render function's arguments (render_jobs.child calls them in the worker's spawned
child), plus what says which step: the part's frames, or the part files in order. The embedded
pool (pool.py) runs the same two steps on one machine.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from renderer.audio import soundtrack
from renderer.chunks.join import join_parts
from renderer.chunks.part import PartJob, render_part
from renderer.chunks.parts import Part
from renderer.encode.muxer import encode_soundtrack, rate_control
from renderer.errors import RenderError
from renderer.media.decode_image import is_photo
from renderer.plan import build_plan, frame_count
from renderer.render import choose_device, cores_available
from renderer.schema.draft import Draft
from renderer.schema.output import OutputSpec, RenderProgress, RenderResult

log = logging.getLogger("nemo.renderer")


def render_part_file(
    draft: Draft,
    sources: Mapping[str, Path],
    out_path: Path,
    output: OutputSpec,
    *,
    device: str = "auto",
    encoder: str = "auto",
    on_progress: Callable[[RenderProgress], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    index: int,
    start: int,
    stop: int,
) -> dict[str, object]:
    """Frames [start, stop) of `draft` as closed-GOP libx264 (whatever `encoder` says: parts are
    joined by stream copy, so every part must be the same codec with the same settings)."""
    started = time.monotonic()
    n_frames, _ = frame_count(draft, output)
    if not 0 <= start < stop <= n_frames:
        raise RenderError("bad_output", f"part {index} asks for frames {start}..{stop} of {n_frames}")
    if encoder not in ("auto", "libx264"):
        log.info("part %d: encoder %s asked for; parts are always libx264", index, encoder)
    chosen = choose_device(device)
    crf, preset = rate_control(output)
    total = stop - start

    def on_frames(done: int) -> None:
        if on_progress is not None:
            on_progress(RenderProgress(phase="compose", progress=min(100, 100 * done // total)))

    job = PartJob(
        draft=draft,
        sources=dict(sources),
        output=output,
        device=chosen,
        codec="libx264",
        crf=crf,
        preset=preset,
        part=Part(index=index, start=start, stop=stop),
        threads=cores_available(),
        out_path=out_path,
    )
    render_part(job, on_frames, should_cancel or (lambda: False))
    seconds = time.monotonic() - started
    log.info("part %d done: frames %d..%d on %s in %.2fs", index, start, stop, chosen, seconds)
    return {"frames": total, "device": chosen, "encoder": "libx264", "seconds": round(seconds, 3)}


def join_part_files(
    draft: Draft,
    sources: Mapping[str, Path],
    out_path: Path,
    output: OutputSpec,
    *,
    device: str = "auto",
    encoder: str = "auto",
    on_progress: Callable[[RenderProgress], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    files: Sequence[tuple[int, int, int, str]],
) -> RenderResult:
    """The soundtrack of the whole timeline, then `files` ((index, start, stop, path), in order)
    joined beside it into `out_path`. `device` and `encoder` only label the result: the parts are
    encoded already."""
    del encoder, should_cancel  # nothing here is worth stopping halfway: a join takes a moment
    started = time.monotonic()
    phases: dict[str, float] = {}
    plan = build_plan(draft, sources, output)
    parts = [(Part(index=i, start=a, stop=b), Path(p)) for i, a, b, p in files]
    covered = [(p.start, p.stop) for p, _ in parts]
    expected = list(zip([0, *[b for _, b in covered[:-1]]], [b for _, b in covered], strict=True))
    if not parts or covered != expected or covered[-1][1] != plan.n_frames:
        raise RenderError("encoder", f"the parts {covered} do not cover the {plan.n_frames} frames")
    items = [a for a in plan.audio if not is_photo(a.path) and soundtrack.has_audio(a.path)]
    mix = soundtrack.soundtrack_for(plan, items)
    try:
        scratch = tempfile.TemporaryDirectory(prefix="nemo-join-", dir=out_path.parent)
    except OSError as exc:
        raise RenderError("output", f"cannot create the output file ({exc})") from exc
    with scratch:
        sound = Path(scratch.name) / "soundtrack.m4a"
        mix.measure()
        encode_soundtrack(mix, sound)
        phases["soundtrack"] = time.monotonic() - started
        if on_progress is not None:
            on_progress(RenderProgress(phase="mux", progress=98))
        join_parts(parts, sound, out_path, plan.fps)
        phases["join"] = time.monotonic() - started - phases["soundtrack"]
    timings = " ".join(f"{name}={seconds:.2f}s" for name, seconds in phases.items())
    log.info("render joined: parts=%d %s total=%.2fs", len(parts), timings, time.monotonic() - started)
    return RenderResult(
        size=out_path.stat().st_size,
        duration=plan.n_frames / plan.fps,
        width=plan.width,
        height=plan.height,
        fps=plan.fps,
        video_codec="h264",
        encoder="libx264",
        device=device,
        parts=len(parts),
        phase_seconds={name: round(seconds, 3) for name, seconds in phases.items()},
    )
