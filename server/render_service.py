"""RenderService: the server's side of render jobs: validate and queue, report status, cancel, serve.

The job row (renderer.jobs) is the source of truth. Embedded, this service runs
`settings.render.workers` worker loops on threads in the server process (each render itself in a
child process); with 0 workers the rows wait for standalone workers (`python -m renderer.worker`)
polling the same database. With `settings.render.celery_broker_url` set, each committed job's id is
also sent to Celery (`renderer.celery_app`), and embedded workers run only when `render.workers` is
set explicitly (the API machine then need not render). Export costs no credits.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session, col, select

from agent.state import GeneratedMedia
from renderer import jobs
from renderer.draft import Draft, TrackType
from renderer.music import CATALOGUE
from renderer.output import OutputSpec
from renderer.worker import Worker
from server import session_store
from server.context import AppContext
from server.db import read_session
from server.deps import Attribution, owned_session
from server.errors import ApiError, ErrorCode
from server.fetch_url import FetchError, fetcher_for
from server.storage import Storage
from server.tables import Media, User
from server.uploads import clean_filename, hash_file, intake

log = logging.getLogger("nemo.renders")

# `output.preview: true` marks the studio's quick low-resolution previews (server/routes/preview.py):
# they are noted in the state as `preview`, and are never a project's "latest export".
PREVIEW_FLAG = "preview"


def is_preview(job: jobs.RenderJob) -> bool:
    try:
        return bool(json.loads(job.output_json).get(PREVIEW_FLAG))
    except (ValueError, AttributeError):
        return False


class RenderRequest(BaseModel):
    """The render call's body (api-contract.md): `sessionId` as clients send it; `session_id` too."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str = Field(..., pattern=jobs.RENDER_ID_PATTERN, max_length=128, description="chosen by the client")
    # Unbounded on purpose: an id that is not one of the caller's sessions is 1002, not a 400.
    session_id: str = Field(..., alias="sessionId")
    draft: dict[str, Any]
    output: dict[str, Any] = Field(default_factory=dict)


def _first_errors(prefix: str, exc: ValidationError) -> str:
    """`draft.t.0.sg.1.m.fit: unknown fit 'x'; ...`: the client's field, in its own key names."""
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in (prefix, *err.get("loc", ())))
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def _bad_draft(where: str, why: str) -> ApiError:
    return ApiError(ErrorCode.BAD_REQUEST, f"invalid draft: {where}: {why}")


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


def output_mac(secret: bytes, job_id: int, user_id: str, render_id: str) -> str:
    return hmac.new(
        secret, f"render-output:{job_id}:{user_id}:{render_id}".encode(), hashlib.sha256
    ).hexdigest()[:32]


def output_url(base_url: str, secret: bytes, job: jobs.RenderJob) -> str:
    """Where the finished MP4 is fetched without a token, as the cloud's CDN links are
    (api-contract.md: `"outputUrl": "https://host/.../render_1.mp4"`; skills `curl -o` it or hand
    it to a person). Unguessable (keyed with the server's secret) and bound to this one job, like
    an upload's `cdn_url`; the token-checked `/api/render/proxy/{id}/download` serves it too."""
    assert job.id is not None
    mac = output_mac(secret, job.id, job.user_id, job.render_id)
    return f"{base_url.rstrip('/')}/media/renders/{job.id}-{mac}/{quote(job.render_id, safe='')}.mp4"


def client_status(job: jobs.RenderJob) -> str:
    """The status clients see, which only moves forward (api-contract.md: pending -> processing ->
    completed | failed). A started job that went back to the queue (its server shut down, or an
    attempt died and is retried) is still `processing` to them: it is under way, not new."""
    if job.status == "pending" and job.started_at is not None:
        return "processing"
    return job.status


def status_body(job: jobs.RenderJob, base_url: str, secret: bytes) -> dict[str, Any]:
    """The status answer: flat fields, `success`, and the same fields under `data` (three client styles)."""
    done = job.status == "completed"
    url = output_url(base_url, secret, job) if done else None
    fields: dict[str, Any] = {
        "id": job.render_id,
        "status": client_status(job),
        "progress": int(job.progress),
        "phase": job.phase,
        "eta_seconds": None if job.terminal else job.eta_seconds,
        "outputUrl": url,
        "output": (
            {"url": url, "size": job.size, "duration": job.duration, "width": job.width, "height": job.height}
            if done
            else None
        ),
        "error": (
            {"code": job.error_code or job.status, "message": job.error_message or job.status}
            if job.status in ("failed", "cancelled")
            else None
        ),
        "createdAt": _ms(job.created_at),
        "completedAt": _ms(job.completed_at),
    }
    return {"code": 0, "success": True, "message": "success", **fields, "data": dict(fields)}


