"""The server's schema on its engine (database/engine.py builds the engine itself)."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import SQLModel


def init_db(engine: Engine) -> None:
    # Import for the side effect of registering every table on SQLModel.metadata.
    from render_jobs import table  # noqa: F401
    from server import tables  # noqa: F401

    SQLModel.metadata.create_all(engine)
