"""Fixtures for the job table, lease and worker tests: the job table alone, no server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from database.engine import make_engine
from render_jobs.table import create_table


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A job table in a fresh SQLite file (test_jobs.py also runs its tests on PostgreSQL)."""
    eng = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    create_table(eng)
    yield eng
    eng.dispose()
