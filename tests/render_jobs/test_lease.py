"""The job row's lifecycle: claim with lease and fencing token, heartbeat, complete, retry, cancel.

Real SQLite (and PostgreSQL when NEMO_TEST_DATABASE_URL is set); `now` is passed explicitly so lease
expiry is a value, not a wait.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from database.engine import drop_schema, make_engine
from render_jobs import lease
from render_jobs.table import RenderJob, create_table

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
    schema = f"t_jobs_{uuid.uuid4().hex[:12]}"
    eng = make_engine(url, schema=schema)
    create_table(eng)
    yield eng
    drop_schema(eng, schema)
    eng.dispose()


def _new(engine: Engine, render_id: str = "render_1", user: str = "anon_a", **kw: object) -> RenderJob:
    return lease.create(
        engine,
        render_id=render_id,
        user_id=user,
        session_id="1234567890123456789",
        draft={"d": 1000, "t": []},
        sources={},
        output={"format": "mp4"},
        now=T0,
        **kw,  # type: ignore[arg-type]
    )


def test_render_id_is_unique_per_user(engine: Engine) -> None:
    _new(engine)
    with pytest.raises(lease.DuplicateRenderId):
        _new(engine)
    other = _new(engine, user="anon_b")
    assert other.status == "pending" and other.phase == "queued"
    assert lease.find(engine, "anon_b", "render_1") is not None
    assert lease.find(engine, "anon_c", "render_1") is None


def test_claim_sets_lease_and_bumps_token_once(engine: Engine) -> None:
    job = _new(engine)
    claim = lease.claim_next(engine, "w1", 10, now=T0)
    assert claim is not None and claim.job.id == job.id
    assert claim.token == 1
    assert claim.job.status == "processing"
    assert claim.job.lease_owner == "w1"
    assert claim.job.lease_expires_at == T0 + 10
    assert claim.job.attempts == 1
    # While the lease holds, nobody else gets it.
    assert lease.claim_next(engine, "w2", 10, now=T0 + 5) is None


def test_expired_lease_is_reclaimed_and_the_stale_worker_is_fenced_off(engine: Engine) -> None:
    _new(engine)
    first = lease.claim_next(engine, "w1", 2, now=T0)
    assert first is not None
    second = lease.claim_next(engine, "w2", 2, now=T0 + 3)
    assert second is not None and second.token > first.token
    # The first holder vanished (its lease lapsed): not a run of its own failing (see claim_next).
    assert (second.job.attempts, second.job.lost_leases) == (1, 1)

    outcome = lease.Outcome(output_key="renders/1.mp4", size=10, duration=1.0, width=16, height=16)
    assert not lease.heartbeat(engine, first.job.id or 0, first.token, lease_s=2, progress=90)
    assert not lease.complete(engine, first.job.id or 0, first.token, outcome)
    assert not lease.fail(engine, first.job.id or 0, first.token, "x", "stale")
    assert lease.complete(engine, second.job.id or 0, second.token, outcome)
    done = lease.get(engine, second.job.id or 0)
    assert done is not None
    assert (done.status, done.progress, done.output_key) == ("completed", 100, "renders/1.mp4")
    # Completed exactly once: a second completion by anyone is refused.
    assert not lease.complete(engine, second.job.id or 0, second.token, outcome)


def test_progress_only_grows_and_stays_below_100_until_complete(engine: Engine) -> None:
    _new(engine)
    claim = lease.claim_next(engine, "w1", 10, now=T0)
    assert claim is not None
    job_id = claim.job.id or 0
    seen = []
    for p in (10, 50, 30, 100):
        assert lease.heartbeat(
            engine, job_id, claim.token, lease_s=10, phase="encode", progress=p, now=T0 + 1
        )
        row = lease.get(engine, job_id)
        assert row is not None
        seen.append(row.progress)
    assert seen == [10, 50, 50, 99]
    row = lease.get(engine, job_id)
    assert row is not None and row.phase == "encode" and row.lease_expires_at == T0 + 11


def test_crashing_job_stops_after_max_attempts_with_a_message(engine: Engine) -> None:
    job = _new(engine, max_attempts=2)
    for attempt in (1, 2):
        claim = lease.claim_next(engine, "w1", 10, now=T0)
        assert claim is not None and claim.job.attempts == attempt
        assert lease.retry_later(
            engine, job.id or 0, claim.token, "render_crashed", "the render process died"
        )
    assert lease.claim_next(engine, "w1", 10, now=T0) is None
    row = lease.get(engine, job.id or 0)
    assert row is not None and row.status == "failed"
    assert row.error_message == "gave up after 2 attempts; last: the render process died"
    assert row.completed_at is not None


def test_job_whose_worker_keeps_dying_fails_instead_of_looping(engine: Engine) -> None:
    job = lease.create(
        engine, render_id="doomed", user_id="anon_a", session_id="1", draft={"d": 1000, "t": []},
        sources={}, output={}, max_attempts=2, max_lost_leases=3, now=T0,
    )  # fmt: skip
    now = T0
    for _ in range(4):  # each worker claims and then vanishes: only the lease lapses
        assert lease.claim_next(engine, "doomed", 1, now=now) is not None
        now += 2
    assert lease.claim_next(engine, "w", 1, now=now) is None
    row = lease.get(engine, job.id or 0)
    assert row is not None and (row.status, row.error_code) == ("failed", "workers_lost")
    assert "stopped 4 times" in (row.error_message or "")
    assert (row.attempts, row.lost_leases) == (0, 4)  # none of its 2 attempts went on vanished runs


def test_release_gives_the_job_back_without_spending_an_attempt(engine: Engine) -> None:
    job = _new(engine, max_attempts=1)
    claim = lease.claim_next(engine, "w1", 30, now=T0)
    assert claim is not None
    assert lease.release(engine, job.id or 0, claim.token)
    row = lease.get(engine, job.id or 0)
    assert row is not None and (row.status, row.attempts, row.lease_owner) == ("pending", 0, None)
    again = lease.claim_next(engine, "w2", 30, now=T0 + 0.1)  # at once, no lease to wait out
    assert again is not None and again.token == claim.token + 1


def test_cancel_pending_and_processing(engine: Engine) -> None:
    pending = _new(engine, "a")
    row = lease.request_cancel(engine, pending.id or 0)
    assert row is not None and row.status == "cancelled"
    assert lease.claim_next(engine, "w", 10, now=T0) is None

    running = _new(engine, "b")
    claim = lease.claim_next(engine, "w", 10, now=T0)
    assert claim is not None
    row = lease.request_cancel(engine, running.id or 0)
    assert row is not None and row.status == "processing" and row.cancel_requested
    assert lease.cancel_requested(engine, running.id or 0)
    assert lease.mark_cancelled(engine, running.id or 0, claim.token)
    row = lease.get(engine, running.id or 0)
    assert row is not None and row.status == "cancelled" and row.error_code == "cancelled"


def test_cancel_requested_then_worker_died_ends_cancelled(engine: Engine) -> None:
    job = _new(engine)
    assert lease.claim_next(engine, "w", 1, now=T0) is not None
    lease.request_cancel(engine, job.id or 0)
    assert lease.claim_next(engine, "w2", 1, now=T0 + 5) is None
    row = lease.get(engine, job.id or 0)
    assert row is not None and row.status == "cancelled"


def test_racing_workers_claim_each_job_exactly_once(engine: Engine) -> None:
    ids = {(_new(engine, f"r{i}").id or 0) for i in range(12)}
    claimed: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def worker(name: str) -> None:
        start.wait()
        while (claim := lease.claim_next(engine, name, 60, now=T0)) is not None:
            with lock:
                claimed.append(claim.job.id or 0)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)


def test_announced_is_true_once_and_only_for_completed_jobs(engine: Engine) -> None:
    job = _new(engine)
    assert not lease.mark_announced(engine, job.id or 0)
    claim = lease.claim_next(engine, "w", 10, now=T0)
    assert claim is not None
    outcome = lease.Outcome(output_key="renders/x.mp4", size=1, duration=1.0, width=2, height=2)
    assert lease.complete(engine, job.id or 0, claim.token, outcome)
    assert lease.mark_announced(engine, job.id or 0)
    assert not lease.mark_announced(engine, job.id or 0)
