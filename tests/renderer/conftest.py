"""Fixtures for the renderer's job and worker tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from server.db import init_db, make_engine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A job table in a fresh SQLite file (test_jobs.py also runs its tests on PostgreSQL)."""
    eng = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    init_db(eng)
    yield eng
    eng.dispose()
