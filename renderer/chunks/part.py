"""One part of a chunked render: its frames composited and encoded as a video-only MP4.

Runs as `python -m renderer.chunks.part` (the embedded pool, chunks/pool.py, starts one per part;
a plain subprocess, so a render already inside a daemonic worker process may start them). The job
arrives as one JSON line on stdin; progress and the outcome leave as JSON lines on stdout
(PartMessage). When stdin closes (the parent died or gave up), the part stops at once.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from renderer.chunks.parts import Part
from renderer.compose.sources import SourcePool
from renderer.encode.muxer import EncoderSettings
from renderer.errors import RenderError
from renderer.pipeline import encode_frames
from renderer.plan import build_plan
from renderer.priority import BEHIND_ENCODER
from renderer.schema.draft import Draft
from renderer.schema.output import OutputSpec

log = logging.getLogger("nemo.renderer")

LOOKAHEAD_SECONDS = 1.0
REPORT_EVERY_FRAMES = 5


class PartJob(BaseModel):
    """Everything a process needs to render one part, independent of any other part."""

    draft: Draft
    sources: dict[str, Path]
    output: OutputSpec
    device: str
    codec: Literal["libx264"]
    crf: int
    preset: str
    part: Part
    threads: int  # x264's threads in this part
    out_path: Path


class PartMessage(BaseModel):
    """Part -> parent, one JSON line each: frames done so far; then `done`, or `error` + message."""

    frames: int = 0
    done: bool = False
    error: str | None = None
    message: str | None = None


def render_part(job: PartJob, on_frames: Callable[[int], None], should_cancel: Callable[[], bool]) -> None:
    """Composite and encode frames [start, stop) of the job's draft into `job.out_path`."""
    plan = build_plan(job.draft, job.sources, job.output)
    settings = EncoderSettings(codec=job.codec, crf=job.crf, preset=job.preset)
    frames = range(job.part.start, job.part.stop)
    pool = SourcePool(plan, lookahead=max(1, round(LOOKAHEAD_SECONDS * plan.fps)), nice=BEHIND_ENCODER)
    try:
        pool.advance(frames.start)
        encode_frames(
            plan,
            pool,
            None,
            settings,
            job.out_path,
            job.device,
            frames,
            lambda done: on_frames(done) if done % REPORT_EVERY_FRAMES == 0 or done == len(frames) else None,
            should_cancel,
            threads=job.threads,
        )
    finally:
        pool.close()


def _stop_when_stdin_closes() -> None:
    """The parent holds our stdin open while it wants the part; EOF means it is gone."""
    sys.stdin.read()
    os._exit(3)


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s part %(message)s")
    job = PartJob.model_validate_json(sys.stdin.readline())
    threading.Thread(target=_stop_when_stdin_closes, daemon=True).start()
    lock = threading.Lock()

    def send(message: PartMessage) -> None:
        with lock:
            sys.stdout.write(message.model_dump_json(exclude_defaults=True) + "\n")
            sys.stdout.flush()

    try:
        render_part(job, lambda n: send(PartMessage(frames=n)), lambda: False)
        send(PartMessage(frames=len(range(job.part.start, job.part.stop)), done=True))
    except RenderError as exc:
        send(PartMessage(error=exc.code, message=exc.message))
    except Exception as exc:
        log.exception("part %d crashed", job.part.index)
        # "internal": the parent raises it as a crash (pool.py), so the worker tries again
        send(PartMessage(error="internal", message=f"a part failed unexpectedly ({type(exc).__name__})"))


if __name__ == "__main__":
    main()
