"""One benchmark case per function; each runs in its own child process (see __main__)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench.job import CROSSFADE_MS, FPS, HEIGHT, SECONDS, TITLE, WIDTH, draft_json, media, segment_ms

if TYPE_CHECKING:
    from renderer.schema.draft import Draft
    from renderer.schema.output import OutputSpec

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def encoder_floor(out: Path, frames: int = SECONDS * FPS, first: int = 0, threads: int = 0) -> dict:
    """libx264 veryfast crf 23 on 900 ready yuv420p frames of this job: what no renderer can beat.

    The frames are the very ones our renderer hands its encoder for this job (composited once
    into a raw file by `prepare_floor_frames`, not timed), so the floor does exactly the encoder
    work a real render does: not another picture's, and not frames that already went through
    H.264 once (x264's time depends on the content: both measured cheaper to encode).
    """
    import av

    raw = floor_frames_path()
    # Fed as cheaply as we know: each frame read into one reused buffer that x264 reads in place
    # (it copies the picture inside x264_encoder_encode, as in renderer/encode/muxer.py): one copy per
    # frame, from the page cache.
    # `first`, `threads`: one part of the chunked floor (frames first.. first+frames, x264 threads).
    picture = np.empty((HEIGHT * 3 // 2, WIDTH), np.uint8)
    with raw.open("rb", buffering=0) as fh, av.open(str(out), "w", format="mp4") as container:
        fh.seek(first * picture.nbytes)
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        # keyint as ours (renderer/encode/muxer.py: a keyframe at least every 2 s)
        stream.options = {"preset": "veryfast", "crf": "23", "g": str(2 * FPS)}
        stream.codec_context.time_base = Fraction(1, FPS)
        stream.codec_context.thread_count = threads
        for i in range(frames):
            if fh.readinto(memoryview(picture).cast("B")) < picture.nbytes:
                break
            frame = av.VideoFrame.from_numpy_buffer(picture, format="yuv420p")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return {"frames": frames}


def chunked_floor(out: Path) -> dict:
    """The floor's frames split as a chunked render of this job would split them on this machine
    (at least 2 parts), every part's libx264 in its own process at once: the encoder's own time
    when one x264 cannot use all the cores. No join: the parts stay separate files."""
    from renderer.chunks.parts import choose_parts, part_count

    cores = len(os.sched_getaffinity(0))
    count = int(os.environ.get("BENCH_PARTS", "0")) or max(2, part_count(SECONDS * FPS, FPS, cores))
    parts = choose_parts(SECONDS * FPS, FPS, cores, count)
    threads = max(1, cores // len(parts))
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                (
                    "import sys, pathlib, bench.cases as c; a = sys.argv; "
                    "c.encoder_floor(pathlib.Path(a[1]), int(a[2]), int(a[3]), int(a[4]))"
                ),
                str(out.with_name(f"{out.stem}-{p.index}.mp4")),
                str(p.stop - p.start),
                str(p.start),
                str(threads),
            ],
            cwd=Path(__file__).resolve().parent.parent,
        )
        for p in parts
    ]
    if any(proc.wait() != 0 for proc in procs):
        raise RuntimeError("a part of the chunked floor failed")
    return {"frames": SECONDS * FPS, "parts": len(parts), "threads": threads}


def floor_frames_path() -> Path:
    from bench.job import CACHE

    return CACHE / f"floor_v2_{WIDTH}x{HEIGHT}.yuv"


def prepare_floor_frames() -> Path:
    """Composite the job's frames on the CPU, as `ours` does, into raw yuv420p (not timed)."""
    from renderer.compose.compositor import Compositor
    from renderer.compose.sources import SourcePool
    from renderer.plan import build_plan
    from renderer.planes import FrameBuffer

    draft = _job_draft()
    plan = build_plan(draft, {src: Path(src) for src in draft.sources()}, _job_output())
    raw = floor_frames_path()
    for stale in raw.parent.glob("floor_*.yuv"):  # an older floor's frames: 2.8 GB each
        if stale != raw:
            stale.unlink()
    partial = raw.with_suffix(".part")
    pool = SourcePool(plan, lookahead=FPS)
    buffer = FrameBuffer(plan.width, plan.height)
    try:
        compositor = Compositor(plan, pool, "cpu")
        with partial.open("wb") as fh:
            for frame in range(plan.n_frames):
                compositor.draw(frame, buffer)
                fh.write(buffer.data.tobytes())
    finally:
        pool.close()
    partial.rename(raw)
    return raw


def ffmpeg_cli(out: Path) -> dict:
    """The same job as an ffmpeg filter graph: zoompan per photo, xfade chain, drawtext, music."""
    photos, song = media()
    seg = segment_ms(len(photos), SECONDS) / 1000
    frames = round(seg * FPS)
    args = ["ffmpeg", "-y", "-v", "error"]
    for p in photos:
        args += ["-i", str(p)]  # decoded once; the loop filter repeats the scaled frame
    args += ["-i", str(song)]
    chains = []
    for i in range(len(photos)):
        zoom = "min(1+0.1*on/{n},1.1)" if i % 2 == 0 else "max(1.1-0.1*on/{n},1.0)"
        chains.append(
            f"[{i}:v]scale={WIDTH}:{HEIGHT}:force_original_aspect_ratio=increase,crop={WIDTH}:{HEIGHT},"
            f"loop=loop={frames - 1}:size=1:start=0,setpts=N/{FPS}/TB,"
            f"zoompan=z='{zoom.format(n=frames)}':d=1:"
            f"x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':s={WIDTH}x{HEIGHT}:fps={FPS},setsar=1[v{i}]"
        )
    last = "v0"
    for i in range(1, len(photos)):
        offset = i * (seg - CROSSFADE_MS / 1000)
        chains.append(
            f"[{last}][v{i}]xfade=transition=fade:duration={CROSSFADE_MS / 1000}:offset={offset:.3f}[x{i}]"
        )
        last = f"x{i}"
    chains.append(
        f"[{last}]drawtext=fontfile={FONT}:text='{TITLE}':fontcolor=white:fontsize={int(HEIGHT * 0.08)}:"
        f"x=(w-text_w)/2:y=(h-text_h)/2:enable='lt(t,3)',format=yuv420p[vout]"
    )
    chains.append(f"[{len(photos)}:a]volume=0.35,afade=t=in:d=1,afade=t=out:st={SECONDS - 2}:d=2[aout]")
    args += [
        "-filter_complex",
        ";".join(chains),
        "-map",
        "[vout]",
        "-map",
        "[aout]",
        "-t",
        str(SECONDS),
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "23",
        "-c:a",
        "aac",
        "-b:a",
        "160k",
        "-movflags",
        "+faststart",
        str(out),
    ]
    subprocess.run(args, check=True)
    return {}


def _job_draft(photos_count: int = 10, seconds: int = SECONDS) -> Draft:
    from renderer.schema.draft import Draft

    photos, song = media(photos_count)
    return Draft.model_validate(draft_json(photos, song, seconds))


def _job_output() -> OutputSpec:
    from renderer.schema.output import OutputSpec

    return OutputSpec(quality="medium", crf=23, preset="veryfast")


def ours(
    out: Path, photos_count: int = 10, seconds: int = SECONDS, device: str = "cpu", parts: int | None = None
) -> dict:
    from renderer.render import render

    draft = _job_draft(photos_count, seconds)
    sources = {src: Path(src) for src in draft.sources()}
    result = render(draft, sources, out, _job_output(), device=device, parts=parts)
    return {
        "encoder": result.encoder,
        "device": result.device,
        "parts": result.parts,
        "phases": result.phase_seconds,
        "frames": seconds * FPS,
    }


def ours_chunked(out: Path) -> dict:
    """Ours split into as many parts as the chunked floor (at least 2, even where render() would
    choose 1): what chunking costs or gains on this machine."""
    from renderer.chunks.parts import part_count

    cores = len(os.sched_getaffinity(0))
    count = int(os.environ.get("BENCH_PARTS", "0")) or max(2, part_count(SECONDS * FPS, FPS, cores))
    return ours(out, parts=count)


def scaling(out: Path) -> dict:
    """200 photos, 10 minutes: time per frame and peak RSS must not grow with the photo count."""
    return ours(out, photos_count=200, seconds=600)


def ours_cuda(out: Path) -> dict:
    """The same job composited on the GPU (ops/torch_ops.py); x264 still encodes on the CPU unless
    the GPU has NVENC."""
    return ours(out, device="cuda")


CASES = {
    "encoder_floor": encoder_floor,
    "chunked_floor": chunked_floor,
    "ours_chunked": ours_chunked,
    "ffmpeg_cli": ffmpeg_cli,
    "ours": ours,
    "ours_cuda": ours_cuda,
    "scaling": scaling,
}


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def main() -> None:
    name, out = sys.argv[1], Path(sys.argv[2])
    if name == "ffmpeg_cli" and not shutil.which("ffmpeg"):
        print(json.dumps({"skipped": "ffmpeg not installed"}))
        return
    if name == "ours_cuda" and not _cuda_available():
        print(json.dumps({"skipped": "no CUDA GPU (torch.cuda.is_available() is False)"}))
        return
    started = time.perf_counter()
    extra = CASES[name](out)
    extra["inner_wall_s"] = time.perf_counter() - started
    print(json.dumps(extra))


if __name__ == "__main__":
    main()
