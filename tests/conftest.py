"""Fixtures every test module may use: settings, a database, an app, a real HTTP client.

- `settings`: a Settings built from arguments only (no NEMO_ environment, no .env), with a
  temporary data dir. `make_settings(**overrides)` builds variants.
- `db_url`: "sqlite" by default; tests marked `@pytest.mark.all_dbs` run on SQLite and on
  PostgreSQL (the latter only when NEMO_TEST_DATABASE_URL is set; each app then gets its own schema,
  dropped at teardown). Keep the marker to tests where the database matters.
- `engine`: the engine of that database, tables created.
- `make_app(settings=None, planner=None, start_workers=False)` and `app`: create_app on `engine`.
- `make_client(app)` and `client`: uvicorn serving the app on 127.0.0.1 (a free port, in a thread)
  and an httpx.Client with that base_url: requests go over real HTTP.
- `anon_token(client, client_id=None) -> str` and `new_session(client, token, **body) -> str`
  (the session id): the two setup calls every client makes (also importable as `get_anon_token`
  and `create_session`, for clients of a server this conftest did not start).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from database.engine import drop_schema, make_engine
from server.app import create_app
from server.config import RenderSettings, Settings
from server.db import init_db
from server.testing import LiveServer

POSTGRES_ENV = "NEMO_TEST_DATABASE_URL"
REQUIRE_CUDA_ENV = "NEMO_REQUIRE_CUDA"  # "1" on a GPU machine: a CUDA test that cannot run fails


def cuda_unusable() -> str | None:
    """Why CUDA can't run here (None when it can): torch missing, no GPU, or a GPU that fails a
    one-element allocation (a driver/toolkit mismatch reports is_available() and then fails)."""
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if not torch.cuda.is_available():
        return f"torch {torch.__version__} sees no CUDA GPU (CPU build: {torch.version.cuda is None})"
    try:
        torch.zeros(1, device="cuda").add_(1).item()
    except RuntimeError as exc:
        return f"CUDA is present but unusable ({exc})"
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked `cuda` skip where CUDA is unusable, or fail when NEMO_REQUIRE_CUDA=1 (a GPU CI
    job must not pass by skipping everything it exists to run)."""
    if item.get_closest_marker("cuda") is None:
        return
    reason = cuda_unusable()
    if reason is None:
        return
    if os.environ.get(REQUIRE_CUDA_ENV) == "1":
        pytest.fail(f"{REQUIRE_CUDA_ENV}=1 but {reason}: install torch's CUDA build (README, GPU install)")
    pytest.skip(f"no usable CUDA: {reason}")


class ArgumentSettings(Settings):
    """Settings from constructor arguments only: the developer's NEMO_ variables never leak in."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **_sources):  # type: ignore[no-untyped-def,override]
        return (init_settings,)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "all_dbs: run on SQLite and on PostgreSQL (when NEMO_TEST_DATABASE_URL is set)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_url" in metafunc.fixturenames and metafunc.definition.get_closest_marker("all_dbs"):
        metafunc.parametrize("db_url", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "secret_key": "test-secret-key",
            "render": RenderSettings(workers=1, device="cpu", poll_seconds=0.05),
            # Tests poll renders fast; the per-token limit is tested where a test sets it.
            "rate_limit_per_token": None,
        }
        values.update(overrides)
        return ArgumentSettings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def db_url(request: pytest.FixtureRequest) -> str:
    """ "sqlite" (the data dir's file) or "postgres" (NEMO_TEST_DATABASE_URL)."""
    backend = getattr(request, "param", "sqlite")
    if backend == "postgres" and not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"{POSTGRES_ENV} not set")
    return str(backend)


@pytest.fixture
def engine(db_url: str, settings: Settings) -> Iterator[Engine]:
    if db_url == "sqlite":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        eng = make_engine(settings.effective_database_url)
        init_db(eng)
        yield eng
        eng.dispose()
        return
    schema = f"t_{uuid.uuid4().hex[:16]}"
    eng = make_engine(os.environ[POSTGRES_ENV], schema=schema)
    init_db(eng)
    yield eng
    drop_schema(eng, schema)
    eng.dispose()


@pytest.fixture
def make_app(settings: Settings, engine: Engine) -> Callable[..., FastAPI]:
    def make(
        app_settings: Settings | None = None, *, planner: Any = None, start_workers: bool = False
    ) -> FastAPI:
        return create_app(
            app_settings or settings, planner=planner, engine=engine, start_workers=start_workers
        )

    return make


@pytest.fixture
def app(make_app: Callable[..., FastAPI]) -> FastAPI:
    return make_app()


@pytest.fixture
def make_client() -> Iterator[Callable[[FastAPI], httpx.Client]]:
    opened: list[tuple[LiveServer, httpx.Client]] = []

    def make(app: FastAPI) -> httpx.Client:
        server = LiveServer(app)
        server.start()
        client = httpx.Client(base_url=server.base_url, timeout=60)
        opened.append((server, client))
        return client

    yield make
    for server, client in reversed(opened):
        client.close()
        server.stop()


@pytest.fixture
def client(app: FastAPI, make_client: Callable[[FastAPI], httpx.Client]) -> httpx.Client:
    return make_client(app)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def get_anon_token(client: httpx.Client, client_id: str | None = None) -> str:
    """An anonymous token for `client_id` (a fresh one when None)."""
    answer = client.post("/api/auth/anonymous-token", headers={"X-Client-Id": client_id or uuid.uuid4().hex})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["data"]["token"])


def create_session(client: httpx.Client, token: str, **body: Any) -> str:
    """A new task with its session (`body` is the create call's body); returns the session id."""
    answer = client.post("/api/tasks/me/with-session/nemo_agent", headers=bearer(token), json=body)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["data"]["session_id"])


@pytest.fixture
def anon_token() -> Callable[..., str]:
    return get_anon_token


@pytest.fixture
def new_session() -> Callable[..., str]:
    return create_session
