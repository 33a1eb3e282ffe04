"""The render worker: claims jobs from the database, renders each in a child process, keeps the lease.

Embedded, the server runs a few `Worker.run` loops on threads; scaled out, `python -m render_jobs
--database-url ... --data-dir ...` (cli.py) runs the same loop on another machine polling the same
database, or, with `--celery --broker-url ...`, takes job ids from a Celery broker (celery_app.py).
The render itself runs in a spawned child (child.py), so a crash in FFmpeg or CUDA
kills only that child. The child writes `<final>.part-<token>`; this parent fsyncs and renames it to
the final path and marks the job completed only while its fencing token is still current.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing as mp
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from render_jobs import lease, parts
from render_jobs.child import (
    Cancel,
    Crashed,
    Done,
    Failed,
    Progress,
    RenderFn,
    child_main,
    join_draft,
    render_draft,
    render_part_draft,
)
from render_jobs.table import RenderJob

log = logging.getLogger("nemo.worker")

OUTPUTS_DIR = "renders"


_Progress = tuple[str, int, float | None]  # phase, percent, eta seconds
# Renew the lease and record progress (phase, percent, eta seconds); False: the lease is lost.
_Beat = Callable[[str, int, float | None], bool]


@dataclass
class _Attempt:
    """What the parent learns from one child run."""

    kind: str  # done | error | crashed | lost | cancelled | stopped
    code: str = ""
    message: str = ""
    result: dict[str, Any] | None = None


def _log_outcome(job: RenderJob, attempt: _Attempt, seconds: float) -> None:
    """One line per attempt in the worker's log: how it ended and how long it took."""
    what = f"job {job.id} ({job.render_id}) attempt {job.attempts}"
    if attempt.kind == "done":
        r = attempt.result or {}
        log.info("%s completed in %.1f s: device %s, encoder %s, %sx%s, %.1f s of video", what, seconds,
                 r.get("device"), r.get("encoder"), r.get("width"), r.get("height"),
                 float(r.get("duration") or 0.0))  # fmt: skip
    elif attempt.kind in ("error", "crashed"):
        log.warning("%s %s after %.1f s: %s: %s", what, "failed" if attempt.kind == "error" else "crashed",
                    seconds, attempt.code, attempt.message)  # fmt: skip
    else:
        log.info("%s %s after %.1f s", what, attempt.kind, seconds)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


