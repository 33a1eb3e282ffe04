"""The render worker: claims jobs from the database, renders each in a child process, keeps the lease.

Embedded, the server runs a few `Worker.run` loops on threads; scaled out, `python -m renderer.worker
--database-url ... --data-dir ...` runs the same loop on another machine polling the same database,
or, with `--celery --broker-url ...`, takes job ids from a Celery broker (renderer.celery_app).
The render itself runs in a spawned child (`child_main`), so a crash in FFmpeg or CUDA
kills only that child. The child writes `<final>.part-<token>`; this parent fsyncs and renames it to
the final path and marks the job completed only while its fencing token is still current.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import multiprocessing as mp
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from renderer import jobs
from renderer.output import ENCODERS

log = logging.getLogger("nemo.worker")

DEFAULT_TARGET = "renderer.render:render"
OUTPUTS_DIR = "renders"


_Progress = tuple[str, int, float | None]  # phase, percent, eta seconds


@dataclass
class _Attempt:
    """What the parent learns from one child run."""

    kind: str  # done | error | crashed | lost | cancelled | stopped
    code: str = ""
    message: str = ""
    result: dict[str, Any] | None = None


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
        render_target: str = DEFAULT_TARGET,
        worker_id: str | None = None,
        lease_seconds: float = 30.0,
        poll_seconds: float = 0.5,
        heartbeat_seconds: float | None = None,
        device: str = "auto",
        encoder: str = "auto",
        grace_seconds: float = 0.0,
        cancel_grace_seconds: float = 0.0,
        on_complete: Callable[[jobs.RenderJob], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.data_dir = Path(data_dir)
        self.render_target = render_target
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
        claim = jobs.claim_next(self.engine, self.worker_id, self.lease_seconds, job_id=job_id)
        if claim is None:
            return False
        self.process(claim)
        return True

    # ---- one job ----------------------------------------------------------------------------------

    def final_path(self, job: jobs.RenderJob) -> tuple[str, Path]:
        key = f"{OUTPUTS_DIR}/{job.id}.mp4"
        return key, self.data_dir / key

    def process(self, claim: jobs.Claim) -> None:
        job, token = claim.job, claim.token
        assert job.id is not None
        key, final = self.final_path(job)
        final.parent.mkdir(parents=True, exist_ok=True)
        # Leftovers of earlier holders (killed mid-render) can never be renamed by anyone now.
        for stale in final.parent.glob(final.name + ".part-*"):
            _unlink(stale)
        part = final.with_name(f"{final.name}.part-{token}")
        log.info("worker %s: job %s (%s) attempt %s token %s", self.worker_id, job.id, job.render_id,
                 job.attempts, token)  # fmt: skip
        attempt = self._run_child(job, token, part)
        if attempt.kind == "done":
            self._finish(job, token, key, final, part, attempt)
            return
        _unlink(part)
        if attempt.kind == "error":
            jobs.fail(self.engine, job.id, token, attempt.code, attempt.message, now=self.clock())
        elif attempt.kind == "crashed":
            jobs.retry_later(self.engine, job.id, token, attempt.code, attempt.message)
        elif attempt.kind == "cancelled":
            jobs.mark_cancelled(self.engine, job.id, token, now=self.clock())
        elif attempt.kind == "stopped":
            jobs.release(self.engine, job.id, token)
        # "lost": another worker owns the job now; write nothing.

    def _finish(
        self, job: jobs.RenderJob, token: int, key: str, final: Path, part: Path, attempt: _Attempt
    ) -> None:
        assert job.id is not None and attempt.result is not None
        if not part.is_file() or part.stat().st_size == 0:
            jobs.retry_later(self.engine, job.id, token, "no_output", "the render finished without a file")
            return
        _fsync_path(part)
        # Rename only while still the holder, so a worker that lost the job never touches the output.
        if not jobs.heartbeat(self.engine, job.id, token, lease_s=self.lease_seconds):
            _unlink(part)
            return
        os.replace(part, final)
        _fsync_path(final.parent)
        r = attempt.result
        outcome = jobs.Outcome(
            output_key=key,
            size=final.stat().st_size,
            duration=float(r.get("duration", 0.0)),
            width=int(r.get("width", 0)),
            height=int(r.get("height", 0)),
            encoder=r.get("encoder"),
            device=r.get("device"),
        )
        done_at = self.clock()
        if jobs.complete(self.engine, job.id, token, outcome, now=done_at) and self.on_complete is not None:
            done = jobs.get(self.engine, job.id)
            if done is not None:
                try:
                    self.on_complete(done)
                except Exception:
                    log.exception("on_complete hook failed for job %s", job.id)

    def _run_child(self, job: jobs.RenderJob, token: int, part: Path) -> _Attempt:
        assert job.id is not None
        parent_conn, child_conn = self._mp.Pipe(duplex=True)
        proc = self._mp.Process(
            target=child_main,
            name=f"render-{job.id}",
            args=(child_conn, self.render_target, job.draft_json, job.sources(), str(self.data_dir),
                  str(part), job.output_json, self.device, self.encoder),
            daemon=True,
        )  # fmt: skip
        proc.start()
        child_conn.close()
        try:
            return self._watch(job.id, token, proc, parent_conn)
        finally:
            if proc.is_alive():
                proc.kill()
            proc.join(5)
            parent_conn.close()
            if proc.exitcode is not None:
                proc.close()

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
                if msg[0] == "progress":
                    last = (msg[1], int(msg[2]), msg[3])
                elif msg[0] == "done":
                    return _Attempt("done", result=msg[1]), last
                elif msg[0] == "error":
                    kind = "cancelled" if msg[1] == "cancelled" else "error"
                    return _Attempt(kind, code=msg[1], message=msg[2]), last
                elif msg[0] == "crash":
                    return _Attempt("crashed", code="render_crashed", message=msg[1]), last
        except (EOFError, OSError):
            pass  # the child closed its end: it has exited, the caller sees that
        return None, last

    def _watch(self, job_id: int, token: int, proc: Any, conn: Any) -> _Attempt:
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
                if not jobs.heartbeat(self.engine, job_id, token, lease_s=self.lease_seconds,
                                      phase=phase, progress=progress, eta_seconds=eta):  # fmt: skip
                    log.warning(
                        "worker %s: lost the lease on job %s; stopping its render", self.worker_id, job_id
                    )
                    return _Attempt("lost")
            # Looked at every pass (~0.2 s), not every heartbeat: a cancelled render's output is
            # thrown away, so there is nothing to wait for. With no grace the child is killed at once
            # (_run_child), instead of being asked and given seconds to notice between frames.
            if cancel_sent_at is None and jobs.cancel_requested(self.engine, job_id):
                cancel_sent_at = now
                with contextlib.suppress(OSError):
                    conn.send(("cancel",))
            if cancel_sent_at is not None and now - cancel_sent_at >= self.cancel_grace_seconds:
                return _Attempt("cancelled")
        if outcome.kind == "error" and cancel_sent_at is not None:
            return _Attempt("cancelled")  # the render stopped because we asked it to
        return outcome


# ---- the child process ------------------------------------------------------------------------------


def _watch_parent(parent_pid: int) -> None:
    """A render orphaned by a killed worker stops itself: nobody would ever rename its file."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent_pid:
            os._exit(3)


