"""Past one machine: renders submitted through the API are done by separate worker processes.

Each test runs the API in this process (render.workers unset or 0: it renders nothing itself) and
real workers as subprocesses, as a GPU machine runs them: `python -m render_jobs --celery`
on a real broker on 127.0.0.1 (Redis, RabbitMQ), or the polling `python -m render_jobs`. The
database is PostgreSQL when NEMO_TEST_DATABASE_URL is set (the `all_dbs` tests), else the SQLite
file. A broker that does not answer skips its tests with the reason.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import kombu
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import Engine

from render_jobs import celery_app
from render_jobs.table import RenderJob
from server.config import RenderSettings, Settings
from tests.conftest import POSTGRES_ENV, bearer
from tests.ffprobe import ffprobe
from tests.server_process import operator_env, stop_process

REDIS_URL = "redis://127.0.0.1:6379/15"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"
DEADLINE_S = 180  # any one wait; a render here takes seconds
# Tests that stop a worker mid-render need a render long enough to be caught at it (a 20 s tiny
# draft took 2.3 s in all on CI, and one-second progress writes let a poller miss it) and progress
# written often.
MID_RENDER_S = 60
FAST_BEAT = ("--heartbeat-seconds", "0.2")


def tiny_draft(duration_ms: int = 1000, title: str = "Scale") -> dict[str, Any]:
    return {
        "d": duration_ms,
        "m": {"title": title, "width": 160, "height": 284, "fps": 30, "bg": "#204080"},
        "t": [
            {"id": "a1", "tt": 1, "sg": [{"id": "s2", "src": "builtin:lofi", "st": 0, "d": duration_ms,
                                          "m": {"loop": True}}]},
            {"id": "x1", "tt": 7, "sg": [{"id": "s3", "st": 0, "d": duration_ms, "m": {"text": title}}]},
        ],
    }  # fmt: skip


def broker_or_skip(url: str) -> str:
    """The URL when its broker answers; skip (saying which and why) when it does not."""
    try:
        with kombu.Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
    except Exception as exc:
        pytest.skip(f"broker {celery_app.describe(url)} not reachable ({type(exc).__name__}: {exc})")
    return url


def purge(url: str) -> None:
    """Empty the render queue; on Redis, the whole test database (unacked messages included)."""
    if url.startswith("redis://"):
        import redis

        with redis.Redis.from_url(url) as client:
            client.flushdb()
        return
    app = celery_app.make_celery(url)
    try:
        app.control.purge()
    finally:
        app.close()


def worker_database_url(engine: Engine) -> str:
    """The URL a worker process uses to reach the app's database (its PostgreSQL schema included)."""
    if engine.dialect.name == "sqlite":
        return engine.url.render_as_string(hide_password=False)
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    base = os.environ[POSTGRES_ENV]
    return f"{base}{'&' if '?' in base else '?'}options={quote(f'-csearch_path={schema}')}"


