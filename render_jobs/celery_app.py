"""Celery hand-off of render jobs: the app, the `render_job(job_id)` task, and the sweep for lost work.

The broker carries job ids only; the database row stays the source of truth. The task claims exactly
its job (`lease.claim_next(job_id=...)`): when another worker holds it, or it is finished, cancelled
or out of attempts, the claim fails and the task does nothing. So at-least-once delivery is safe,
and duplicates (a redelivered message, a sweep re-send) cost one failed UPDATE. The app is built
from a broker URL passed in (the server to enqueue, `python -m render_jobs --celery` to run):
nothing here reads the environment or builds an app at import time.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from celery import Celery
from kombu.utils.url import maybe_sanitize_url
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from render_jobs import lease, parts
from render_jobs.table import RenderJob

if TYPE_CHECKING:
    from render_jobs.worker import Worker

log = logging.getLogger("nemo.celery")

TASK_NAME = "nemo.render_job"
PART_TASK_NAME = "nemo.render_part"
QUEUE = "nemo.renders"

Execute = Callable[[int], str]


def make_celery(
    broker_url: str,
    *,
    execute: Execute | None = None,
    execute_part: Execute | None = None,
    queue: str = QUEUE,
) -> Celery:
    """A Celery app on `broker_url` with the `render_job` and `render_part` tasks; `execute(job_id)`
    and `execute_part(job_id)` run them (workers only: a producer-only app, like the server's,
    raises if a task ever ran in it). `queue`: where its messages go (deployments, or test runs,
    sharing one broker each use their own)."""
    app = Celery("nemo", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=queue,
        # Ack after the task ran: the message of a worker killed mid-render is delivered again,
        # and a pool child that died takes its message back to the queue instead of acking it.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # Reserve one job per free slot, so a backlog waits on the broker for the next free machine.
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        # Bounded publish retries: a submit with the broker down answers anyway (the job is pending
        # in the database and a sweep re-sends it), instead of hanging the request.
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5,
                                   "interval_max": 1},
        # After a broker connection loss a render keeps its lease and finishes; the redelivered
        # message then finds the job done and does nothing.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )  # fmt: skip

    @app.task(name=TASK_NAME, shared=False, acks_late=True, reject_on_worker_lost=True, ignore_result=True)  # type: ignore[untyped-decorator]
    def render_job(job_id: int) -> str:
        if execute is None:
            raise RuntimeError("this Celery app only enqueues; run `python -m render_jobs --celery`")
        return execute(int(job_id))

    # A part message is a unit of work, not a named part: the worker claims the fairest claimable
    # part of any job (render_jobs/parts.py), so renders share the workers whatever order their
    # messages queued in. `job_id` only says which split sent it (for the log).
    @app.task(
        name=PART_TASK_NAME, shared=False, acks_late=True, reject_on_worker_lost=True, ignore_result=True
    )  # type: ignore[untyped-decorator]
    def render_part(job_id: int) -> str:
        if execute_part is None:
            raise RuntimeError("this Celery app only enqueues; run `python -m render_jobs --celery`")
        return execute_part(int(job_id))

    return app


def enqueue(app: Celery, job_id: int) -> None:
    """Send `render_job(job_id)` (the row must be committed first: the task reads it)."""
    app.tasks[TASK_NAME].delay(job_id)


def enqueue_parts(app: Celery, job_id: int, count: int) -> None:
    """Send `count` part messages (each claims whichever part is fairest when a worker takes it)."""
    for _ in range(count):
        app.tasks[PART_TASK_NAME].delay(job_id)


def describe(broker_url: str) -> str:
    """The broker URL without its password, for logs."""
    return str(maybe_sanitize_url(broker_url))


def queue_depth(app: Celery) -> int:
    """Messages waiting in the render queue (not those reserved by running workers); 0 when the queue
    does not exist yet (Redis drops an empty list)."""
    try:
        with app.connection_for_write() as conn:
            declared = app.amqp.queues[app.conf.task_default_queue](conn.default_channel).queue_declare(
                passive=True
            )
            return int(declared.message_count)
    except Exception:  # kombu raises ChannelError (Redis) or NotFound (AMQP) for a missing queue
        return 0


class CeleryRunner:
    """The worker side of the tasks. `render_job`: with `part_seconds` set, split the job into parts
    of about that length and send a message per part; a job too short to split, or a split job
    whose parts are done (its join), is claimed and run whole as before; a job left pending by its
    attempt (a crashed child, a release on shutdown) is sent again. `render_part`: split any job
    still waiting, render a short waiting job whole first (it waits behind no long export), else
    claim the fairest part and render it (joining the job if it was the last)."""

    def __init__(self, worker: Worker, app: Celery | None = None, *, part_seconds: float = 0.0) -> None:
        self.worker = worker
        self.app = app
        self.part_seconds = part_seconds

    def __call__(self, job_id: int) -> str:
        w = self.worker
        if self.part_seconds > 0:
            made = parts.split(w.engine, job_id, self.part_seconds)
            if made:
                log.info("render_job %s: split into %d parts", job_id, made)
                self.top_up(job_id)
                return f"split: {made}"
        claim = lease.claim_next(w.engine, w.worker_id, w.lease_seconds, job_id=job_id)
        if claim is None:
            job = lease.get(w.engine, job_id)
            state = "missing" if job is None else job.status
            log.info("render_job %s: nothing to do (job is %s)", job_id, state)
            return f"skipped: {state}"
        w.process(claim)
        return self._after_job(job_id)

    def _after_job(self, job_id: int) -> str:
        job = lease.get(self.worker.engine, job_id)
        state = "missing" if job is None else job.status
        if state == "pending" and self.app is not None:
            try:
                enqueue(self.app, job_id)
            except Exception:  # the sweep will find it
                log.exception("render_job %s: could not re-send the pending job", job_id)
        elif job is not None and job.parts and state == "processing":
            self.top_up(job_id)  # sent back to its parts (its joiner had died early)
        return state

    def run_part(self, job_id: int) -> str:
        w = self.worker
        if self.part_seconds > 0:
            for waiting in parts.waiting_jobs(w.engine):
                made = parts.split(w.engine, waiting, self.part_seconds)
                if made:
                    log.info("render_part: split waiting job %s into %d parts", waiting, made)
                    self.top_up(waiting)
            short = parts.waiting_jobs(w.engine, limit=1)  # what is left waiting is too short to split
            if short:
                claim = lease.claim_next(w.engine, w.worker_id, w.lease_seconds, job_id=short[0])
                if claim is not None:
                    self.top_up(job_id)  # this message was meant for a part: it needs another
                    w.process(claim)
                    return f"job {short[0]}: {self._after_job(short[0])}"
        part = parts.claim_part(w.engine, w.worker_id, w.lease_seconds)
        if part is None:
            log.info("render_part (from job %s): no part to claim", job_id)
            return "skipped"
        kind = w.process_part(part)
        if kind in ("crashed", "stopped"):
            self.top_up(part.part.job_id)
        return kind

    def top_up(self, job_id: int) -> int:
        """Send part messages until the queue holds one per claimable part (duplicates cost one empty
        claim each); how many were sent."""
        if self.app is None:
            return 0
        try:
            missing = parts.claimable_count(self.worker.engine) - queue_depth(self.app)
            if missing > 0:
                enqueue_parts(self.app, job_id, missing)
            return max(0, missing)
        except Exception:  # the broker may be briefly away; the sweep tops up later
            log.exception("could not send part messages for job %s", job_id)
            return 0


def stale_job_ids(
    engine: Engine, *, older_than_s: float, queue_empty: bool, now: float | None = None
) -> list[int]:
    """Jobs whose message is presumably lost: processing with a lapsed lease (their worker died), and,
    only while the queue holds nothing, pending jobs older than `older_than_s` (the broker was down
    at submit, or lost its data). A job still queued behind a backlog is never re-sent."""
    t = time.time() if now is None else now
    lapsed = (col(RenderJob.status) == "processing") & (col(RenderJob.lease_expires_at) < t)
    condition = lapsed
    if queue_empty:
        waiting = (col(RenderJob.status) == "pending") & (col(RenderJob.created_at) < t - older_than_s)
        condition = lapsed | waiting
    with Session(engine) as db:
        stmt = select(RenderJob.id).where(condition).order_by(col(RenderJob.id)).limit(500)
        return [int(i) for i in db.exec(stmt).all() if i is not None]


def sweep_once(app: Celery, engine: Engine, *, older_than_s: float) -> list[int]:
    """Re-send every stale job (duplicates are harmless: the row's fencing decides), and part
    messages until the queue holds one per claimable part (a part whose worker died, or whose
    message was lost)."""
    depth = queue_depth(app)
    ids = stale_job_ids(engine, older_than_s=older_than_s, queue_empty=depth == 0)
    for job_id in ids:
        enqueue(app, job_id)
    if ids:
        log.warning("sweep: re-sent %d job(s) whose message was lost: %s", len(ids), ids[:20])
    missing = parts.claimable_count(engine) - depth - len(ids)
    if missing > 0:
        enqueue_parts(app, 0, missing)
        log.info("sweep: sent %d part message(s): the queue held fewer than the claimable parts", missing)
    return ids


def start_sweeper(
    app: Celery,
    engine: Engine,
    *,
    every_s: float,
    stop: threading.Event,
    tidy: Callable[[], object] | None = None,
) -> threading.Thread:
    """A daemon thread that sweeps every `every_s` seconds (jittered, so many workers spread out);
    `tidy` runs after each sweep (the worker's removal of ended split jobs' part files)."""

    def loop() -> None:
        while not stop.wait(every_s * random.uniform(0.75, 1.25)):
            try:
                sweep_once(app, engine, older_than_s=every_s)
                if tidy is not None:
                    tidy()
            except Exception:  # the database or broker may be briefly away; try next time
                log.exception("sweep failed")

    thread = threading.Thread(target=loop, name="render-sweeper", daemon=True)
    thread.start()
    return thread


def run_worker(
    broker_url: str,
    worker: Worker,
    *,
    concurrency: int = 1,
    sweep_seconds: float = 60.0,
    grace_seconds: float = 30.0,
    part_seconds: float = 0.0,
    queue: str = QUEUE,
    loglevel: str = "INFO",
) -> None:
    """Consume `render_job` tasks until SIGTERM (blocks). One render at a time by default (the solo
    pool, in this process, so each render's own child process is allowed); `concurrency` > 1 runs
    that many on threads. On shutdown a running render may finish within `grace_seconds`, else its
    lease is released and the job is sent again for another worker. `part_seconds` > 0: renders
    are split into parts of about that length, rendered by any worker (render_jobs/parts.py)."""
    from celery import signals

    runner = CeleryRunner(worker, part_seconds=part_seconds)
    app = make_celery(broker_url, execute=runner, execute_part=runner.run_part, queue=queue)
    runner.app = app  # so a job left pending by its attempt is sent again

    def _shutting_down(**_: object) -> None:
        log.info("worker shutting down: a running render has %.0f s, then its lease is released",
                 grace_seconds)  # fmt: skip
        worker.stop(grace_seconds)

    signals.worker_shutting_down.connect(_shutting_down, weak=False)
    stop = threading.Event()
    if sweep_seconds > 0:
        start_sweeper(app, worker.engine, every_s=sweep_seconds, stop=stop, tidy=worker.drop_ended_parts)
    log.info("celery render worker %s on %s, queue %s", worker.worker_id, describe(broker_url), queue)
    nodename = "nemo@" + re.sub(r"[^A-Za-z0-9_.-]", "-", worker.worker_id)  # unique per process
    pool = ["--pool=solo"] if concurrency <= 1 else ["--pool=threads", f"--concurrency={concurrency}"]
    try:
        app.worker_main(
            ["worker", *pool, "-Q", queue, f"--loglevel={loglevel}", f"--hostname={nodename}",
             "--without-gossip", "--without-mingle", "--without-heartbeat"]
        )  # fmt: skip
    finally:
        stop.set()
        signals.worker_shutting_down.disconnect(_shutting_down)
