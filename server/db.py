"""The server's schema on its engine (database/engine.py builds the engine itself)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from database.sqlite_file import DatabaseFileError, check_engine_file, check_sqlite_file
from server.migrate import init_schema

__all__ = ["DatabaseFileError", "check_sqlite_file", "init_db"]


def init_db(engine: Engine) -> None:
    """Every table the app and its workers use, at the newest migration (server/migrate.py), on a
    database file that is not empty or corrupt (database/sqlite_file.py)."""
    check_engine_file(engine)
    init_schema(engine)