class WorkerProcess:
    """`python -m render_jobs ...` in a subprocess, its output in a log file."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "render_jobs", *args], cwd=log.parent, env=operator_env(),
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, needle: str, count: int = 1) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while self.output().count(needle) < count:
            assert self.proc.poll() is None, (
                f"worker exited ({self.proc.returncode}):\n{self.output()[-3000:]}"
            )
            assert time.monotonic() < deadline, f"no {needle!r} in the worker log:\n{self.output()[-3000:]}"
            time.sleep(0.1)

    def stop(self) -> None:
        stop_process(self.proc)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)


class Deployment:
    """The API (no embedded rendering) plus worker processes on the same database and data dir."""

    def __init__(self, client: httpx.Client, token: str, session_id: str, settings: Settings,
                 engine: Engine, app: FastAPI, tmp_path: Path) -> None:  # fmt: skip
        self.client, self.token, self.session_id = client, token, session_id
        self.settings, self.engine, self.app, self.tmp_path = settings, engine, app, tmp_path
        self.workers: list[WorkerProcess] = []

    def start_worker(self, *extra: str, broker: str | None = None) -> WorkerProcess:
        args = ["--database-url", worker_database_url(self.engine), "--data-dir", str(self.settings.data_dir),
                "--device", "cpu", "--grace-seconds", "0", *extra]  # fmt: skip
        if broker is not None:
            args += ["--celery", "--broker-url", broker]
        worker = WorkerProcess(args, self.tmp_path / f"worker{len(self.workers)}.log")
        self.workers.append(worker)
        if broker is not None:
            worker.wait_for(" ready.")  # Celery consumes from now on
        return worker

    def submit(self, render_id: str, draft: dict[str, Any] | None = None) -> dict[str, Any]:
        body = {"id": render_id, "sessionId": self.session_id, "draft": draft or tiny_draft(),
                "output": {"format": "mp4", "quality": "low"}}  # fmt: skip
        answer = self.client.post("/api/render/proxy/lambda", json=body, headers=bearer(self.token))
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def status(self, render_id: str) -> dict[str, Any]:
        answer = self.client.get(f"/api/render/proxy/lambda/{render_id}", headers=bearer(self.token))
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def wait(self, render_id: str, until: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
        done = until or (lambda s: s["status"] in ("completed", "failed", "cancelled"))
        deadline = time.monotonic() + DEADLINE_S
        while True:
            status = self.status(render_id)
            if done(status):
                return status
            logs = "\n".join(w.output()[-2000:] for w in self.workers)
            assert time.monotonic() < deadline, f"render {render_id} stuck at {status}\n{logs}"
            time.sleep(0.1)

    def download_and_probe(self, status: dict[str, Any], seconds: float) -> None:
        """What the user gets: an H.264/AAC MP4 of the draft's size and length (checked by ffprobe)."""
        assert status["status"] == "completed", status
        download = httpx.get(status["outputUrl"], headers=bearer(self.token), timeout=60)
        assert download.status_code == 200 and download.headers["content-type"] == "video/mp4"
        out = self.tmp_path / f"{status['id']}.mp4"
        out.write_bytes(download.content)
        probe = ffprobe(out)
        kinds = {s["codec_type"]: s for s in probe["streams"]}
        assert kinds["video"]["codec_name"] == "h264" and kinds["audio"]["codec_name"] == "aac"
        assert (kinds["video"]["width"], kinds["video"]["height"]) == (160, 284)
        assert abs(float(probe["format"]["duration"]) - seconds) < 0.15

    def job(self, render_id: str) -> RenderJob:
        found = [j for j in self._all_jobs() if j.render_id == render_id]
        assert len(found) == 1
        return found[0]

    def _all_jobs(self) -> list[RenderJob]:
        from sqlmodel import Session, select

        with Session(self.engine) as db:
            return list(db.exec(select(RenderJob)).all())

    def generated_renders(self) -> list[dict[str, Any]]:
        state = self.client.get(
            f"/api/state/nemo_agent/me/{self.session_id}/latest", headers=bearer(self.token)
        )
        return [g for g in state.json()["data"]["state"]["generated_media"] if g["type"] == "render"]


@pytest.fixture
def deploy(
    tmp_path: Path,
    engine: Engine,
    make_settings: Callable[..., Settings],
    make_app: Callable[..., FastAPI],
    make_client: Callable[[FastAPI], httpx.Client],
    anon_token: Callable[..., str],
    new_session: Callable[..., str],
) -> Iterator[Callable[..., Deployment]]:
    made: list[Deployment] = []

    def build(**render: Any) -> Deployment:
        settings = make_settings(render=RenderSettings.model_validate({"device": "cpu", **render}))
        app = make_app(settings, start_workers=True)
        client = make_client(app)
        token = anon_token(client)
        made.append(Deployment(client, token, new_session(client, token), settings, engine, app, tmp_path))
        return made[-1]

    yield build
    for deployment in made:
        for worker in deployment.workers:
            worker.stop()


@pytest.fixture
def redis_url() -> Iterator[str]:
    url = broker_or_skip(REDIS_URL)
    purge(url)
    yield url
    purge(url)


@pytest.fixture
def amqp_url() -> Iterator[str]:
    url = broker_or_skip(AMQP_URL)
    purge(url)
    yield url
    purge(url)