class Worker:
    """One render at a time. `run(stop)` loops until `stop` is set; `run_once()` handles one job."""

    def __init__(
        self,
        engine: Engine,
        *,
        data_dir: Path,
        render: RenderFn = render_draft,
        worker_id: str | None = None,
        lease_seconds: float = 30.0,
        poll_seconds: float = 0.5,
        heartbeat_seconds: float | None = None,
        device: str = "auto",
        encoder: str = "auto",
        grace_seconds: float = 0.0,
        cancel_grace_seconds: float = 0.0,
        on_complete: Callable[[RenderJob], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.data_dir = Path(data_dir)
        self.render = render  # runs in the child: a module-level function
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        # Renew well inside the lease, and often enough that progress looks live to a poller.
        self.heartbeat_seconds = heartbeat_seconds or min(lease_seconds / 3.0, 1.0)
        self.device = device
        self.encoder = encoder
        self.grace_seconds = grace_seconds
        self.cancel_grace_seconds = cancel_grace_seconds
        self.on_complete = on_complete
        self.clock = clock  # the completion times clients see (leases always use real time)
        self._stop = threading.Event()
        self._stop_at: float | None = None
        self._mp = mp.get_context("spawn")

    # ---- loop -------------------------------------------------------------------------------------

    def stop(self, grace_seconds: float | None = None) -> None:
        """Stop claiming; a running render may finish within the grace period, else its lease is
        released at once (the job goes back to pending for another worker)."""
        grace = self.grace_seconds if grace_seconds is None else grace_seconds
        self._stop_at = time.monotonic() + grace
        self._stop.set()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                handled = self.run_once()
            except Exception:  # the database may be briefly unavailable; keep the worker alive
                log.exception("worker %s: claim loop error", self.worker_id)
                handled = False
            if not handled:
                self._stop.wait(self.poll_seconds)

    def run_once(self, job_id: int | None = None) -> bool:
        """Claim one job (the oldest, or `job_id`) and run it to an end; False when none was free."""
        claim = lease.claim_next(self.engine, self.worker_id, self.lease_seconds, job_id=job_id)
        if claim is None:
            return False
        self.process(claim)
        return True

    # ---- one job ----------------------------------------------------------------------------------

    def final_path(self, job: RenderJob) -> tuple[str, Path]:
        key = f"{OUTPUTS_DIR}/{job.id}.mp4"
        return key, self.data_dir / key

    def process(self, claim: lease.Claim) -> None:
        job, token = claim.job, claim.token
        assert job.id is not None
        key, final = self.final_path(job)
        final.parent.mkdir(parents=True, exist_ok=True)
        # Leftovers of earlier holders (killed mid-render) can never be renamed by anyone now.
        for stale in final.parent.glob(final.name + ".part-*"):
            _unlink(stale)
        part = final.with_name(f"{final.name}.part-{token}")
        render: RenderFn | None = None
        if job.parts:
            # Rendered in parts: this claim is the join (or a retry of it, its joiner gone).
            split = parts.list_parts(self.engine, job.id)
            if any(p.status != "completed" for p in split):
                left = parts.reopen(self.engine, claim)
                log.info("worker %s: job %s has %d part(s) left to render; back to its parts",
                         self.worker_id, job.id, left)  # fmt: skip
                return
            files = [(i, a, b, str(self.data_dir / k)) for i, a, b, k in parts.part_files(split)]
            render = functools.partial(join_draft, files=files)
        log.info("worker %s: job %s (%s) %s attempt %s token %s", self.worker_id, job.id, job.render_id,
                 f"join of {job.parts} parts" if job.parts else "render", job.attempts, token)  # fmt: skip
        started = time.monotonic()
        attempt = self._run_child(job, part, self._job_beat(job.id, token), render)
        _log_outcome(job, attempt, time.monotonic() - started)
        if attempt.kind == "done":
            self._finish(job, token, key, final, part, attempt)
            done = lease.get(self.engine, job.id)
            if job.parts and done is not None and done.status == "completed":
                shutil.rmtree(self.parts_folder(job.id), ignore_errors=True)
            return
        _unlink(part)
        if attempt.kind == "error":
            lease.fail(self.engine, job.id, token, attempt.code, attempt.message, now=self.clock())
        elif attempt.kind == "crashed":
            lease.retry_later(self.engine, job.id, token, attempt.code, attempt.message)
        elif attempt.kind == "cancelled":
            lease.mark_cancelled(self.engine, job.id, token, now=self.clock())
        elif attempt.kind == "stopped":
            lease.release(self.engine, job.id, token)
        # "lost": another worker owns the job now; write nothing.
        if job.parts:
            self._drop_parts_of_ended(job.id)

    # ---- one part of a split job (render_jobs/parts.py) --------------------------------------------

    def parts_folder(self, job_id: int) -> Path:
        return self.data_dir / OUTPUTS_DIR / "parts" / str(job_id)

    def process_part(self, claim: parts.PartClaim) -> str:
        """Render one claimed part to its file; when it was the job's last, join the job. Returns
        how the part ended (done, error, crashed, cancelled, stopped, lost)."""
        part, job, token = claim.part, claim.job, claim.token
        assert job.id is not None
        folder = self.parts_folder(job.id)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"part-{part.idx:04d}.mp4"
        final, key = folder / name, f"{OUTPUTS_DIR}/parts/{job.id}/{name}"
        for stale in folder.glob(name + ".part-*"):  # of holders that lost the part: never renamed
            _unlink(stale)
        scratch = folder / f"{name}.part-{token}"
        total = part.stop_frame - part.start_frame

        def beat(phase: str, progress: int, eta: float | None) -> bool:
            return parts.heartbeat(self.engine, claim, lease_s=self.lease_seconds,
                                   frames_done=progress * total // 100)  # fmt: skip

        log.info("worker %s: job %s part %d (frames %d..%d) run %d token %d", self.worker_id, job.id,
                 part.idx, part.start_frame, part.stop_frame, part.attempts, token)  # fmt: skip
        started = time.monotonic()
        render = functools.partial(
            render_part_draft, index=part.idx, start=part.start_frame, stop=part.stop_frame
        )
        attempt = self._run_child(job, scratch, beat, render, name=f"part-{job.id}-{part.idx}")
        why = f": {attempt.code}: {attempt.message}" if attempt.code else ""
        log.info("worker %s: job %s part %d %s after %.1f s%s", self.worker_id, job.id, part.idx,
                 attempt.kind, time.monotonic() - started, why)  # fmt: skip
        if attempt.kind == "done":
            if not scratch.is_file() or scratch.stat().st_size == 0:
                parts.retry_later(self.engine, claim, "no_output", "a part finished without a file")
                return "crashed"
            _fsync_path(scratch)
            # Rename only while still the holder (a worker that lost the part never touches it).
            if not parts.heartbeat(self.engine, claim, lease_s=self.lease_seconds):
                _unlink(scratch)
                return "lost"
            os.replace(scratch, final)
            _fsync_path(folder)
            completed, join = parts.complete(self.engine, claim, key, lease_s=self.lease_seconds)
            if join is not None:
                log.info("worker %s: job %s: every part is done; joining", self.worker_id, job.id)
                self.process(join)
            return "done" if completed else "lost"
        _unlink(scratch)
        if attempt.kind == "error":
            parts.fail(self.engine, claim, attempt.code, attempt.message, now=self.clock())
        elif attempt.kind == "crashed":
            parts.retry_later(self.engine, claim, attempt.code, attempt.message, now=self.clock())
        elif attempt.kind == "cancelled":
            parts.cancel(self.engine, claim, now=self.clock())
        elif attempt.kind == "stopped":
            parts.release(self.engine, claim)
        self._drop_parts_of_ended(job.id)
        return attempt.kind

    def drop_ended_parts(self) -> int:
        """Remove the part folders of split jobs that ended (cancelled while no worker held a part,
        or a joiner that died after completing): the sweep's tidy-up. How many went."""
        root = self.data_dir / OUTPUTS_DIR / "parts"
        removed = 0
        for folder in root.iterdir() if root.is_dir() else []:
            if folder.name.isdigit():
                ended = lease.get(self.engine, int(folder.name))
                if ended is None or ended.terminal:
                    shutil.rmtree(folder, ignore_errors=True)
                    removed += 1
        return removed

    def _drop_parts_of_ended(self, job_id: int) -> None:
        """A split job that failed or was cancelled will never be joined: its parts' files go (a
        part still rendering elsewhere then fails to write, and its worker writes nothing)."""
        ended = lease.get(self.engine, job_id)
        if ended is not None and ended.terminal and ended.status != "completed":
            shutil.rmtree(self.parts_folder(job_id), ignore_errors=True)

    def _finish(
        self, job: RenderJob, token: int, key: str, final: Path, part: Path, attempt: _Attempt
    ) -> None:
        assert job.id is not None and attempt.result is not None
        if not part.is_file() or part.stat().st_size == 0:
            lease.retry_later(self.engine, job.id, token, "no_output", "the render finished without a file")
            return
        _fsync_path(part)
        # Rename only while still the holder, so a worker that lost the job never touches the output.
        if not lease.heartbeat(self.engine, job.id, token, lease_s=self.lease_seconds):
            _unlink(part)
            return
        os.replace(part, final)
        _fsync_path(final.parent)
        r = attempt.result
        outcome = lease.Outcome(
            output_key=key,
            size=final.stat().st_size,
            duration=float(r.get("duration", 0.0)),
            width=int(r.get("width", 0)),
            height=int(r.get("height", 0)),
            encoder=r.get("encoder"),
            device=r.get("device"),
        )
        done_at = self.clock()
        if lease.complete(self.engine, job.id, token, outcome, now=done_at) and self.on_complete is not None:
            done = lease.get(self.engine, job.id)
            if done is not None:
                try:
                    self.on_complete(done)
                except Exception:
                    log.exception("on_complete hook failed for job %s", job.id)

    def _run_child(
        self,
        job: RenderJob,
        part: Path,
        beat: _Beat,
        render: RenderFn | None = None,
        name: str | None = None,
    ) -> _Attempt:
        """Render `job` to `part` in a spawned child (with `render`: a part or a join, else the
        worker's render function), calling `beat` as it goes (False: the lease is lost)."""
        assert job.id is not None
        parent_conn, child_conn = self._mp.Pipe(duplex=True)
        proc = self._mp.Process(
            target=child_main,
            name=name or f"render-{job.id}",
            args=(child_conn, render or self.render, job.draft_json, job.sources(), str(self.data_dir),
                  str(part), job.output_json, self.device, self.encoder,
                  logging.getLogger().getEffectiveLevel()),
            daemon=True,
        )  # fmt: skip
        proc.start()
        child_conn.close()
        try:
            return self._watch(job.id, proc, parent_conn, beat)
        finally:
            if proc.is_alive():
                proc.kill()
            proc.join(5)
            parent_conn.close()
            if proc.exitcode is not None:
                proc.close()

    def _job_beat(self, job_id: int, token: int) -> _Beat:
        def beat(phase: str, progress: int, eta: float | None) -> bool:
            return lease.heartbeat(self.engine, job_id, token, lease_s=self.lease_seconds,
                                   phase=phase, progress=progress, eta_seconds=eta)  # fmt: skip

        return beat

    @staticmethod
    def _drain(conn: Any, timeout: float) -> tuple[_Attempt | None, _Progress | None]:
        """Read every waiting message: the child's end report if it came, and its latest progress."""
        last: _Progress | None = None
        try:
            for _ in range(10_000):  # bounded, so a chatty child cannot starve the heartbeat
                if not conn.poll(timeout):
                    break
                timeout = 0.0
                msg = conn.recv()
                if isinstance(msg, Progress):
                    last = (msg.phase, int(msg.percent), msg.eta_seconds)
                elif isinstance(msg, Done):
                    return _Attempt("done", result=msg.result), last
                elif isinstance(msg, Failed):
                    kind = "cancelled" if msg.code == "cancelled" else "error"
                    return _Attempt(kind, code=msg.code, message=msg.message), last
                elif isinstance(msg, Crashed):
                    return _Attempt("crashed", code="render_crashed", message=msg.message), last
        except (EOFError, OSError):
            pass  # the child closed its end: it has exited, the caller sees that
        return None, last

    def _watch(self, job_id: int, proc: Any, conn: Any, beat: _Beat) -> _Attempt:
        """Relay progress, renew the lease, honour cancel and stop, until the child reports or dies."""
        phase, progress, eta = "decode", 0, None
        next_beat = 0.0
        cancel_sent_at: float | None = None
        outcome: _Attempt | None = None
        while outcome is None:
            outcome, last = self._drain(conn, 0.2)
            if last is not None:
                phase, eta = last[0], last[2]
                progress = max(progress, last[1])
            if outcome is not None:
                break
            if not proc.is_alive():
                # It may have reported just before exiting: read what is left first.
                died = f"the render process died (exit code {proc.exitcode})"
                outcome = self._drain(conn, 0.0)[0] or _Attempt("crashed", "render_crashed", died)
                break
            now = time.monotonic()
            if self._stop.is_set() and self._stop_at is not None and now >= self._stop_at:
                return _Attempt("stopped")
            if now >= next_beat:
                next_beat = now + self.heartbeat_seconds
                if not beat(phase, progress, eta):
                    log.warning(
                        "worker %s: lost the lease on job %s; stopping its render", self.worker_id, job_id
                    )
                    return _Attempt("lost")
            # Looked at every pass (~0.2 s), not every heartbeat: a cancelled render's output is
            # thrown away, so there is nothing to wait for. With no grace the child is killed at once
            # (_run_child), instead of being asked and given seconds to notice between frames.
            if cancel_sent_at is None and lease.cancel_requested(self.engine, job_id):
                cancel_sent_at = now
                with contextlib.suppress(OSError):
                    conn.send(Cancel())
            if cancel_sent_at is not None and now - cancel_sent_at >= self.cancel_grace_seconds:
                return _Attempt("cancelled")
        if outcome.kind == "error" and cancel_sent_at is not None:
            return _Attempt("cancelled")  # the render stopped because we asked it to
        return outcome
