"""The render workers an app runs (embedded worker loops on threads, each render in a child process)
and the hand-off of committed jobs to Celery workers when a broker is set."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from render_jobs.table import RenderJob
from render_jobs.worker import Worker
from server.context import AppContext

log = logging.getLogger("nemo.renders")


class RenderWorkers:
    def __init__(self, ctx: AppContext, data_dir: Path, on_complete: Callable[[RenderJob], None]) -> None:
        self.ctx = ctx
        self.data_dir = data_dir
        self.on_complete = on_complete
        self.workers: list[Worker] = []
        self._threads: list[threading.Thread] = []
        self._celery: Any = None  # the producer-only Celery app, made on first use
        self._celery_lock = threading.Lock()

    def embedded_worker_count(self) -> int:
        """`render.workers`; with a Celery broker, 0 unless `render.workers` was given explicitly."""
        rs = self.ctx.settings.render
        if rs.celery_broker_url and "workers" not in rs.model_fields_set:
            return 0
        return rs.workers

    def start(self) -> None:
        rs = self.ctx.settings.render
        count = self.embedded_worker_count()
        for i in range(count):
            worker = Worker(
                self.ctx.engine,
                data_dir=self.data_dir,
                lease_seconds=rs.lease_seconds,
                poll_seconds=rs.poll_seconds,
                device=rs.device,
                encoder=rs.encoder,
                render=self.ctx.render,
                clock=self.ctx.clock.time,
                on_complete=self.on_complete,
            )
            thread = threading.Thread(target=worker.run, name=f"render-worker-{i}", daemon=True)
            self.workers.append(worker)
            self._threads.append(thread)
            thread.start()
        if count:
            log.info("%d embedded render worker(s) started", count)
        if rs.celery_broker_url:
            from render_jobs.celery_app import describe

            log.info("renders are handed to Celery workers via %s", describe(rs.celery_broker_url))

    def stop(self, grace_seconds: float = 0.0) -> None:
        """Shutdown: running renders release their lease at once (another start resumes them)."""
        for worker in self.workers:
            worker.stop(grace_seconds)
        for thread in self._threads:
            thread.join(grace_seconds + 15)
        self.workers.clear()
        self._threads.clear()
        with self._celery_lock:
            if self._celery is not None:
                self._celery.close()
                self._celery = None

    def hand_off(self, job_id: int) -> bool:
        """Send the job to the Celery workers (when a broker is set). A broker that is down costs
        nothing but latency: the job is pending in the database, and a worker's sweep (or any
        polling worker) takes it. True when the message was sent."""
        broker = self.ctx.settings.render.celery_broker_url
        if not broker:
            return False
        from render_jobs import celery_app

        try:
            with self._celery_lock:
                if self._celery is None:
                    self._celery = celery_app.make_celery(broker, queue=self.ctx.settings.render.celery_queue)
                app = self._celery
            celery_app.enqueue(app, job_id)
            return True
        except Exception:
            log.exception("could not send render job %s to %s; it stays pending for a sweep or a "
                          "polling worker", job_id, celery_app.describe(broker))  # fmt: skip
            return False
