"""A render split across workers, over its rows: split a job into parts, claim the fairest part with a
lease and a fencing token, heartbeat (the job's progress is the parts' sum), complete (the last part
done takes the job's lease for the join, exactly once), retry, fail, release.

While its parts render, the job is `processing` with no lease (`lease_expires_at` NULL: not
claimable by lease.claim_next, and no single worker holds it). Each part is fenced as a job is: every
write presents the token its claim returned, so a worker that lost a part (killed, paused past its
lease) never overwrites the run of the one that reclaimed it. The worker that completes the last
part takes the job's lease in the same transaction (the job row locked first, so two workers
finishing the last two parts at once cannot both miss it or both take it); it then joins the parts
and completes the job with lease.complete like any job. If it dies, the job's lease lapses and
lease.claim_next hands the job to another worker, which finds every part done and joins.

Fairness: a claim takes the claimable part whose user, then job, has the fewest parts running, so
workers go round-robin across renders instead of through one long export first.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, insert, or_, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, select

from render_jobs import lease
from render_jobs.table import RenderJob, RenderPart
from renderer.chunks.parts import choose_parts
from renderer.plan import frame_count
from renderer.schema.draft import Draft
from renderer.schema.output import OutputSpec

# A part run that failed on its own (a crashed child) is tried again this many times in all; runs
# whose worker vanished (its lease lapsed) are bounded apart, more loosely, as for jobs.
MAX_PART_CRASHES = 3
MAX_PART_RUNS = 12
# The job's progress while parts render: PARTS_FROM..PARTS_TO over their frames; the join the rest.
PARTS_FROM, PARTS_TO, JOINING = 3, 95, 96


@dataclass(frozen=True)
class PartClaim:
    """A part this worker now holds: every later write must present `token`."""

    part: RenderPart
    job: RenderJob
    token: int
    worker_id: str


def _now(now: float | None) -> float:
    return time.time() if now is None else now


def plan_split(job: RenderJob, part_seconds: float) -> list[tuple[int, int]]:
    """The frame ranges of `job` in parts of about `part_seconds` (on keyframe intervals); one range
    when it is too short to split. Pure: reads only the draft's length and fps."""
    draft = Draft.model_validate_json(job.draft_json)
    n_frames, fps = frame_count(draft, OutputSpec.model_validate_json(job.output_json))
    if part_seconds <= 0 or n_frames <= 0:
        return [(0, max(1, n_frames))]
    wanted = max(1, round(n_frames / (part_seconds * fps)))
    return [(p.start, p.stop) for p in choose_parts(n_frames, fps, cores=1, forced=wanted)]


def split(engine: Engine, job_id: int, part_seconds: float, now: float | None = None) -> int:
    """Split a pending, unsplit job into parts (pending -> processing without a lease); the number of
    parts made, 0 when the job is not pending, already split, cancelled, or too short to split
    (it is then rendered whole, lease.claim_next as before). One transaction: the conditional
    UPDATE of the job and the parts' INSERT commit together or not at all."""
    job = lease.get(engine, job_id)
    if job is None or job.status != "pending" or job.parts or job.cancel_requested:
        return 0
    ranges = plan_split(job, part_seconds)
    if len(ranges) < 2:
        return 0
    t = _now(now)
    with engine.begin() as conn:
        won = conn.execute(
            update(RenderJob)
            .where(col(RenderJob.id) == job_id, col(RenderJob.fencing_token) == job.fencing_token,
                   col(RenderJob.status) == "pending", col(RenderJob.parts) == 0,
                   col(RenderJob.cancel_requested) == False)  # noqa: E712
            .values(status="processing", phase="compose", parts=len(ranges), lease_owner=None,
                    lease_expires_at=None, fencing_token=job.fencing_token + 1,
                    started_at=job.started_at if job.started_at is not None else t)
        ).rowcount == 1  # fmt: skip
        if not won:
            return 0
        conn.execute(
            insert(RenderPart),
            [{"job_id": job_id, "idx": i, "start_frame": a, "stop_frame": b, "status": "pending",
              "frames_done": 0, "attempts": 0, "crashes": 0, "fencing_token": 0, "created_at": t}
             for i, (a, b) in enumerate(ranges)],
        )  # fmt: skip
    return len(ranges)


def waiting_jobs(engine: Engine, limit: int = 50) -> list[int]:
    """Pending jobs not split yet, oldest first (a part task splits them, or renders a short one)."""
    with Session(engine) as db:
        stmt = (
            select(RenderJob.id)
            .where(col(RenderJob.status) == "pending", col(RenderJob.parts) == 0,
                   col(RenderJob.cancel_requested) == False)  # noqa: E712
            .order_by(col(RenderJob.id))
            .limit(limit)
        )  # fmt: skip
        return [int(i) for i in db.exec(stmt).all() if i is not None]