def _celery_render(deployment: Deployment, broker: str) -> None:
    assert deployment.app.state.ctx.renders.workers == []  # a broker, and workers not set: none here
    worker = deployment.start_worker(broker=broker)
    deployment.submit("celery_1")
    final = deployment.wait("celery_1")
    deployment.download_and_probe(final, 1.0)
    worker.wait_for("succeeded")
    assert "'completed'" in worker.output()  # the Celery task rendered it, not some other worker
    assert len(deployment.generated_renders()) == 1


@pytest.mark.all_dbs
def test_celery_worker_on_redis_renders_a_job_submitted_through_the_api(
    deploy: Callable[..., Deployment], redis_url: str
) -> None:
    _celery_render(deploy(celery_broker_url=redis_url), redis_url)


def test_celery_worker_on_rabbitmq_renders_a_job_submitted_through_the_api(
    deploy: Callable[..., Deployment], amqp_url: str
) -> None:
    _celery_render(deploy(celery_broker_url=amqp_url), amqp_url)


def test_a_duplicate_delivery_renders_once(deploy: Callable[..., Deployment], redis_url: str) -> None:
    """Two workers, the same task delivered twice (as a broker redelivery would): one render, one no-op."""
    deployment = deploy(celery_broker_url=redis_url)
    first = deployment.start_worker(broker=redis_url)
    second = deployment.start_worker(broker=redis_url)
    deployment.submit("dup_1")
    job = deployment.job("dup_1")
    assert job.id is not None
    assert deployment.app.state.ctx.renders.hand_off(job.id)  # the duplicate message
    final = deployment.wait("dup_1")
    deployment.download_and_probe(final, 1.0)
    deadline = time.monotonic() + DEADLINE_S
    while first.output().count("succeeded") + second.output().count("succeeded") < 2:
        assert time.monotonic() < deadline, first.output()[-2000:] + second.output()[-2000:]
        time.sleep(0.1)
    logs = first.output() + second.output()
    assert logs.count("'completed'") == 1 and logs.count("'skipped: ") == 1, logs[-4000:]
    job = deployment.job("dup_1")
    assert (job.attempts, job.fencing_token) == (1, 1)  # claimed exactly once
    outputs = sorted(p.name for p in (deployment.settings.data_dir / "renders").iterdir())
    assert outputs == [f"{job.id}.mp4"]
    assert len(deployment.generated_renders()) == 1


def test_a_job_whose_message_was_lost_is_swept_and_rendered(
    deploy: Callable[..., Deployment], redis_url: str
) -> None:
    """The broker is down at submit: the API still answers (the row is queued), and once a Celery
    worker runs, its sweep finds the pending job with no message and sends it again."""
    down = deploy(celery_broker_url="redis://127.0.0.1:9/15")  # nothing listens on port 9
    queued = down.submit("lost_1")
    assert queued["status"] == "pending"
    assert down.status("lost_1")["status"] == "pending"  # no embedded worker renders it
    worker = down.start_worker("--sweep-seconds", "1", broker=redis_url)
    final = down.wait("lost_1")
    down.download_and_probe(final, 1.0)
    assert "re-sent 1 job(s)" in worker.output()


def test_a_killed_celery_worker_s_job_is_finished_by_another(
    deploy: Callable[..., Deployment], redis_url: str
) -> None:
    """kill -9 mid-render: the lease lapses, the job is delivered again (acks_late, or the sweep),
    and a second worker renders it from the start into one whole file."""
    seconds = MID_RENDER_S
    deployment = deploy(celery_broker_url=redis_url, lease_seconds=2)
    first = deployment.start_worker(
        "--lease-seconds", "2", "--sweep-seconds", "0", *FAST_BEAT, broker=redis_url
    )  # fmt: skip
    deployment.submit("killed_1", tiny_draft(seconds * 1000))
    deployment.wait("killed_1", until=lambda s: s["status"] == "processing" and s["progress"] > 0)
    first.kill9()
    second = deployment.start_worker("--lease-seconds", "2", "--sweep-seconds", "1", broker=redis_url)
    final = deployment.wait("killed_1")
    deployment.download_and_probe(final, float(seconds))
    job = deployment.job("killed_1")
    # The killed worker's run counts as a lost lease, not as an attempt of the render's own.
    assert (job.attempts, job.lost_leases, job.fencing_token) == (1, 1, 2)
    assert "'completed'" in second.output()
    leftovers = [p.name for p in (deployment.settings.data_dir / "renders").iterdir() if ".part" in p.name]
    assert leftovers == []


