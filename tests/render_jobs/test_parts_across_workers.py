"""One render split across Celery workers (issue 16, "Across machines"): three worker processes
(`python -m render_jobs --celery --part-seconds ...`) on a real broker (Redis and RabbitMQ), the
job and part rows in a real database (PostgreSQL when NEMO_TEST_DATABASE_URL is set, else a SQLite
file), the real renderer. `kill -9` of a worker mid-part costs that part only; the file matches an
unchunked render frame for frame; two users' renders submitted together share the workers.

Each test uses its own broker queue, so runs (or other checkouts) sharing the broker never take
each other's messages. Renders are small (160x284, lossless crf 0): the machine may have 2 cores.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image
from sqlalchemy.engine import Engine

from database.engine import drop_schema, make_engine
from render_jobs import celery_app, lease, parts
from render_jobs.child import resolve_sources
from render_jobs.table import RenderJob, RenderPart, create_table
from renderer.render import render
from renderer.schema.draft import Draft
from renderer.schema.output import OutputSpec
from tests.conftest import POSTGRES_ENV
from tests.renderer.render_check import needs_ffprobe
from tests.server.test_scale_out import WorkerProcess, broker_or_skip, worker_database_url

pytestmark = needs_ffprobe

BROKERS = {"redis": "redis://127.0.0.1:6379/14", "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//"}
FPS = 30
# 120 frames (two keyframe intervals): long enough that a part is caught rendering, not starting
PART_SECONDS = 4.0
LOSSLESS = {"crf": 0, "preset": "ultrafast"}
DEADLINE_S = 300  # any one wait (a hang guard: renders here take seconds)


@pytest.fixture(params=sorted(BROKERS))
def broker(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(broker URL, a queue of this test's own), the queue deleted afterwards."""
    url = broker_or_skip(BROKERS[str(request.param)])
    queue = f"nemo.test.{uuid.uuid4().hex[:10]}"
    yield url, queue
    app = celery_app.make_celery(url, queue=queue)
    try:
        with app.connection_for_write() as conn:
            app.amqp.queues[queue](conn.default_channel).delete()
    except Exception:  # Redis drops an empty list by itself
        pass
    finally:
        app.close()


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Engine]:
    if os.environ.get(POSTGRES_ENV):
        schema = f"t_{uuid.uuid4().hex[:16]}"
        engine = make_engine(os.environ[POSTGRES_ENV], schema=schema)
        create_table(engine)
        yield engine
        drop_schema(engine, schema)
    else:
        engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
        create_table(engine)
        yield engine
    engine.dispose()


