"""The server's schema on its engine (database/engine.py builds the engine itself)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from server.migrate import init_schema


def init_db(engine: Engine) -> None:
    """Every table the app and its workers use, at the newest migration (server/migrate.py)."""
    init_schema(engine)