def _resolve_sources(sources: dict[str, str], data_dir: Path) -> dict[str, Path]:
    paths: dict[str, Path] = {}
    for src, where in sources.items():
        if where.startswith("builtin:"):
            from renderer.music import ensure_track

            paths[src] = ensure_track(where.removeprefix("builtin:"), data_dir / "builtin")
        else:
            path = Path(where)
            paths[src] = path if path.is_absolute() else data_dir / path
    return paths


def _load_target(target: str) -> Callable[..., Any]:
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    fn = getattr(module, attr or "render")
    return fn  # type: ignore[no-any-return]


def child_main(
    conn: Any,
    target: str,
    draft_json: str,
    sources: dict[str, str],
    data_dir: str,
    part: str,
    output_json: str,
    device: str,
    encoder: str,
) -> None:
    """Entry of the spawned render process: render to `part`, report over `conn`, exit."""
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    lock = threading.Lock()  # renders may report from several pipeline threads
    cancelled = False

    def send(msg: tuple[Any, ...]) -> None:
        with lock:
            conn.send(msg)

    def should_cancel() -> bool:
        nonlocal cancelled
        with lock:
            while not cancelled and conn.poll():
                cancelled = conn.recv()[0] == "cancel"
        return cancelled

    try:
        from renderer.draft import Draft
        from renderer.errors import RenderError
        from renderer.output import OutputSpec, RenderProgress

        def on_progress(p: RenderProgress) -> None:
            send(("progress", p.phase, p.progress, p.eta_seconds))

        try:
            render = _load_target(target)
            result = render(
                Draft.model_validate_json(draft_json),
                _resolve_sources(sources, Path(data_dir)),
                Path(part),
                OutputSpec.model_validate_json(output_json),
                device=device,
                encoder=encoder,
                on_progress=on_progress,
                should_cancel=should_cancel,
            )
            send(("done", result if isinstance(result, dict) else result.model_dump(mode="json")))
        except RenderError as exc:
            send(("error", exc.code, exc.message))
    except Exception as exc:
        # The traceback goes to this process's stderr (the worker's log); the row gets no internals.
        logging.getLogger("nemo.render").exception("render crashed")
        send(("crash", f"the render failed unexpectedly ({type(exc).__name__})"))