def _photo(path: Path, seed: int) -> Path:
    """Detail everywhere, so a misplaced frame or pixel shows."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (40, 24, 3), dtype=np.uint8).repeat(12, axis=0).repeat(12, axis=1)
    Image.fromarray(pixels).save(path)
    return path


def moving_draft(seconds: int) -> dict[str, Any]:
    """Photos in motion with crossfades and a title crossing the part boundaries, over music."""
    ms = seconds * 1000
    fade = {"type": "crossfade", "d": 500}
    return {
        "d": ms,
        "m": {"width": 160, "height": 284, "fps": FPS, "bg": "#000000"},
        "t": [
            {"id": "v", "tt": 0, "sg": [
                {"id": "a", "src": "a", "st": 0, "d": ms // 2 + 300, "m": {"motion": "zoom_in"}},
                {"id": "b", "src": "b", "st": ms // 2, "d": ms - ms // 2,
                 "m": {"motion": "pan_up", "tr": fade}},
            ]},
            {"id": "x", "tt": 7, "sg": [{"id": "t", "st": 1000, "d": ms - 2000, "m": {"text": "Parts"}}]},
            {"id": "m", "tt": 1, "sg": [
                {"id": "m", "src": "builtin:lofi", "st": 0, "d": ms, "m": {"loop": True}},
            ]},
        ],
    }  # fmt: skip


class Cluster:
    """Three (or more) `python -m render_jobs --celery` processes on one database, data dir, queue."""

    def __init__(self, engine: Engine, tmp_path: Path, broker: tuple[str, str]) -> None:
        self.engine, self.tmp_path = engine, tmp_path
        self.url, self.queue = broker
        self.data_dir = tmp_path / "data"
        self.data_dir.mkdir(exist_ok=True)
        self.sources = {
            "a": str(_photo(self.data_dir / "a.png", 1)),
            "b": str(_photo(self.data_dir / "b.png", 2)),
            "builtin:lofi": "builtin:lofi",
        }
        self.workers: list[WorkerProcess] = []
        self.producer = celery_app.make_celery(self.url, queue=self.queue)

    def start(self, count: int) -> None:
        for _ in range(count):
            args = ["--database-url", worker_database_url(self.engine), "--data-dir", str(self.data_dir),
                    "--device", "cpu", "--grace-seconds", "0", "--celery", "--broker-url", self.url,
                    "--queue", self.queue, "--part-seconds", str(PART_SECONDS), "--lease-seconds", "3",
                    "--heartbeat-seconds", "0.2", "--sweep-seconds", "1"]  # fmt: skip
            self.workers.append(WorkerProcess(args, self.tmp_path / f"worker{len(self.workers)}.log"))
        for worker in self.workers:
            worker.wait_for(" ready.")

    def submit(self, user: str, render_id: str, draft: dict[str, Any]) -> int:
        job = lease.create(self.engine, render_id=render_id, user_id=user, session_id="s" + user,
                           draft=draft, sources=self.sources, output=LOSSLESS)  # fmt: skip
        assert job.id is not None
        celery_app.enqueue(self.producer, job.id)
        return job.id

    def logs(self) -> str:
        return "\n".join(f"--- {w.log.name}\n{w.output()[-4000:]}" for w in self.workers)

    def wait(self, job_ids: list[int], progress: dict[int, list[int]]) -> list[RenderJob]:
        """Poll the rows until every job ends, recording each job's progress as seen."""
        deadline = time.monotonic() + DEADLINE_S
        while True:
            jobs = [lease.get(self.engine, i) for i in job_ids]
            for job in jobs:
                assert job is not None and job.id is not None
                progress.setdefault(job.id, []).append(job.progress)
            if all(j is not None and j.terminal for j in jobs):
                return [j for j in jobs if j is not None]
            assert time.monotonic() < deadline, f"renders stuck: {jobs}\n{self.logs()}"
            time.sleep(0.05)

    def reference(self, draft: dict[str, Any], out: Path) -> Path:
        """The same draft rendered whole in this process: what every split render must equal."""
        sources = resolve_sources(self.sources, self.data_dir)
        render(Draft.model_validate(draft), sources, out, OutputSpec(**LOSSLESS), device="cpu", parts=1)
        return out

    def close(self) -> None:
        for worker in self.workers:
            if worker.proc.poll() is None:
                worker.stop()
        self.producer.close()


@pytest.fixture
def cluster(database: Engine, tmp_path: Path, broker: tuple[str, str]) -> Iterator[Cluster]:
    c = Cluster(database, tmp_path, broker)
    yield c
    c.close()


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="yuv420p") for f in container.decode(video=0)]


def _owner_pid(part: RenderPart) -> int | None:
    """The pid in a worker id (host:pid:nonce)."""
    if not part.lease_owner:
        return None
    return int(part.lease_owner.split(":")[-2])


def _assert_never_backwards(progress: dict[int, list[int]]) -> None:
    for job_id, seen in progress.items():
        assert seen == sorted(seen), f"job {job_id}'s progress went backwards: {seen}"
        assert seen[-1] == 100


def _wait_gone(folder: Path) -> None:
    """The joiner removes the parts' folder just after it marks the job completed (the parts stay
    until the output is safe), so a poller may see the job done a moment before the folder goes."""
    deadline = time.monotonic() + 60  # a hang guard, not a speed check
    while folder.exists():
        assert time.monotonic() < deadline, f"{folder} was never removed: {sorted(folder.iterdir())}"
        time.sleep(0.05)