def list_parts(engine: Engine, job_id: int) -> list[RenderPart]:
    with Session(engine, expire_on_commit=False) as db:
        stmt = select(RenderPart).where(col(RenderPart.job_id) == job_id).order_by(col(RenderPart.idx))
        return list(db.exec(stmt).all())


def _split_job_open() -> Any:
    """The job of a part is being rendered in parts: processing, no cancel asked, no joiner yet."""
    return (
        (col(RenderJob.status) == "processing")
        & (col(RenderJob.cancel_requested) == False)  # noqa: E712
        & (col(RenderJob.parts) > 0)
        & col(RenderJob.lease_expires_at).is_(None)
    )


def _part_claimable(now: float) -> Any:
    return or_(
        col(RenderPart.status) == "pending",
        (col(RenderPart.status) == "processing") & (col(RenderPart.lease_expires_at) < now),
    )


def claimable_count(engine: Engine, now: float | None = None) -> int:
    """Parts some worker could claim now (pending, or lapsed): what the queue must hold messages for."""
    t = _now(now)
    with Session(engine) as db:
        stmt = (
            select(func.count())
            .select_from(RenderPart)
            .join(RenderJob, col(RenderJob.id) == col(RenderPart.job_id))
            .where(_split_job_open(), _part_claimable(t))
        )
        return int(db.exec(stmt).one())


def claim_part(engine: Engine, worker_id: str, lease_s: float, now: float | None = None) -> PartClaim | None:
    """Take the fairest claimable part: of the user, then the job, with the fewest parts running
    (then the oldest job, its first part). One conditional UPDATE decides between racing workers.
    A part out of runs fails its job instead of being run again."""
    for _ in range(50):  # each pass wins, or retires/loses one candidate
        t = _now(now)
        with Session(engine, expire_on_commit=False) as db:
            base = select(RenderPart, RenderJob.user_id).join(
                RenderJob, col(RenderJob.id) == col(RenderPart.job_id)
            )
            candidates = db.exec(
                base.where(_split_job_open(), _part_claimable(t))
                .order_by(col(RenderPart.job_id), col(RenderPart.idx))
                .limit(1000)
            ).all()
            if not candidates:
                return None
            running = db.exec(
                base.where(col(RenderPart.status) == "processing", col(RenderPart.lease_expires_at) >= t)
            ).all()
        by_user = Counter(user for _, user in running)
        by_job = Counter(part.job_id for part, _ in running)
        part, _user = min(
            candidates, key=lambda c: (by_user[c[1]], by_job[c[0].job_id], c[0].job_id, c[0].idx)
        )
        assert part.id is not None
        seen = part.fencing_token
        if part.attempts >= MAX_PART_RUNS:
            _fail_job(engine, part.job_id, "workers_lost",
                      f"gave up after the workers rendering part {part.idx} stopped {part.attempts} times "
                      "without finishing (their processes or machines died); try again later", t)  # fmt: skip
            continue
        with engine.begin() as conn:
            won = conn.execute(
                update(RenderPart)
                .where(col(RenderPart.id) == part.id, col(RenderPart.fencing_token) == seen,
                       _part_claimable(t))
                .values(status="processing", lease_owner=worker_id, lease_expires_at=t + lease_s,
                        fencing_token=seen + 1, attempts=part.attempts + 1, frames_done=0,
                        started_at=part.started_at if part.started_at is not None else t)
            ).rowcount == 1  # fmt: skip
        if won:
            with Session(engine, expire_on_commit=False) as db:
                fresh, job = db.get(RenderPart, part.id), db.get(RenderJob, part.job_id)
            assert fresh is not None and job is not None
            return PartClaim(part=fresh, job=job, token=seen + 1, worker_id=worker_id)
    return None


def _part_guard(claim: PartClaim) -> Any:
    return (
        (col(RenderPart.id) == claim.part.id)
        & (col(RenderPart.fencing_token) == claim.token)
        & (col(RenderPart.status) == "processing")
    )


def _lock_job(conn: Connection, job_id: int) -> None:
    """Lock the job's row before any of its parts' rows. Every transaction that writes both takes
    them in this order (complete, cancel, and lease.request_cancel write the job first), so a part's
    heartbeat and a cancel never wait on each other in a cycle (PostgreSQL found that deadlock in
    CI: heartbeat part -> job, cancel job -> parts). SQLite's BEGIN IMMEDIATE serialises anyway."""
    conn.execute(select(RenderJob.id).where(col(RenderJob.id) == job_id).with_for_update())


