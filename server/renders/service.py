"""RenderService: the server's side of render jobs: validate and queue, report status, cancel, serve.

This package splits it by job: submission.py (the request and its checks), sources.py (where the
worker finds each src), links.py (the status answer and the keyed output link), workers.py
(embedded workers and the Celery hand-off); this module ties them to the routes.

The job row (render_jobs.table) is the source of truth. Embedded, this service runs
`settings.render.workers` worker loops on threads in the server process (each render itself in a
child process); with 0 workers the rows wait for standalone workers (`python -m render_jobs`)
polling the same database. With `settings.render.celery_broker_url` set, each committed job's id is
also sent to Celery (`render_jobs.celery_app`), and embedded workers run only when `render.workers` is
set explicitly (the API machine then need not render). Export costs no credits.
"""

from __future__ import annotations

import hmac
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import col, select

from agent.state import GeneratedMedia
from database.engine import read_session
from render_jobs import lease
from render_jobs.table import RenderJob
from render_jobs.worker import Worker
from server import session_store
from server.context import AppContext
from server.deps import Attribution
from server.errors import ApiError, ErrorCode
from server.renders.links import output_mac, output_url
from server.renders.sources import SourceResolver
from server.renders.submission import RenderRequest, submit
from server.renders.workers import RenderWorkers
from server.tables import User

log = logging.getLogger("nemo.renders")

# `output.preview: true` marks the studio's quick low-resolution previews (server/routes/preview.py):
# they are noted in the state as `preview`, and are never a project's "latest export".
PREVIEW_FLAG = "preview"


def is_preview(job: RenderJob) -> bool:
    try:
        return bool(json.loads(job.output_json).get(PREVIEW_FLAG))
    except (ValueError, AttributeError):
        return False


class RenderService:
    """The render routes' one collaborator: submission.py, sources.py and workers.py do the work."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.sources = SourceResolver(ctx)
        self.pool = RenderWorkers(ctx, self.data_dir, on_complete=self.announce)

    @property
    def data_dir(self) -> Path:
        return Path(self.ctx.storage.root) if self.ctx.storage is not None else self.ctx.settings.data_dir

    # ---- workers (workers.py) ---------------------------------------------------------------------

    @property
    def workers(self) -> list[Worker]:
        return self.pool.workers

    def start(self) -> None:
        self.pool.start()

    def stop(self, grace_seconds: float = 0.0) -> None:
        """Shutdown: running renders release their lease at once (another start resumes them)."""
        self.pool.stop(grace_seconds)

    def hand_off(self, job_id: int) -> bool:
        return self.pool.hand_off(job_id)

    # ---- the API's operations ---------------------------------------------------------------------

    def submit(self, user: User, body: RenderRequest, attribution: Attribution, base_url: str) -> RenderJob:
        return submit(self.ctx, self.sources, self.hand_off, user, body, attribution, base_url)

    def status(self, user: User, render_id: str) -> RenderJob:
        job = lease.find(self.ctx.engine, user.id, render_id)
        if job is None:
            raise ApiError(ErrorCode.RENDER_NOT_FOUND, f"render {render_id!r} not found")
        if job.status == "completed" and not job.announced:
            self.announce(job)  # finished by a standalone worker, which cannot reach session state
        return job

    def cancel(self, user: User, render_id: str) -> RenderJob:
        job = self.status(user, render_id)
        assert job.id is not None
        return lease.request_cancel(self.ctx.engine, job.id) or job

    def output_file(self, user: User, render_id: str) -> tuple[Path, str]:
        """The finished MP4 and the name to offer it under; 4004 until it exists."""
        job = self.status(user, render_id)
        if job.status != "completed" or not job.output_key:
            message = f"render {render_id!r} has no output yet (status {job.status})"
            raise ApiError(ErrorCode.RENDER_NOT_FOUND, message)
        path = self.data_dir / job.output_key
        if not path.is_file():
            raise ApiError(ErrorCode.RENDER_NOT_FOUND, f"the output of {render_id!r} is no longer stored")
        return path, f"{render_id}.mp4"

    def shared_output(self, job_id: int, mac: str, render_id: str) -> tuple[Path, str]:
        """The finished MP4 behind an `output_url` (no token: the link itself is the key)."""
        with read_session(self.ctx.engine) as db:
            job = db.get(RenderJob, job_id)
        expected = output_mac(self.ctx.secret, job_id, job.user_id, job.render_id) if job is not None else ""
        if job is None or job.render_id != render_id or not hmac.compare_digest(mac, expected):
            raise ApiError(ErrorCode.RENDER_NOT_FOUND, "media not found")
        if job.status != "completed" or not job.output_key or not (self.data_dir / job.output_key).is_file():
            raise ApiError(ErrorCode.RENDER_NOT_FOUND, f"the output of {render_id!r} is no longer stored")
        return self.data_dir / job.output_key, f"{render_id}.mp4"

    def latest_output(self, session_id: str) -> tuple[Path, str] | None:
        """The session's newest finished MP4 still stored, and its name (the claim page plays it)."""
        stmt = (
            select(RenderJob)
            .where(
                RenderJob.session_id == session_id,
                RenderJob.status == "completed",
                col(RenderJob.output_key).is_not(None),
            )
            .order_by(col(RenderJob.completed_at).desc(), col(RenderJob.id).desc())
        )
        with read_session(self.ctx.engine) as db:
            for job in db.exec(stmt.limit(20)):
                path = self.data_dir / str(job.output_key)
                if path.is_file() and not is_preview(job):
                    return path, f"{job.render_id}.mp4"
        return None

    def announce(self, job: RenderJob) -> None:
        """Add the finished render to the session's `generated_media`, exactly once per job."""
        job_id = job.id
        if job_id is None or job.announced:
            return
        base = job.base_url or self.ctx.settings.public_url or ""
        finished = datetime.fromtimestamp(job.completed_at or job.created_at, UTC)
        item = GeneratedMedia(
            type="preview" if is_preview(job) else "render",
            url=output_url(base, self.ctx.secret, job),
            duration=job.duration,
            created_at=finished.isoformat().replace("+00:00", "Z"),
        )
        try:
            session_store.add_generated_media(
                self.ctx.engine,
                job.session_id,
                item,
                f"render {job.render_id}",
                once=lambda db: lease.mark_announced_in(db, job_id),
            )
        except Exception:  # the render itself is done and downloadable; the state note is a courtesy
            log.exception("could not add render %s to session %s", job.render_id, job.session_id)