def test_a_worker_killed_mid_part_costs_that_part_only(cluster: Cluster, tmp_path: Path) -> None:
    draft = moving_draft(16)  # 480 frames: 4 parts of 120
    cluster.start(3)
    job_id = cluster.submit("u1", "killed", draft)
    by_pid = {w.proc.pid: w for w in cluster.workers}
    progress: dict[int, list[int]] = {}
    deadline = time.monotonic() + DEADLINE_S
    victim: tuple[int, int, WorkerProcess] | None = None
    while victim is None:
        for part in parts.list_parts(cluster.engine, job_id):
            pid = _owner_pid(part)
            if part.status == "processing" and part.frames_done > 0 and pid in by_pid:
                victim = (part.idx, part.fencing_token, by_pid[pid])
                victim[2].kill9()
                break
        job = lease.get(cluster.engine, job_id)
        assert job is not None and job.id is not None
        progress.setdefault(job.id, []).append(job.progress)
        assert time.monotonic() < deadline and not job.terminal, (
            f"no part caught mid-render\n{cluster.logs()}"
        )
        time.sleep(0.02)
    killed_idx, killed_token, _ = victim
    after = {p.idx: p for p in parts.list_parts(cluster.engine, job_id)}[killed_idx]
    assert (after.status, after.fencing_token) == ("processing", killed_token), "the kill came after the part"

    (job,) = cluster.wait([job_id], progress)
    assert job.status == "completed", (job.error_code, job.error_message, cluster.logs())
    _assert_never_backwards(progress)
    rows = parts.list_parts(cluster.engine, job_id)
    assert [(p.idx, p.status) for p in rows] == [(i, "completed") for i in range(4)]
    # Exactly the killed part was rendered twice; every other part once.
    assert {p.idx: p.attempts for p in rows} == {i: 2 if i == killed_idx else 1 for i in range(4)}
    # One join, by one worker: the job was completed once, its parts' files removed after.
    joins = sum(w.output().count("every part is done; joining") for w in cluster.workers)
    assert joins == 1, cluster.logs()
    assert job.output_key == f"renders/{job_id}.mp4" and job.parts == 4
    _wait_gone(cluster.data_dir / "renders" / "parts" / str(job_id))

    whole = _frames(cluster.reference(draft, tmp_path / "whole.mp4"))
    split = _frames(cluster.data_dir / job.output_key)
    assert len(split) == len(whole) == 480
    for index, (x, y) in enumerate(zip(whole, split, strict=True)):
        assert np.array_equal(x, y), f"frame {index} differs from the unchunked render"
    with av.open(str(cluster.data_dir / job.output_key)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"


def test_two_users_renders_share_the_workers_and_both_finish(cluster: Cluster, tmp_path: Path) -> None:
    """A long export (4 parts) and a short one (2 parts) submitted together, 3 workers: the short one
    starts before the long one's last part does (its parts interleave), both finish, and the
    progress each user polls never goes backwards."""
    cluster.start(3)
    long_id = cluster.submit("alice", "long", moving_draft(16))
    short_id = cluster.submit("bob", "short", moving_draft(8))
    progress: dict[int, list[int]] = {}
    jobs = cluster.wait([long_id, short_id], progress)
    assert [j.status for j in jobs] == ["completed", "completed"], cluster.logs()
    _assert_never_backwards(progress)
    long_parts, short_parts = (
        parts.list_parts(cluster.engine, long_id),
        parts.list_parts(cluster.engine, short_id),
    )
    assert (len(long_parts), len(short_parts)) == (4, 2)
    assert all(p.attempts == 1 for p in long_parts + short_parts)
    started = {job: sorted(float(p.started_at or 0) for p in rows) for job, rows in
               ((long_id, long_parts), (short_id, short_parts))}  # fmt: skip
    # Bob's first part started while Alice's export still had parts waiting (fair, not FIFO).
    assert started[short_id][0] < started[long_id][-1], started
    for job, frames in ((jobs[0], 480), (jobs[1], 240)):
        assert job.output_key is not None
        assert len(_frames(cluster.data_dir / job.output_key)) == frames


def test_cancelling_a_split_render_stops_its_parts_and_leaves_no_files(cluster: Cluster) -> None:
    cluster.start(3)
    job_id = cluster.submit("u1", "cancelled", moving_draft(16))
    deadline = time.monotonic() + DEADLINE_S
    while not any(
        p.status == "processing" and p.frames_done > 0 for p in parts.list_parts(cluster.engine, job_id)
    ):
        assert time.monotonic() < deadline, f"no part started\n{cluster.logs()}"
        time.sleep(0.02)
    job = lease.request_cancel(cluster.engine, job_id)
    assert job is not None and job.status == "cancelled"
    # Every worker that held a part finds it gone at its next heartbeat and stops; nothing is
    # joined, and the parts' files are removed.
    folder = cluster.data_dir / "renders" / "parts" / str(job_id)
    while folder.exists():
        assert time.monotonic() < deadline, f"parts folder left: {list(folder.iterdir())}\n{cluster.logs()}"
        time.sleep(0.1)
    # Parts done before the cancel stay done; every other one is cancelled, none completes after.
    statuses = [p.status for p in parts.list_parts(cluster.engine, job_id)]
    assert "cancelled" in statuses and set(statuses) <= {"cancelled", "completed"}, statuses
    assert "joining" not in "".join(w.output() for w in cluster.workers)
    assert not (cluster.data_dir / "renders" / f"{job_id}.mp4").exists()
    job = lease.get(cluster.engine, job_id)
    assert job is not None and job.status == "cancelled"
