"""A split job's rows (render_jobs/parts.py): the split, fair fenced part claims, progress from the
parts, the join taken exactly once, a stale worker's late writes ignored, cancel, crash budgets.

Real SQLite (and PostgreSQL when NEMO_TEST_DATABASE_URL is set); `now` is passed explicitly so lease
expiry is a value, not a wait. The worker processes are in test_parts_across_workers.py.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from database.engine import drop_schema, make_engine
from render_jobs import lease, parts
from render_jobs.table import create_table

T0 = 1_800_000_000.0


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
        create_table(eng)
        yield eng
        eng.dispose()
        return
    url = os.environ.get("NEMO_TEST_DATABASE_URL")
    if not url:
        pytest.skip("NEMO_TEST_DATABASE_URL not set")
    schema = f"t_parts_{uuid.uuid4().hex[:12]}"
    eng = make_engine(url, schema=schema)
    create_table(eng)
    yield eng
    drop_schema(eng, schema)
    eng.dispose()


def _draft(seconds: float, fps: int = 30) -> dict[str, Any]:
    return {"d": int(seconds * 1000), "m": {"width": 64, "height": 64, "fps": fps}, "t": []}


def _job(engine: Engine, render_id: str = "r", *, user: str = "u1", seconds: float = 8.0) -> int:
    job = lease.create(engine, render_id=render_id, user_id=user, session_id="s", draft=_draft(seconds),
                       sources={}, output={}, now=T0)  # fmt: skip
    assert job.id is not None
    return job.id


def _claim(engine: Engine, worker: str = "w", lease_s: float = 10.0, now: float = T0) -> parts.PartClaim:
    claim = parts.claim_part(engine, worker, lease_s, now=now)
    assert claim is not None
    return claim


def test_a_job_splits_on_keyframe_intervals_once_and_a_short_one_not_at_all(engine: Engine) -> None:
    job_id = _job(engine, seconds=8.0)  # 240 frames at 30 fps
    assert parts.split(engine, job_id, 2.0, now=T0) == 4
    assert parts.split(engine, job_id, 2.0, now=T0) == 0  # already split: nothing more
    rows = parts.list_parts(engine, job_id)
    assert [(p.idx, p.start_frame, p.stop_frame, p.status) for p in rows] == [
        (0, 0, 60, "pending"), (1, 60, 120, "pending"), (2, 120, 180, "pending"), (3, 180, 240, "pending"),
    ]  # fmt: skip
    job = lease.get(engine, job_id)
    assert job is not None and (job.status, job.parts, job.lease_expires_at, job.attempts) == (
        "processing",
        4,
        None,
        0,
    )
    # Not claimable whole while its parts render, and not swept as a lapsed job.
    assert lease.claim_next(engine, "other", 10, now=T0 + 1000) is None
    short = _job(engine, "short", seconds=2.5)  # 75 frames: about one 2 s part
    assert parts.split(engine, short, 2.0, now=T0) == 0
    assert parts.waiting_jobs(engine) == [short]


def test_a_stale_workers_late_writes_are_ignored(engine: Engine) -> None:
    job_id = _job(engine)
    parts.split(engine, job_id, 2.0, now=T0)
    stale = _claim(engine, "paused", lease_s=1.0, now=T0)
    # Its lease lapses (the worker paused or died); another worker reclaims that very part.
    others = [_claim(engine, f"w{i}", now=T0) for i in range(3)]
    fresh = _claim(engine, "fresh", now=T0 + 5)
    assert (fresh.part.idx, fresh.token, fresh.part.attempts) == (stale.part.idx, stale.token + 1, 2)
    assert {c.part.idx for c in others} == {0, 1, 2, 3} - {stale.part.idx}
    assert not parts.heartbeat(engine, stale, lease_s=10, frames_done=30, now=T0 + 6)
    assert parts.complete(engine, stale, "renders/parts/stale.mp4", lease_s=10, now=T0 + 6) == (False, None)
    assert not parts.retry_later(engine, stale, "render_crashed", "late", now=T0 + 6)
    assert not parts.fail(engine, stale, "bad_media", "late", now=T0 + 6)
    row = {p.idx: p for p in parts.list_parts(engine, job_id)}[stale.part.idx]
    assert (row.status, row.lease_owner, row.output_key, row.fencing_token) == (
        "processing",
        "fresh",
        None,
        fresh.token,
    )
    job = lease.get(engine, job_id)
    assert job is not None and job.status == "processing"


def test_the_last_part_done_takes_the_join_and_only_once(engine: Engine) -> None:
    job_id = _job(engine)
    parts.split(engine, job_id, 2.0, now=T0)
    claims = [_claim(engine, f"w{i}") for i in range(4)]
    for claim in claims[:3]:
        assert parts.complete(engine, claim, f"k{claim.part.idx}", lease_s=10, now=T0 + 1) == (True, None)
    done, join = parts.complete(engine, claims[3], "k3", lease_s=10, now=T0 + 2)
    assert done and join is not None
    assert (join.worker_id, join.token, join.job.phase, join.job.progress) == ("w3", 2, "mux", parts.JOINING)
    # A repeat of the completion (a duplicate message, a retried call) takes nothing.
    assert parts.complete(engine, claims[3], "k3", lease_s=10, now=T0 + 2) == (False, None)
    assert lease.claim_next(engine, "other", 10, now=T0 + 3) is None  # the joiner's lease is live
    outcome = lease.Outcome(output_key=f"renders/{job_id}.mp4", size=1, duration=8.0, width=64, height=64)
    assert lease.complete(engine, job_id, join.token, outcome, now=T0 + 4)
    job = lease.get(engine, job_id)
    assert job is not None and (job.status, job.progress) == ("completed", 100)


def test_racing_last_parts_hand_the_join_to_exactly_one_worker(engine: Engine) -> None:
    """Many jobs, each with its last two parts completed at once by two threads: every job gets
    exactly one join (the job row is locked before the parts are counted)."""
    jobs = [_job(engine, f"r{i}", seconds=4.0) for i in range(8)]  # 2 parts each
    for job_id in jobs:
        parts.split(engine, job_id, 2.0, now=T0)
    claims: dict[int, list[parts.PartClaim]] = {}
    while (claim := parts.claim_part(engine, f"w{len(claims)}", 10, now=T0)) is not None:
        claims.setdefault(claim.part.job_id, []).append(claim)
    assert sorted(claims) == sorted(jobs) and all(len(c) == 2 for c in claims.values())
    joins: list[int] = []
    lock = threading.Lock()

    def finish(claim: parts.PartClaim, start: threading.Barrier) -> None:
        start.wait()
        _, join = parts.complete(engine, claim, f"k{claim.part.idx}", lease_s=10, now=T0 + 1)
        if join is not None:
            with lock:
                joins.append(claim.part.job_id)

    for pair in claims.values():
        start = threading.Barrier(2)
        threads = [threading.Thread(target=finish, args=(c, start)) for c in pair]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(joins) == sorted(jobs)


def test_a_dead_joiner_leaves_the_join_to_the_next_claim(engine: Engine) -> None:
    job_id = _job(engine, seconds=4.0)
    parts.split(engine, job_id, 2.0, now=T0)
    first, second = _claim(engine, "a"), _claim(engine, "b")
    parts.complete(engine, first, "k0", lease_s=10, now=T0)
    _, join = parts.complete(engine, second, "k1", lease_s=1, now=T0)
    assert join is not None
    # The joiner died: its lease lapses and the job is claimable whole, by a sweep's message.
    again = lease.claim_next(engine, "c", 10, now=T0 + 5)
    assert again is not None and again.job.id == job_id and again.token == join.token + 1
    assert all(p.status == "completed" for p in parts.list_parts(engine, job_id))


def test_a_split_job_claimed_with_parts_left_goes_back_to_its_parts(engine: Engine) -> None:
    job_id = _job(engine, seconds=4.0)
    parts.split(engine, job_id, 2.0, now=T0)
    first, _second = _claim(engine, "a"), _claim(engine, "b", lease_s=1)
    parts.complete(engine, first, "k0", lease_s=10, now=T0)
    # A join claimed, then the job retried by its crash (pending with parts): parts are not all done
    # when a part was lost meanwhile. reopen puts it back without counting an attempt.
    lease.retry_later(engine, job_id, lease.get(engine, job_id).fencing_token, "x", "y")  # type: ignore[union-attr]
    claim = lease.claim_next(engine, "c", 10, now=T0 + 5)
    assert claim is not None
    assert parts.reopen(engine, claim) == 1
    job = lease.get(engine, job_id)
    assert job is not None and (job.status, job.lease_expires_at, job.attempts) == ("processing", None, 0)
    again = _claim(engine, "d", now=T0 + 5)  # the lapsed part
    assert (again.part.idx, again.part.attempts) == (1, 2)


def test_claims_go_round_robin_across_users_not_through_one_export(engine: Engine) -> None:
    long_job = _job(engine, "long", user="alice", seconds=16.0)  # 8 parts
    short_job = _job(engine, "short", user="bob", seconds=4.0)  # 2 parts
    third = _job(engine, "more", user="alice", seconds=4.0)  # alice's second render
    for job_id in (long_job, short_job, third):
        parts.split(engine, job_id, 2.0, now=T0)
    order = [(c.part.job_id, c.part.idx) for c in (_claim(engine, f"w{i}") for i in range(5))]
    # alice, bob, alice's other render (her least busy), bob, then alice again.
    assert order == [(long_job, 0), (short_job, 0), (third, 0), (short_job, 1), (long_job, 1)]


def test_progress_sums_the_parts_and_never_goes_back(engine: Engine) -> None:
    job_id = _job(engine)  # 4 parts of 60 frames
    parts.split(engine, job_id, 2.0, now=T0)
    a = _claim(engine, "a", lease_s=1)
    b = _claim(engine, "b")
    seen = []
    for claim, frames, t in ((a, 30, T0 + 0.5), (b, 60, T0 + 0.6)):
        assert parts.heartbeat(engine, claim, lease_s=1 if claim is a else 10, frames_done=frames, now=t)
        job = lease.get(engine, job_id)
        assert job is not None
        seen.append((job.progress, job.eta_seconds))
    assert seen[0][0] == parts.PARTS_FROM + (parts.PARTS_TO - parts.PARTS_FROM) * 30 // 240
    assert seen[1][0] == int(parts.PARTS_FROM + (parts.PARTS_TO - parts.PARTS_FROM) * 90 / 240)
    assert seen[1][1] is not None and seen[1][1] > 0
    # a's worker dies; its part starts again from frame 0: the job's progress stays where it was.
    again = _claim(engine, "c", now=T0 + 5)
    assert again.part.idx == a.part.idx
    assert parts.heartbeat(engine, again, lease_s=10, frames_done=5, now=T0 + 5.5)
    job = lease.get(engine, job_id)
    assert job is not None and job.progress == seen[1][0]


def test_cancelling_a_split_job_ends_it_and_its_parts_at_once(engine: Engine) -> None:
    job_id = _job(engine)
    parts.split(engine, job_id, 2.0, now=T0)
    running = _claim(engine, "a")
    job = lease.request_cancel(engine, job_id, now=T0 + 1)
    assert job is not None and job.status == "cancelled"
    assert {p.status for p in parts.list_parts(engine, job_id)} == {"cancelled"}
    assert not parts.heartbeat(engine, running, lease_s=10, frames_done=10, now=T0 + 2)
    assert parts.claim_part(engine, "b", 10, now=T0 + 2) is None


def test_a_part_that_keeps_crashing_fails_its_job_with_the_reason(engine: Engine) -> None:
    job_id = _job(engine)
    parts.split(engine, job_id, 2.0, now=T0)
    for attempt in range(parts.MAX_PART_CRASHES):
        claim = _claim(engine, f"w{attempt}")
        assert claim.part.idx == 0 if attempt == 0 else True
        pending_again = parts.retry_later(engine, claim, "render_crashed", "the part's process died (-9)")
        assert pending_again == (attempt < parts.MAX_PART_CRASHES - 1)
    job = lease.get(engine, job_id)
    assert job is not None and job.status == "failed" and job.error_code == "render_crashed"
    assert job.error_message is not None and "failed 3 times" in job.error_message
    assert parts.claim_part(engine, "w", 10, now=T0) is None


def test_a_part_that_cannot_render_fails_its_job_at_once(engine: Engine) -> None:
    job_id = _job(engine)
    parts.split(engine, job_id, 2.0, now=T0)
    claim = _claim(engine)
    assert parts.fail(engine, claim, "bad_media", "photo a.png is not an image", now=T0 + 1)
    job = lease.get(engine, job_id)
    assert job is not None and (job.status, job.error_code) == ("failed", "bad_media")
    assert {p.status for p in parts.list_parts(engine, job_id)} == {"failed"}


def test_the_queue_is_owed_a_message_per_claimable_part(engine: Engine) -> None:
    job_id = _job(engine)
    parts.split(engine, job_id, 2.0, now=T0)
    assert parts.claimable_count(engine, now=T0) == 4
    _claim(engine, "a", lease_s=1)
    _claim(engine, "b", lease_s=100)
    assert parts.claimable_count(engine, now=T0) == 2
    assert parts.claimable_count(engine, now=T0 + 5) == 3  # a's lease lapsed: it needs a message


def test_the_sweep_removes_part_files_of_ended_jobs_only(engine: Engine, tmp_path: Path) -> None:
    from render_jobs.worker import Worker

    running, cancelled = _job(engine, "running"), _job(engine, "cancelled")
    for job_id in (running, cancelled):
        parts.split(engine, job_id, 2.0, now=T0)
    lease.request_cancel(engine, cancelled, now=T0 + 1)  # while no worker held a part
    worker = Worker(engine, data_dir=tmp_path)
    for job_id in (running, cancelled, 999):  # 999: a job no longer in the table
        folder = worker.parts_folder(job_id)
        folder.mkdir(parents=True)
        (folder / "part-0000.mp4").write_bytes(b"x")
    assert worker.drop_ended_parts() == 2
    assert [p.name for p in (tmp_path / "renders" / "parts").iterdir()] == [str(running)]
