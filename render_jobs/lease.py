"""The render job lifecycle over its database row: create, claim with a lease and a fencing token,
heartbeat, complete, fail, retry, release, cancel.

The row is the source of truth. A worker owns a job only while `fencing_token` equals the token its
claim returned and its lease has not lapsed; every write a worker makes is a conditional UPDATE on
that token, so a worker that lost its lease (paused, partitioned, presumed dead) can never overwrite
the work of the one that reclaimed the job. Times are float epoch seconds so the lease comparison is
plain arithmetic on SQLite and PostgreSQL alike. Pure functions over an Engine: no server imports,
no torch, no PyAV.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, or_, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from render_jobs.table import RenderJob, RenderPart


class DuplicateRenderId(Exception):
    """The user already has a render with this id."""


class TooManyActive(Exception):
    """The user already has `max_active` renders queued or running."""

    def __init__(self, active: int) -> None:
        super().__init__(f"{active} renders queued or running")
        self.active = active


@dataclass(frozen=True)
class Claim:
    """A job this worker now holds: every later write must present `token`."""

    job: RenderJob
    token: int
    worker_id: str


@dataclass(frozen=True)
class Outcome:
    """What a finished render reports back to the row."""

    output_key: str
    size: int
    duration: float
    width: int
    height: int
    encoder: str | None = None
    device: str | None = None


def _now(now: float | None) -> float:
    return time.time() if now is None else now


def create(
    engine: Engine,
    *,
    render_id: str,
    user_id: str,
    session_id: str,
    draft: dict[str, Any],
    sources: dict[str, str],
    output: dict[str, Any],
    max_attempts: int = 3,
    max_lost_leases: int = 10,
    max_active: int | None = None,
    attribution: tuple[str | None, str | None, str | None] = (None, None, None),
    base_url: str | None = None,
    now: float | None = None,
) -> RenderJob:
    """Insert a pending job; DuplicateRenderId when the user already used `render_id`, TooManyActive
    when `max_active` is given and the user has that many jobs pending or processing already (counted
    and inserted in one transaction: BEGIN IMMEDIATE on SQLite, a per-user advisory lock on
    PostgreSQL, so racing submits cannot all slip under the limit)."""
    job = RenderJob(
        render_id=render_id,
        user_id=user_id,
        session_id=session_id,
        draft_json=json.dumps(draft, separators=(",", ":")),
        sources_json=json.dumps(sources, separators=(",", ":")),
        output_json=json.dumps(output, separators=(",", ":")),
        max_attempts=max_attempts,
        max_lost_leases=max_lost_leases,
        attribution_source=attribution[0],
        attribution_version=attribution[1],
        attribution_platform=attribution[2],
        base_url=base_url,
        created_at=_now(now),
    )
    try:
        with Session(engine, expire_on_commit=False) as db:
            if max_active is not None:
                _check_active(db, user_id, max_active)
            db.add(job)
            db.commit()
            db.refresh(job)
    except IntegrityError as exc:
        raise DuplicateRenderId(render_id) from exc
    return job


def _check_active(db: Session, user_id: str, max_active: int) -> None:
    if db.get_bind().dialect.name == "postgresql":
        db.connection().execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": "renders:" + user_id}
        )
    active = db.exec(
        select(func.count())
        .select_from(RenderJob)
        .where(RenderJob.user_id == user_id, col(RenderJob.status).in_(("pending", "processing")))
    ).one()
    if active >= max_active:
        raise TooManyActive(int(active))


def get(engine: Engine, job_id: int) -> RenderJob | None:
    with Session(engine, expire_on_commit=False) as db:
        return db.get(RenderJob, job_id)


def find(engine: Engine, user_id: str, render_id: str) -> RenderJob | None:
    with Session(engine, expire_on_commit=False) as db:
        stmt = select(RenderJob).where(RenderJob.user_id == user_id, RenderJob.render_id == render_id)
        return db.exec(stmt).first()


def _claimable(now: float) -> Any:
    return or_(
        col(RenderJob.status) == "pending",
        (col(RenderJob.status) == "processing") & (col(RenderJob.lease_expires_at) < now),
    )


def _conditional(
    engine: Engine, job_id: int, seen_token: int, condition: Any, values: dict[str, Any]
) -> bool:
    """One UPDATE guarded by the id, the fencing token seen, and `condition`; True if it applied."""
    stmt = (
        update(RenderJob)
        .where(RenderJob.id == job_id, RenderJob.fencing_token == seen_token, condition)  # type: ignore[arg-type]
        .values(**values)
    )
    with engine.begin() as conn:
        return conn.execute(stmt).rowcount == 1


def claim_next(
    engine: Engine,
    worker_id: str,
    lease_s: float,
    now: float | None = None,
    *,
    job_id: int | None = None,
) -> Claim | None:
    """Take the oldest claimable job (or exactly `job_id`): pending, or processing with a lapsed lease.

    The claim is one conditional UPDATE on (id, fencing token seen, still claimable); the row count
    says who won, so two workers racing for one job cannot both get it. Jobs out of attempts are
    marked failed here instead of being run again, so a job that always kills its worker ends:
    `max_attempts` bounds the render's own failures, `max_lost_leases` the workers that vanished
    under it (a job whose render takes its whole worker down ends there).
    """
    for _ in range(50):  # each pass either wins, or retires/loses one candidate
        t = _now(now)
        with Session(engine, expire_on_commit=False) as db:
            stmt = select(RenderJob).where(_claimable(t))
            if job_id is not None:
                stmt = stmt.where(RenderJob.id == job_id)
            job = db.exec(stmt.order_by(RenderJob.id).limit(1)).first()  # type: ignore[arg-type]
        if job is None or job.id is None:
            return None
        seen = job.fencing_token
        if job.cancel_requested:
            _conditional(
                engine, job.id, seen, _claimable(t),
                {"status": "cancelled", "lease_owner": None, "lease_expires_at": None, "eta_seconds": None,
                 "error_code": "cancelled", "error_message": "cancelled by the user", "completed_at": t},
            )  # fmt: skip
            continue
        # Claimable while `processing` means its lease lapsed: the worker running it vanished
        # (killed, its machine gone). That run is not the render's fault: it is taken back off
        # `attempts` and counted in `lost_leases` instead, each with its own bound.
        lost = job.status == "processing"
        attempts = job.attempts - 1 if lost and job.attempts > 0 else job.attempts
        lost_leases = job.lost_leases + (1 if lost else 0)
        give_up = None
        if attempts >= job.max_attempts:
            last = job.error_message or "the render process stopped without finishing"
            give_up = (
                job.error_code or "attempts_exhausted",
                f"gave up after {attempts} attempts; last: {last}",
            )
        elif lost_leases > job.max_lost_leases:
            give_up = (
                "workers_lost",
                (
                    f"gave up after the worker rendering it stopped {job.lost_leases + 1} times without "
                    "finishing (its process or machine died); try again later"
                ),
            )
        if give_up is not None:
            _conditional(
                engine, job.id, seen, _claimable(t),
                {"status": "failed", "lease_owner": None, "lease_expires_at": None, "eta_seconds": None,
                 "attempts": attempts, "lost_leases": lost_leases,
                 "error_code": give_up[0][:64], "error_message": give_up[1], "completed_at": t},
            )  # fmt: skip
            continue
        won = _conditional(
            engine, job.id, seen, _claimable(t),
            {"status": "processing", "lease_owner": worker_id, "lease_expires_at": t + lease_s,
             "fencing_token": seen + 1, "attempts": attempts + 1, "lost_leases": lost_leases,
             "started_at": job.started_at if job.started_at is not None else t},
        )  # fmt: skip
        if won:
            fresh = get(engine, job.id)
            assert fresh is not None
            return Claim(job=fresh, token=seen + 1, worker_id=worker_id)
    return None


def heartbeat(
    engine: Engine,
    job_id: int,
    token: int,
    *,
    lease_s: float,
    phase: str | None = None,
    progress: int | None = None,
    eta_seconds: float | None = None,
    now: float | None = None,
) -> bool:
    """Renew the lease and record progress (never lowering it). False: the lease is lost, stop."""
    t = _now(now)
    values: dict[str, Any] = {"lease_expires_at": t + lease_s}
    if phase is not None:
        values["phase"] = phase
    if progress is not None:
        p = max(0, min(99, int(progress)))  # 100 belongs to completion, when the file is in place
        values["progress"] = case((col(RenderJob.progress) < p, p), else_=col(RenderJob.progress))
        values["eta_seconds"] = eta_seconds
    return _conditional(engine, job_id, token, RenderJob.status == "processing", values)


def cancel_requested(engine: Engine, job_id: int) -> bool:
    job = get(engine, job_id)
    return job is None or job.cancel_requested


def complete(engine: Engine, job_id: int, token: int, outcome: Outcome, now: float | None = None) -> bool:
    """Mark done, only if this worker still holds the job (its token is the current one)."""
    t = _now(now)
    return _conditional(
        engine, job_id, token, RenderJob.status == "processing",
        {"status": "completed", "progress": 100, "phase": "mux", "eta_seconds": None,
         "lease_owner": None, "lease_expires_at": None, "completed_at": t,
         "error_code": None, "error_message": None,
         "output_key": outcome.output_key, "size": outcome.size, "duration": outcome.duration,
         "width": outcome.width, "height": outcome.height,
         "encoder": outcome.encoder, "device": outcome.device},
    )  # fmt: skip


def fail(engine: Engine, job_id: int, token: int, code: str, message: str, now: float | None = None) -> bool:
    """A render that cannot succeed (bad media, missing source): failed now, no more attempts."""
    return _conditional(
        engine, job_id, token, RenderJob.status == "processing",
        {"status": "failed", "lease_owner": None, "lease_expires_at": None, "eta_seconds": None,
         "error_code": code[:64], "error_message": message, "completed_at": _now(now)},
    )  # fmt: skip


def retry_later(engine: Engine, job_id: int, token: int, code: str, message: str) -> bool:
    """The attempt died (child crashed): back to pending with the attempt counted and the reason
    kept; the next claim runs it again or, out of attempts, marks it failed with this message."""
    return _conditional(
        engine, job_id, token, RenderJob.status == "processing",
        {"status": "pending", "phase": "queued", "lease_owner": None, "lease_expires_at": None,
         "error_code": code[:64], "error_message": message},
    )  # fmt: skip


def release(engine: Engine, job_id: int, token: int) -> bool:
    """Give the job back at once (shutdown): pending again, and this attempt does not count."""
    return _conditional(
        engine, job_id, token, RenderJob.status == "processing",
        {"status": "pending", "phase": "queued", "lease_owner": None, "lease_expires_at": None,
         "attempts": case((col(RenderJob.attempts) > 0, col(RenderJob.attempts) - 1), else_=0)},
    )  # fmt: skip


def mark_cancelled(engine: Engine, job_id: int, token: int, now: float | None = None) -> bool:
    """The worker stopped a render whose cancel was requested."""
    return _conditional(
        engine, job_id, token, RenderJob.status == "processing",
        {"status": "cancelled", "lease_owner": None, "lease_expires_at": None, "eta_seconds": None,
         "error_code": "cancelled", "error_message": "cancelled by the user", "completed_at": _now(now)},
    )  # fmt: skip


def request_cancel(engine: Engine, job_id: int, now: float | None = None) -> RenderJob | None:
    """Cancel: a pending job is cancelled at once; a processing one is flagged for its worker,
    which stops the render and marks it. Finished jobs are left as they are."""
    t = _now(now)
    with engine.begin() as conn:
        conn.execute(
            update(RenderJob)
            .where(RenderJob.id == job_id, RenderJob.status == "pending")  # type: ignore[arg-type]
            .values(status="cancelled", cancel_requested=True, eta_seconds=None, completed_at=t,
                    error_code="cancelled", error_message="cancelled by the user")
        )  # fmt: skip
        # A job rendering in parts has no worker to notice the flag until its join: cancelled at
        # once, its parts with it (their workers' next heartbeat finds them gone and stops).
        split = conn.execute(
            update(RenderJob)
            .where(RenderJob.id == job_id, RenderJob.status == "processing", col(RenderJob.parts) > 0,  # type: ignore[arg-type]
                   col(RenderJob.lease_expires_at).is_(None))
            .values(status="cancelled", cancel_requested=True, eta_seconds=None, completed_at=t,
                    error_code="cancelled", error_message="cancelled by the user")
        ).rowcount  # fmt: skip
        if split:
            conn.execute(
                update(RenderPart)
                .where(
                    col(RenderPart.job_id) == job_id, col(RenderPart.status).in_(("pending", "processing"))
                )
                .values(status="cancelled", lease_owner=None, lease_expires_at=None)
            )
        conn.execute(
            update(RenderJob)
            .where(RenderJob.id == job_id, RenderJob.status == "processing")  # type: ignore[arg-type]
            .values(cancel_requested=True)
        )
    return get(engine, job_id)


def _announce_stmt(job_id: int) -> Any:
    return (
        update(RenderJob)
        .where(RenderJob.id == job_id, RenderJob.status == "completed", RenderJob.announced == False)  # type: ignore[arg-type]  # noqa: E712
        .values(announced=True)
    )


def mark_announced(engine: Engine, job_id: int) -> bool:
    """True exactly once per completed job: the caller then records it in the session."""
    with engine.begin() as conn:
        return conn.execute(_announce_stmt(job_id)).rowcount == 1


def mark_announced_in(db: Session, job_id: int) -> bool:
    """mark_announced inside the caller's transaction, so the flag commits with what it records."""
    return db.connection().execute(_announce_stmt(job_id)).rowcount == 1
