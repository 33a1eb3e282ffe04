"""The Celery task and sweep over the job row: duplicates are no-ops, lost work is sent again once.

In-process, on a real SQLite file and (for the queue tests) the real Redis on 127.0.0.1; the
end-to-end runs with worker processes are in tests/server/test_scale_out.py.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kombu
import pytest
from celery import Celery
from sqlalchemy.engine import Engine

from render_jobs import celery_app, lease
from render_jobs.worker import Worker
from renderer.schema.output import RenderResult

REDIS_URL = "redis://127.0.0.1:6379/15"


def crashing_render(*_: Any, **__: Any) -> RenderResult:
    os._exit(1)  # a render process that dies (a segfault in FFmpeg or CUDA)


@pytest.fixture
def redis_app() -> Iterator[Celery]:
    try:
        with kombu.Connection(REDIS_URL, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
    except Exception as exc:
        pytest.skip(f"Redis at {REDIS_URL} not reachable ({type(exc).__name__}: {exc})")
    app = celery_app.make_celery(REDIS_URL)
    app.control.purge()
    yield app
    app.control.purge()
    app.close()


def _job(engine: Engine, render_id: str = "r1", *, age_s: float = 0.0, max_attempts: int = 3) -> int:
    job = lease.create(
        engine, render_id=render_id, user_id="u1", session_id="s1",
        draft={"d": 1000, "m": {"width": 64, "height": 64}, "t": []}, sources={}, output={},
        max_attempts=max_attempts, now=time.time() - age_s,
    )  # fmt: skip
    assert job.id is not None
    return job.id


def _runner(
    engine: Engine, tmp_path: Path, app: Celery | None = None, target: str = "crashing_render"
) -> Any:
    worker = Worker(engine, data_dir=tmp_path, render=globals()[target], lease_seconds=5)
    return celery_app.CeleryRunner(worker, app)


def test_a_job_another_worker_holds_is_left_alone(engine: Engine, tmp_path: Path) -> None:
    job_id = _job(engine)
    held = lease.claim_next(engine, "other-machine", 30.0, job_id=job_id)
    assert held is not None
    assert _runner(engine, tmp_path)(job_id) == "skipped: processing"
    job = lease.get(engine, job_id)
    assert job is not None and (job.lease_owner, job.fencing_token, job.attempts) == ("other-machine", 1, 1)


def test_a_cancelled_or_unknown_job_is_not_run(engine: Engine, tmp_path: Path) -> None:
    job_id = _job(engine)
    lease.request_cancel(engine, job_id)
    runner = _runner(engine, tmp_path)
    assert runner(job_id) == "skipped: cancelled"
    assert runner(job_id + 100) == "skipped: missing"


def test_a_crashed_attempt_is_sent_again_until_attempts_run_out(
    engine: Engine, tmp_path: Path, redis_app: Celery
) -> None:
    job_id = _job(engine, max_attempts=2)
    runner = _runner(engine, tmp_path, redis_app)
    assert runner(job_id) == "pending"  # the child died: counted, back in the queue
    assert celery_app.queue_depth(redis_app) == 1
    assert runner(job_id) == "pending"
    assert celery_app.queue_depth(redis_app) == 2
    assert runner(job_id) == "skipped: failed"  # out of attempts: failed, nothing sent
    assert celery_app.queue_depth(redis_app) == 2
    job = lease.get(engine, job_id)
    assert job is not None and job.status == "failed"
    assert job.error_message is not None and job.error_message.startswith("gave up after 2 attempts")


def test_stale_jobs_are_those_whose_message_is_lost(engine: Engine) -> None:
    old = _job(engine, "old", age_s=120)
    _job(engine, "young", age_s=1)
    lapsed = _job(engine, "lapsed", age_s=120)
    live = _job(engine, "live", age_s=120)
    done = _job(engine, "done", age_s=120)
    assert lease.claim_next(engine, "dead-worker", 0.5, now=time.time() - 10, job_id=lapsed) is not None
    assert lease.claim_next(engine, "busy-worker", 600.0, job_id=live) is not None
    lease.request_cancel(engine, done)
    assert celery_app.stale_job_ids(engine, older_than_s=60, queue_empty=True) == [old, lapsed]
    # A backlog on the broker: pending jobs are still queued there, only the orphan is re-sent.
    assert celery_app.stale_job_ids(engine, older_than_s=60, queue_empty=False) == [lapsed]


def test_the_sweep_resends_a_lost_job_once_not_every_round(engine: Engine, redis_app: Celery) -> None:
    job_id = _job(engine, age_s=120)
    assert celery_app.sweep_once(redis_app, engine, older_than_s=60) == [job_id]
    assert celery_app.queue_depth(redis_app) == 1
    # Its message now waits in the queue: the next round adds nothing.
    assert celery_app.sweep_once(redis_app, engine, older_than_s=60) == []
    assert celery_app.queue_depth(redis_app) == 1


def test_the_servers_producer_app_never_runs_a_render(redis_app: Celery) -> None:
    result = redis_app.tasks[celery_app.TASK_NAME].apply(args=[1])
    assert result.failed()
    assert isinstance(result.result, RuntimeError) and "render_jobs --celery" in str(result.result)
