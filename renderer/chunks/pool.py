"""The embedded pool: a chunked render's parts as processes on this machine, a few at a time.

Each part runs `python -m renderer.chunks.part` (part.py) and reports frames over its stdout;
meanwhile this process measures, mixes and AAC-encodes the soundtrack once for the whole timeline
(no AAC seams at the joins). Then join.py writes the file. Progress is the sum of the parts'
frames, so it never goes backwards; a cancel or a failed part stops every part and leaves no file.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pydantic import ValidationError

from renderer.audio.soundtrack import Soundtrack
from renderer.chunks.join import join_parts
from renderer.chunks.part import PartJob, PartMessage
from renderer.chunks.parts import Part
from renderer.encode.muxer import EncoderSettings, encode_soundtrack
from renderer.errors import RenderError
from renderer.plan import RenderPlan
from renderer.schema.draft import Draft
from renderer.schema.output import OutputSpec

POLL_SECONDS = 0.2
CRASHED = "internal"  # part.py's code for an unexpected failure: the render may succeed if run again

log = logging.getLogger("nemo.renderer")


class PartCrashed(RuntimeError):
    """A part died or failed unexpectedly. Not a RenderError: the worker counts the attempt as a
    crash and runs the render again (a RenderError, like bad media, fails the job at once)."""


class _PartProcess:
    """One running part: its process, and a thread that turns its stdout lines into messages."""

    def __init__(self, job: PartJob, inbox: queue.Queue[tuple[int, PartMessage]]) -> None:
        self.index = job.part.index
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "renderer.chunks.part"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        except OSError as exc:
            raise PartCrashed(f"cannot start a part's process ({exc})") from exc
        assert self.process.stdin is not None
        self.process.stdin.write(job.model_dump_json() + "\n")
        self.process.stdin.flush()  # stdin stays open: closing it tells the part to stop
        self.reader = threading.Thread(target=self._read, args=(inbox,), daemon=True)
        self.reader.start()

    def _read(self, inbox: queue.Queue[tuple[int, PartMessage]]) -> None:
        assert self.process.stdout is not None
        ended = False
        for line in self.process.stdout:
            try:
                message = PartMessage.model_validate_json(line)
            except ValidationError:  # a library that printed to stdout: not ours to parse
                log.warning("part %d printed %r", self.index, line[:200])
                continue
            ended = ended or message.done or message.error is not None
            inbox.put((self.index, message))
        if not ended:
            code = self.process.wait()
            inbox.put((self.index, PartMessage(error=CRASHED, message=f"a part's process died ({code})")))

    def stop(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()  # the part exits at once (part.py)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def render_in_parts(
    draft: Draft,
    sources: Mapping[str, Path],
    output: OutputSpec,
    plan: RenderPlan,
    mix: Soundtrack,
    settings: EncoderSettings,
    device: str,
    parts: Sequence[Part],
    out_path: Path,
    on_frames: Callable[[int], None],
    on_join: Callable[[], None],
    should_cancel: Callable[[], bool] | None,
    phases: dict[str, float],
    processes: int,
    threads: int,
) -> None:
    """Render `parts` of `plan`, `processes` of them at a time (each with `threads` x264 threads),
    and join them into `out_path`; records phase seconds. At most `processes` parts are resident
    at once, so memory is bounded by that, not by the number of parts."""
    started = time.monotonic()
    try:
        scratch = tempfile.TemporaryDirectory(prefix="nemo-parts-", dir=out_path.parent)
    except OSError as exc:
        raise RenderError("output", f"cannot create the output file ({exc})") from exc
    inbox: queue.Queue[tuple[int, PartMessage]] = queue.Queue()
    running: list[_PartProcess] = []
    with scratch:
        folder = Path(scratch.name)
        files = [(part, folder / f"part-{part.index:04d}.mp4") for part in parts]
        waiting = [
            PartJob(
                draft=draft,
                sources=dict(sources),
                output=output,
                device=device,
                codec="libx264",
                crf=settings.crf,
                preset=settings.preset,
                part=part,
                threads=threads,
                out_path=path,
            )
            for part, path in files
        ]

        def start_next(finished: int | None = None) -> None:
            """Start the next waiting part, once the one that finished has exited (its memory
            freed), so no more than `processes` parts are ever resident."""
            for process in running:
                if process.index == finished:
                    process.stop()
            if waiting:
                running.append(_PartProcess(waiting.pop(0), inbox))

        try:
            for _ in range(max(1, processes)):
                start_next()
            sound = folder / "soundtrack.m4a"
            audio = _SoundtrackThread(mix, sound)
            audio.start()
            _wait_for_parts(parts, inbox, on_frames, should_cancel, start_next)
            phases["render_parts"] = time.monotonic() - started
            audio.join()
            if audio.error is not None:
                raise audio.error
            phases["audio_wait"] = time.monotonic() - started - phases["render_parts"]
        finally:
            for process in running:
                process.stop()
        on_join()
        joined = time.monotonic()
        join_parts(files, sound, out_path, plan.fps)
        phases["join"] = time.monotonic() - joined


class _SoundtrackThread(threading.Thread):
    """Mix (both passes) and AAC-encode the whole soundtrack while the parts render."""

    def __init__(self, mix: Soundtrack, path: Path) -> None:
        super().__init__(name="nemo-soundtrack", daemon=True)
        self.mix, self.path = mix, path
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.mix.measure()
            encode_soundtrack(self.mix, self.path)
        except RenderError as exc:
            self.error = exc
        except Exception as exc:  # raised in the render's thread, by join()'s caller
            self.error = RenderError("output", f"cannot write the soundtrack ({type(exc).__name__}: {exc})")


def _wait_for_parts(
    parts: Sequence[Part],
    inbox: queue.Queue[tuple[int, PartMessage]],
    on_frames: Callable[[int], None],
    should_cancel: Callable[[], bool] | None,
    start_next: Callable[[int], None],
) -> None:
    """Until every part is done: sum their frames for progress, start the next part as one ends;
    raise on a failure or a cancel."""
    done_frames = {part.index: 0 for part in parts}
    finished: set[int] = set()
    while len(finished) < len(parts):
        if should_cancel is not None and should_cancel():
            raise RenderError("cancelled", "the render was cancelled")
        try:
            index, message = inbox.get(timeout=POLL_SECONDS)
        except queue.Empty:
            continue
        if message.error == CRASHED:
            raise PartCrashed(message.message or "a part failed unexpectedly")
        if message.error is not None:
            raise RenderError(message.error, message.message or "a part failed")
        done_frames[index] = max(done_frames[index], message.frames)
        if message.done and index not in finished:
            finished.add(index)
            start_next(index)
        on_frames(sum(done_frames.values()))
