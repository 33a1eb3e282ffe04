"""Schema migrations (Alembic, server/migrations/): run by create_app at start-up, or by hand.

    python -m server.migrate                      # the settings' database (NEMO_DATABASE_URL / data dir)
    python -m server.migrate --database-url URL   # another one
    alembic upgrade head                          # the same, with alembic.ini at the repository root

A new, empty database gets the models' tables and is marked as the newest revision (a test checks
that the revisions build exactly that schema). Any other database is upgraded: one made by release
0.1.0 (before migrations, no alembic_version table) starts at the baseline revision 0001, which
creates only missing tables and so keeps every row.
"""

from __future__ import annotations

import argparse
import logging
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")

log = logging.getLogger("nemo.migrate")


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def head_revisions() -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(_config()).get_heads())


def current_revisions(engine: Engine) -> frozenset[str]:
    with engine.connect() as conn:
        return frozenset(MigrationContext.configure(conn).get_current_heads())


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to `revision`; a no-op (one read) when it is there already."""
    if revision == "head" and current_revisions(engine) == head_revisions():
        return
    with engine.connect() as conn:
        command.upgrade(_config(conn), revision)
        conn.commit()


def stamp(engine: Engine, revision: str = "head") -> None:
    with engine.connect() as conn:
        command.stamp(_config(conn), revision)
        conn.commit()


def init_schema(engine: Engine) -> None:
    """Start-up: a new database gets the models' tables at the newest revision; others are upgraded."""
    # Import for the side effect of registering every table on SQLModel.metadata.
    from render_jobs import table  # noqa: F401
    from server import tables  # noqa: F401

    if not inspect(engine).get_table_names():
        SQLModel.metadata.create_all(engine)
        stamp(engine)
        return
    before = current_revisions(engine)
    upgrade(engine)
    after = current_revisions(engine)
    if before != after:
        log.info("database upgraded from %s to %s", sorted(before) or "release 0.1.0", sorted(after))


def main(argv: list[str] | None = None) -> None:
    from database.engine import make_engine
    from server.config import Settings

    parser = argparse.ArgumentParser(
        prog="python -m server.migrate", description="upgrade the database schema"
    )
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: from the settings, as the server)")
    parser.add_argument("--revision", default="head", help="the revision to upgrade to (default: head)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.database_url:
        url = args.database_url
    else:
        settings = Settings()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.effective_database_url
    engine = make_engine(url)
    try:
        if args.revision == "head":
            init_schema(engine)
        else:
            upgrade(engine, args.revision)
        log.info("database at %s", sorted(current_revisions(engine)))
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