def heartbeat(
    engine: Engine,
    claim: PartClaim,
    *,
    lease_s: float,
    frames_done: int | None = None,
    now: float | None = None,
) -> bool:
    """Renew the part's lease, record its frames and the job's progress (never lowering it). False:
    the part is lost (reclaimed, cancelled, its job ended): stop rendering it."""
    t = _now(now)
    values: dict[str, Any] = {"lease_expires_at": t + lease_s}
    if frames_done is not None:
        values["frames_done"] = max(0, min(frames_done, claim.part.stop_frame - claim.part.start_frame))
    with engine.begin() as conn:
        _lock_job(conn, claim.part.job_id)
        if conn.execute(update(RenderPart).where(_part_guard(claim)).values(**values)).rowcount != 1:
            return False
        job_open = conn.execute(
            select(func.count())
            .select_from(RenderJob)
            .where(col(RenderJob.id) == claim.part.job_id, _split_job_open())
        ).scalar_one()
        if not job_open:
            return False
        _record_progress(conn, claim.part.job_id, t)
    return True


def _record_progress(conn: Connection, job_id: int, now: float) -> None:
    """The job's progress from its parts' frames (completed parts count whole), and an ETA from the
    time since it started; the progress column keeps its maximum, so a retried part never lowers it."""
    rows = conn.execute(
        select(RenderPart.status, RenderPart.start_frame, RenderPart.stop_frame, RenderPart.frames_done)
        .where(col(RenderPart.job_id) == job_id)
    ).all()  # fmt: skip
    total = sum(b - a for _, a, b, _ in rows)
    done = sum((b - a) if s == "completed" else min(f, b - a) for s, a, b, f in rows)
    if total <= 0:
        return
    p = int(PARTS_FROM + (PARTS_TO - PARTS_FROM) * done / total)
    started = conn.execute(
        select(RenderJob.started_at).where(col(RenderJob.id) == job_id)
    ).scalar_one_or_none()
    eta = None
    if started is not None and done > 0:
        elapsed = max(0.0, now - float(started))
        eta = round(elapsed * (total - done) / done, 1)
    conn.execute(
        update(RenderJob)
        .where(col(RenderJob.id) == job_id, _split_job_open())
        .values(progress=case((col(RenderJob.progress) < p, p), else_=col(RenderJob.progress)),
                eta_seconds=eta, phase="compose")
    )  # fmt: skip


def complete(
    engine: Engine, claim: PartClaim, output_key: str, *, lease_s: float, now: float | None = None
) -> tuple[bool, lease.Claim | None]:
    """Mark the part done (only while this worker still holds it); when it was the last one, take
    the job's lease for the join in the same transaction. (done, the join's claim or None)."""
    t = _now(now)
    job_id = claim.part.job_id
    with engine.begin() as conn:
        # Lock the job row first: the last two parts finishing at once serialize here, so exactly
        # one of them sees no part left and takes the join. (SQLite: BEGIN IMMEDIATE already.)
        job = conn.execute(
            select(RenderJob.fencing_token, RenderJob.progress)
            .where(col(RenderJob.id) == job_id, _split_job_open())
            .with_for_update()
        ).one_or_none()  # fmt: skip
        done = conn.execute(
            update(RenderPart)
            .where(_part_guard(claim))
            .values(status="completed", output_key=output_key, lease_owner=None, lease_expires_at=None,
                    frames_done=claim.part.stop_frame - claim.part.start_frame, completed_at=t)
        ).rowcount == 1  # fmt: skip
        if not done:
            return False, None
        if job is None:  # cancelled or failed meanwhile: nothing to join
            return True, None
        left = conn.execute(
            select(func.count())
            .select_from(RenderPart)
            .where(col(RenderPart.job_id) == job_id, col(RenderPart.status) != "completed")
        ).scalar_one()
        if left:
            _record_progress(conn, job_id, t)
            return True, None
        seen = int(job[0])
        took = conn.execute(
            update(RenderJob)
            .where(col(RenderJob.id) == job_id, col(RenderJob.fencing_token) == seen, _split_job_open())
            .values(lease_owner=claim.worker_id, lease_expires_at=t + lease_s, fencing_token=seen + 1,
                    phase="mux", eta_seconds=None, progress=max(int(job[1]), JOINING))
        ).rowcount == 1  # fmt: skip
    if not took:
        return True, None
    fresh = lease.get(engine, job_id)
    assert fresh is not None
    return True, lease.Claim(job=fresh, token=seen + 1, worker_id=claim.worker_id)