@pytest.mark.all_dbs
def test_a_standalone_polling_worker_renders_a_job_submitted_through_the_api(
    deploy: Callable[..., Deployment],
) -> None:
    deployment = deploy(workers=0, poll_seconds=0.05)
    assert deployment.app.state.ctx.renders.workers == []
    deployment.submit("poll_1")
    assert deployment.status("poll_1")["status"] == "pending"
    deployment.start_worker("--poll-seconds", "0.1")
    final = deployment.wait("poll_1")
    deployment.download_and_probe(final, 1.0)
    assert len(deployment.generated_renders()) == 1  # announced by the API when it saw the result


def test_sigterm_mid_render_hands_the_job_to_another_worker(
    deploy: Callable[..., Deployment], redis_url: str
) -> None:
    """A worker told to stop (scale-in, deploy) gives its running job back at once and sends it
    again; another worker renders it. Nothing waits for a lease to lapse."""
    seconds = MID_RENDER_S
    deployment = deploy(celery_broker_url=redis_url)
    workers = [
        deployment.start_worker("--sweep-seconds", "0", *FAST_BEAT, broker=redis_url) for _ in range(2)
    ]
    deployment.submit("term_1", tiny_draft(seconds * 1000))
    deployment.wait("term_1", until=lambda s: s["status"] == "processing" and s["progress"] > 0)
    busy = next(w for w in workers if "attempt 1 token 1" in w.output())
    other = next(w for w in workers if w is not busy)
    busy.stop()
    assert busy.proc.returncode == 0
    assert "'pending'" in busy.output()  # released and sent again
    final = deployment.wait("term_1")
    deployment.download_and_probe(final, float(seconds))
    assert "'completed'" in other.output()
    job = deployment.job("term_1")
    assert job.fencing_token == 2 and job.attempts == 1  # a release does not use up an attempt


def test_two_users_renders_split_across_three_celery_workers_through_the_api(
    deploy: Callable[..., Deployment],
    redis_url: str,
    anon_token: Callable[..., str],
    new_session: Callable[..., str],
) -> None:
    """Workers with --part-seconds split each render into parts any of them renders (issue 16);
    two users submit at once through the API, and each polls its status: the progress it sees never
    goes backwards, both renders finish as whole files, each announced once in its session."""
    deployment = deploy(celery_broker_url=redis_url)
    for _ in range(3):
        deployment.start_worker("--part-seconds", "2", *FAST_BEAT, broker=redis_url)
    other_token = anon_token(deployment.client)
    d = deployment
    other = Deployment(d.client, other_token, new_session(d.client, other_token), d.settings, d.engine,
                       d.app, d.tmp_path)  # fmt: skip
    other.workers = deployment.workers
    deployment.submit("split_a", tiny_draft(8000, "Alice"))
    other.submit("split_b", tiny_draft(6000, "Bob"))
    seen: dict[str, list[int]] = {"split_a": [], "split_b": []}
    deadline = time.monotonic() + DEADLINE_S
    finals: dict[str, dict[str, Any]] = {}
    while len(finals) < 2:
        for who, render_id in ((deployment, "split_a"), (other, "split_b")):
            if render_id in finals:
                continue
            status = who.status(render_id)
            seen[render_id].append(int(status["progress"]))
            if status["status"] in ("completed", "failed", "cancelled"):
                finals[render_id] = status
        assert time.monotonic() < deadline, f"stuck: {seen}"
        time.sleep(0.05)
    for render_id, progress in seen.items():
        assert progress == sorted(progress), f"{render_id}: progress went backwards: {progress}"
    deployment.download_and_probe(finals["split_a"], 8.0)
    other.download_and_probe(finals["split_b"], 6.0)
    assert (deployment.job("split_a").parts, deployment.job("split_b").parts) == (4, 3)
    assert len(deployment.generated_renders()) == 1 and len(other.generated_renders()) == 1
    logs = "".join(w.output() for w in deployment.workers)
    assert logs.count("every part is done; joining") == 2
