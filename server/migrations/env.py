"""Alembic's environment: the server's tables and the job table, on a connection handed over by
server/migrate.py (start-up, `python -m server.migrate`) or, for the `alembic` command, on the engine
of `-x url=...`, `sqlalchemy.url`, or the server's settings (NEMO_DATABASE_URL / NEMO_DATA_DIR)."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from database.engine import make_engine
from render_jobs import table as _jobs_table  # noqa: F401  (registers render_jobs on the metadata)
from server import tables as _server_tables  # noqa: F401  (registers the server's tables)

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=True,  # SQLite alters a table by copying it; batch mode does that
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from server.config import Settings

    return Settings().effective_database_url


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run them against the database")
connection = config.attributes.get("connection")
if connection is None and config.config_file_name:  # the `alembic` command: log as alembic.ini says
    fileConfig(config.config_file_name, disable_existing_loggers=False)
if connection is not None:
    _run(connection)
else:
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()