def reopen(engine: Engine, claim: lease.Claim) -> int:
    """A split job claimed whole (lease.claim_next: its joiner died, or a join crashed and was
    retried) whose parts are not all done: back to rendering in parts, the claim not counted as an
    attempt. The number of parts still to render (0 when the claim was lost)."""
    assert claim.job.id is not None
    with engine.begin() as conn:
        back = conn.execute(
            update(RenderJob)
            .where(col(RenderJob.id) == claim.job.id, col(RenderJob.fencing_token) == claim.token,
                   col(RenderJob.status) == "processing")
            .values(lease_owner=None, lease_expires_at=None, phase="compose",
                    attempts=case((col(RenderJob.attempts) > 0, col(RenderJob.attempts) - 1), else_=0))
        ).rowcount == 1  # fmt: skip
        if not back:
            return 0
        left = conn.execute(
            select(func.count())
            .select_from(RenderPart)
            .where(col(RenderPart.job_id) == claim.job.id, col(RenderPart.status) != "completed")
        ).scalar_one()
    return int(left)


def _fail_job(
    engine: Engine, job_id: int, code: str, message: str, now: float, conn: Connection | None = None
) -> None:
    """The job fails (its parts with it), whoever holds what: a part that cannot succeed dooms it."""

    def run(c: Connection) -> None:
        c.execute(
            update(RenderJob)
            .where(col(RenderJob.id) == job_id, col(RenderJob.status) == "processing")
            .values(status="failed", lease_owner=None, lease_expires_at=None, eta_seconds=None,
                    error_code=code[:64], error_message=message, completed_at=now)
        )  # fmt: skip
        _end_parts(c, job_id, "failed")

    if conn is not None:
        run(conn)
        return
    with engine.begin() as c:
        run(c)


def _end_parts(conn: Connection, job_id: int, status: str) -> None:
    conn.execute(
        update(RenderPart)
        .where(col(RenderPart.job_id) == job_id, col(RenderPart.status).in_(("pending", "processing")))
        .values(status=status, lease_owner=None, lease_expires_at=None)
    )


def fail(engine: Engine, claim: PartClaim, code: str, message: str, now: float | None = None) -> bool:
    """The part cannot succeed (bad media, a missing source): the job fails now, no more attempts."""
    with engine.begin() as conn:
        _lock_job(conn, claim.part.job_id)
        if conn.execute(update(RenderPart).where(_part_guard(claim)).values(status="failed")).rowcount != 1:
            return False
        _fail_job(engine, claim.part.job_id, code, message, _now(now), conn)
    return True


def retry_later(engine: Engine, claim: PartClaim, code: str, message: str, now: float | None = None) -> bool:
    """The part's run crashed: pending again with the crash counted, or, out of tries, the job
    fails with this message. True when the part is pending again (it needs a message)."""
    crashes = claim.part.crashes + 1
    with engine.begin() as conn:
        _lock_job(conn, claim.part.job_id)
        if crashes >= MAX_PART_CRASHES:
            if conn.execute(update(RenderPart).where(_part_guard(claim)).values(status="failed",
                            crashes=crashes)).rowcount == 1:  # fmt: skip
                _fail_job(engine, claim.part.job_id, code,
                          f"gave up after part {claim.part.idx} failed {crashes} times; last: {message}",
                          _now(now), conn)  # fmt: skip
            return False
        return conn.execute(
            update(RenderPart).where(_part_guard(claim))
            .values(status="pending", crashes=crashes, lease_owner=None, lease_expires_at=None, frames_done=0)
        ).rowcount == 1  # fmt: skip


def release(engine: Engine, claim: PartClaim) -> bool:
    """Give the part back at once (shutdown): pending again, this run not counted."""
    with engine.begin() as conn:
        return conn.execute(
            update(RenderPart).where(_part_guard(claim))
            .values(status="pending", lease_owner=None, lease_expires_at=None, frames_done=0,
                    attempts=case((col(RenderPart.attempts) > 0, col(RenderPart.attempts) - 1), else_=0))
        ).rowcount == 1  # fmt: skip


def cancel(engine: Engine, claim: PartClaim, now: float | None = None) -> None:
    """The part stopped because its job's cancel was asked: the job and its parts are cancelled."""
    with engine.begin() as conn:
        conn.execute(
            update(RenderJob)
            .where(col(RenderJob.id) == claim.part.job_id, col(RenderJob.status) == "processing",
                   col(RenderJob.lease_expires_at).is_(None))
            .values(status="cancelled", eta_seconds=None, error_code="cancelled",
                    error_message="cancelled by the user", completed_at=_now(now))
        )  # fmt: skip
        _end_parts(conn, claim.part.job_id, "cancelled")


def part_files(parts: list[RenderPart]) -> list[tuple[int, int, int, str]]:
    """(index, start, stop, output key) of every part, in order: what the join reads."""
    return [
        (p.idx, p.start_frame, p.stop_frame, str(p.output_key)) for p in sorted(parts, key=lambda p: p.idx)
    ]