class RenderService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.workers: list[Worker] = []
        self._threads: list[threading.Thread] = []
        self._celery: Any = None  # the producer-only Celery app, made on first use
        self._celery_lock = threading.Lock()

    @property
    def data_dir(self) -> Path:
        return Path(self.ctx.storage.root) if self.ctx.storage is not None else self.ctx.settings.data_dir

    # ---- embedded workers -------------------------------------------------------------------------

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
                render_target=self.ctx.render_target,
                clock=self.ctx.clock.time,
                on_complete=self.announce,
            )
            thread = threading.Thread(target=worker.run, name=f"render-worker-{i}", daemon=True)
            self.workers.append(worker)
            self._threads.append(thread)
            thread.start()
        if count:
            log.info("%d embedded render worker(s) started", count)
        if rs.celery_broker_url:
            from renderer.celery_app import describe

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
        from renderer import celery_app

        try:
            with self._celery_lock:
                if self._celery is None:
                    self._celery = celery_app.make_celery(broker)
                app = self._celery
            celery_app.enqueue(app, job_id)
            return True
        except Exception:
            log.exception("could not send render job %s to %s; it stays pending for a sweep or a "
                          "polling worker", job_id, celery_app.describe(broker))  # fmt: skip
            return False

    # ---- the API's operations ---------------------------------------------------------------------

    def submit(
        self, user: User, body: RenderRequest, attribution: Attribution, base_url: str
    ) -> jobs.RenderJob:
        settings = self.ctx.settings
        if settings.require_attribution and user.anonymous and not attribution.present:
            raise ApiError(
                ErrorCode.EXPORT_BLOCKED,
                "export needs the X-Skill-Source, X-Skill-Version and X-Skill-Platform headers",
            )
        with read_session(self.ctx.engine) as db:
            session = owned_session(db, user, body.session_id)
        if jobs.find(self.ctx.engine, user.id, body.id) is not None:
            raise self._duplicate(body.id)
        try:
            draft = Draft.model_validate(body.draft)
        except ValidationError as exc:
            raise ApiError(ErrorCode.BAD_REQUEST, "invalid draft: " + _first_errors("draft", exc)) from None
        try:
            output = OutputSpec.model_validate(body.output or {})
        except ValidationError as exc:
            raise ApiError(ErrorCode.BAD_REQUEST, "invalid output: " + _first_errors("output", exc)) from None
        if draft.d <= 0 or not any(track.sg for track in draft.t):
            raise _bad_draft("draft.d", "the draft is empty; nothing to render")
        sources = self._resolve_sources(user, session.id, draft, base_url)
        try:
            job = jobs.create(
                self.ctx.engine,
                render_id=body.id,
                user_id=user.id,
                session_id=session.id,
                draft=draft.to_json(),
                sources=sources,
                output=output.model_dump(mode="json", exclude_none=True),
                max_attempts=settings.render.max_attempts,
                attribution=(attribution.source, attribution.version, attribution.platform),
                base_url=settings.public_url or base_url,
                now=self.ctx.clock.time(),
            )
        except jobs.DuplicateRenderId:
            raise self._duplicate(body.id) from None
        assert job.id is not None
        self.hand_off(job.id)  # after the commit: the task reads the row
        return job

    def status(self, user: User, render_id: str) -> jobs.RenderJob:
        job = jobs.find(self.ctx.engine, user.id, render_id)
        if job is None:
            raise ApiError(ErrorCode.RENDER_NOT_FOUND, f"render {render_id!r} not found")
        if job.status == "completed" and not job.announced:
            self.announce(job)  # finished by a standalone worker, which cannot reach session state
        return job

    def cancel(self, user: User, render_id: str) -> jobs.RenderJob:
        job = self.status(user, render_id)
        assert job.id is not None
        return jobs.request_cancel(self.ctx.engine, job.id) or job

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
            job = db.get(jobs.RenderJob, job_id)
        expected = output_mac(self.ctx.secret, job_id, job.user_id, job.render_id) if job is not None else ""
        if job is None or job.render_id != render_id or not hmac.compare_digest(mac, expected):
            raise ApiError(ErrorCode.RENDER_NOT_FOUND, "media not found")
        if job.status != "completed" or not job.output_key or not (self.data_dir / job.output_key).is_file():
            raise ApiError(ErrorCode.RENDER_NOT_FOUND, f"the output of {render_id!r} is no longer stored")
        return self.data_dir / job.output_key, f"{render_id}.mp4"

    def latest_output(self, session_id: str) -> tuple[Path, str] | None:
        """The session's newest finished MP4 still stored, and its name (the claim page plays it)."""
        stmt = (
            select(jobs.RenderJob)
            .where(
                jobs.RenderJob.session_id == session_id,
                jobs.RenderJob.status == "completed",
                col(jobs.RenderJob.output_key).is_not(None),
            )
            .order_by(col(jobs.RenderJob.completed_at).desc(), col(jobs.RenderJob.id).desc())
        )
        with read_session(self.ctx.engine) as db:
            for job in db.exec(stmt.limit(20)):
                path = self.data_dir / str(job.output_key)
                if path.is_file() and not is_preview(job):
                    return path, f"{job.render_id}.mp4"
        return None

    def announce(self, job: jobs.RenderJob) -> None:
        """Add the finished render to the session's `generated_media`, exactly once per job."""
        if job.id is None or not jobs.mark_announced(self.ctx.engine, job.id):
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
                self.ctx.engine, job.session_id, item, f"render {job.render_id}"
            )
        except Exception:  # the render itself is done and downloadable; the state note is a courtesy
            log.exception("could not add render %s to session %s", job.render_id, job.session_id)

    # ---- sources ----------------------------------------------------------------------------------

    @staticmethod
    def _duplicate(render_id: str) -> ApiError:
        return ApiError(ErrorCode.DUPLICATE_RENDER, f"duplicate render id {render_id!r}; choose a new id")

    def _own_hosts(self, base_url: str) -> set[str]:
        hosts = {urlsplit(base_url).netloc.lower()}
        if self.ctx.settings.public_url:
            hosts.add(urlsplit(self.ctx.settings.public_url).netloc.lower())
        return hosts

    def _resolve_sources(self, user: User, session_id: str, draft: Draft, base_url: str) -> dict[str, str]:
        """Every `src` -> where the worker finds it (a storage key, or `builtin:<name>`); 400 naming
        the segment for anything that is not media this server holds for this user."""
        resolved: dict[str, str] = {}
        own_hosts = self._own_hosts(base_url)
        with read_session(self.ctx.engine) as db:
            for ti, track in enumerate(draft.t):
                if track.tt not in (TrackType.VIDEO, TrackType.AUDIO):
                    continue
                for si, seg in enumerate(track.sg):
                    src = seg.src or ""
                    if src in resolved:
                        continue
                    where = f"draft.t.{ti}.sg.{si}.src"
                    resolved[src] = self._resolve_one(db, user, session_id, src, where, own_hosts)
        return resolved

    def _render_key(self, media: Media) -> str:
        """The file the renderer reads: a photo's normalised proxy once made (EXIF-oriented, sRGB,
        already small: a 12 MP HEIC is not decoded again per render), else the upload itself."""
        if media.file_type == "image":
            proxy = json.loads(media.info_json).get("proxy_key")
            if isinstance(proxy, str) and self.ctx.storage.exists(proxy):
                return proxy
        return media.storage_key

    def _resolve_one(
        self, db: Session, user: User, session_id: str, src: str, where: str, own_hosts: set[str]
    ) -> str:
        if src.startswith("builtin:"):
            name = src.removeprefix("builtin:")
            if name not in CATALOGUE:
                known = ", ".join(sorted(CATALOGUE))
                raise _bad_draft(where, f"unknown built-in track {name!r}; known: {known}")
            return src
        media = db.get(Media, src) if len(src) <= 64 else None
        if media is not None and media.user_id == user.id:
            return self._render_key(media)
        parts = urlsplit(src)
        ours = parts.scheme == "" or (parts.scheme in ("http", "https") and parts.netloc.lower() in own_hosts)
        if ours and "/media/" in parts.path:
            key = Storage.key_from_url_path(unquote(parts.path.split("/media/", 1)[1]))
            found = db.exec(select(Media).where(Media.storage_key == key, Media.user_id == user.id)).first()
            if found is not None:
                return self._render_key(found)
            raise _bad_draft(where, f"{src!r} is not one of your uploads")
        if parts.scheme in ("http", "https") and parts.netloc:
            return self._fetch_foreign(user, session_id, src, where)
        raise _bad_draft(where, "src must be an uploaded file's cdn_url or media_id, or builtin:<name>")

    def _fetch_foreign(self, user: User, session_id: str, src: str, where: str) -> str:
        """A foreign URL goes through the guarded downloader and the upload checks into storage
        (4003 when the fetch policy refuses it); the job then names the stored copy."""
        storage = self.ctx.storage
        tmp = storage.new_tmp_path()
        try:
            result = fetcher_for(self.ctx).fetch_to_file_sync(src, tmp)
            digest, size = hash_file(tmp)
            item = intake(
                storage, tmp, filename=clean_filename(result.filename), sha256=digest, size=size,
                max_pixels=self.ctx.settings.max_image_pixels, analyse=False,
            )  # fmt: skip
        except FetchError as exc:
            code = ErrorCode.FILE_TOO_LARGE if exc.code == "too_large" else ErrorCode.URL_REFUSED
            raise ApiError(code, f"{where}: {exc.message}") from None
        except ApiError as exc:
            raise ApiError(exc.code, f"{where}: {exc.message}") from None
        finally:
            tmp.unlink(missing_ok=True)
        return item.key
