"""Schema migrations: a database made by release 0.1.0 (before migrations) upgrades at start-up and by
command with every row kept, and the revisions build exactly the schema the models declare (so a new
column without a migration fails here, not on a user's database)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, select
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from database.engine import drop_schema, make_engine
from render_jobs import lease
from server import migrate
from server.app import create_app
from server.config import Settings
from server.session_store import get_state

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "db"
RELEASE_TABLES = {
    "users", "tokens", "sessions", "state_versions", "session_events", "credit_holds", "media",
    "claim_tokens", "client_id_uses", "turn_leases", "render_jobs",
}  # fmt: skip


def _rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (alembic's own excepted), in primary-key order."""
    meta = MetaData()
    meta.reflect(engine)
    rows = {}
    with engine.connect() as conn:
        for name, table in meta.tables.items():
            if name != "alembic_version":
                order = list(table.primary_key.columns) or list(table.columns)
                rows[name] = [tuple(r) for r in conn.execute(select(table).order_by(*order))]
    return rows


def _check_release_data(engine: Engine, before: dict[str, list[tuple[Any, ...]]]) -> None:
    assert set(before) == RELEASE_TABLES and all(before.values()), "the fixture has rows in every table"
    after = _rows(engine)
    # Revisions after the release append columns with defaults (0002: render_jobs.lost_leases 0,
    # max_lost_leases 10; 0003: render_jobs.parts 0, and the empty render_parts table); every value
    # the release wrote is kept as it was.
    assert {name: [row[: len(old[0])] for row in after[name]] if old else after[name]
            for name, old in before.items()} == before  # fmt: skip
    assert all(row[len(before["render_jobs"][0]) :] == (0, 10, 0) for row in after["render_jobs"])
    assert after["render_parts"] == []
    assert migrate.current_revisions(engine) == migrate.head_revisions()
    # What its user sees: the session's latest draft, and the finished render.
    with engine.connect() as conn:
        session_id, user_id = conn.exec_driver_sql("SELECT id, user_id FROM sessions").one()
    state, version = get_state(engine, session_id)
    assert version > 0 and state.draft is not None and state.draft.t
    job = lease.find(engine, user_id, "release_render_1")
    assert job is not None and job.status == "completed" and job.output_key == "renders/1.mp4"


@pytest.fixture
def release_sqlite(tmp_path: Path) -> Path:
    copy = tmp_path / "data" / "nemo.db"
    copy.parent.mkdir()
    shutil.copyfile(FIXTURES / "release-0.1.0.sqlite", copy)
    return copy


def test_a_release_0_1_0_sqlite_database_upgrades_at_start_up_and_keeps_every_row(
    release_sqlite: Path, make_settings: Callable[..., Settings]
) -> None:
    url = f"sqlite:///{release_sqlite}"
    engine = make_engine(url)
    before = _rows(engine)
    assert migrate.current_revisions(engine) == frozenset()  # 0.1.0 had no migrations
    create_app(make_settings(data_dir=release_sqlite.parent), engine=engine, start_workers=False)
    _check_release_data(engine, before)
    engine.dispose()


def test_the_migrate_command_upgrades_a_release_0_1_0_database(release_sqlite: Path) -> None:
    url = f"sqlite:///{release_sqlite}"
    engine = make_engine(url)
    before = _rows(engine)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEMO_")}
    done = subprocess.run(
        [sys.executable, "-m", "server.migrate", "--database-url", url],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    _check_release_data(engine, before)
    # Run again: already at the newest revision, nothing changes.
    alembic = [sys.executable, "-m", "alembic", "-c", str(ROOT / "alembic.ini"), "-x", f"url={url}"]
    again = subprocess.run(
        [*alembic, "upgrade", "head"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    _check_release_data(engine, before)
    engine.dispose()


@pytest.fixture
def postgres_schema() -> Iterator[tuple[str, str]]:
    url = os.environ.get("NEMO_TEST_DATABASE_URL")
    if not url:
        pytest.skip("NEMO_TEST_DATABASE_URL not set")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    yield url, schema
    engine = make_engine(url)
    drop_schema(engine, schema)
    engine.dispose()


def test_a_release_0_1_0_postgres_database_upgrades_and_keeps_every_row(
    postgres_schema: tuple[str, str], make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    url, schema = postgres_schema
    dump = (FIXTURES / "release-0.1.0.postgres.sql").read_text().replace("release_0_1_0", schema)
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(dump)  # type: ignore[call-overload]
    engine = make_engine(url, schema=schema)
    before = _rows(engine)
    create_app(make_settings(database_url=url), engine=engine, start_workers=False)
    _check_release_data(engine, before)
    engine.dispose()


@pytest.mark.all_dbs
def test_the_revisions_build_exactly_the_models_schema(db_url: str, tmp_path: Path) -> None:
    """From an empty database through every revision (not the create_all short cut new databases
    take): no table, column, type, index or constraint differs from the models."""
    from render_jobs import table  # noqa: F401
    from server import tables  # noqa: F401

    if db_url == "sqlite":
        engine, schema = make_engine(f"sqlite:///{tmp_path / 'empty.db'}"), None
    else:
        schema = f"t_{uuid.uuid4().hex[:16]}"
        engine = make_engine(os.environ["NEMO_TEST_DATABASE_URL"], schema=schema)
    try:
        migrate.upgrade(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        assert diff == [], "the models changed without a migration (server/migrations/versions)"
    finally:
        if schema is not None:
            drop_schema(engine, schema)
        engine.dispose()