def main(argv: list[str] | None = None) -> None:
    """Standalone worker for scaled-out render machines sharing the database and the data dir."""
    from sqlmodel import SQLModel, create_engine

    parser = argparse.ArgumentParser(prog="python -m renderer.worker", description="NemoVideo render worker")
    parser.add_argument("--database-url", required=True, help="SQLAlchemy URL of the server's database")
    parser.add_argument("--data-dir", required=True, type=Path, help="the server's data dir (shared storage)")
    parser.add_argument("--render-target", default=DEFAULT_TARGET, help="module:function that renders")
    parser.add_argument("--threads", type=int, default=1, help="renders at once on this machine")
    parser.add_argument("--lease-seconds", type=float, default=30.0)
    parser.add_argument(
        "--heartbeat-seconds",
        type=float,
        default=None,
        help="renew the lease and write progress this often (default: a third of the lease, at most 1 s)",
    )
    parser.add_argument("--poll-seconds", type=float, default=0.5)
    parser.add_argument("--grace-seconds", type=float, default=30.0, help="on SIGTERM, finish within this")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--encoder", default="auto", choices=list(ENCODERS))
    parser.add_argument(
        "--celery",
        action="store_true",
        help="take jobs from the Celery broker (--broker-url) instead of polling the database",
    )
    parser.add_argument(
        "--broker-url", help="with --celery: redis://... or amqp://... (as NEMO_RENDER__CELERY_BROKER_URL)"
    )
    parser.add_argument(
        "--sweep-seconds",
        type=float,
        default=60.0,
        help="with --celery: re-send jobs whose message was lost this often (0: never)",
    )
    args = parser.parse_args(argv)
    if args.celery and not args.broker_url:
        parser.error("--celery needs --broker-url")
    if args.heartbeat_seconds is not None and not 0 < args.heartbeat_seconds < args.lease_seconds:
        parser.error("--heartbeat-seconds must be above 0 and below --lease-seconds")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    url: str = args.database_url
    connect_args = {"check_same_thread": False, "timeout": 30} if url.startswith("sqlite") else {}
    engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
    SQLModel.metadata.create_all(engine, tables=[jobs.RenderJob.__table__])  # type: ignore[attr-defined]
    common: dict[str, Any] = dict(
        data_dir=args.data_dir, render_target=args.render_target, lease_seconds=args.lease_seconds,
        heartbeat_seconds=args.heartbeat_seconds, device=args.device, encoder=args.encoder,
        grace_seconds=args.grace_seconds,
    )  # fmt: skip
    if args.celery:
        from renderer.celery_app import run_worker

        celery_worker = Worker(engine, **common)
        run_worker(args.broker_url, celery_worker, concurrency=args.threads,
                   sweep_seconds=args.sweep_seconds, grace_seconds=args.grace_seconds)  # fmt: skip
        return
    workers = [Worker(engine, poll_seconds=args.poll_seconds, **common) for _ in range(max(1, args.threads))]

    def _on_term(signum: int, _: Any) -> None:
        log.info("signal %s: finishing within %.0f s, then releasing leases", signum, args.grace_seconds)
        for w in workers:
            w.stop()

    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGINT, _on_term)
    threads = [threading.Thread(target=w.run, name=f"render-worker-{i}") for i, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.5)


if __name__ == "__main__":
    main()
