"""One engine per app or worker: a SQLite file (WAL) by default, PostgreSQL when the URL says so.

The server and the standalone render worker both build their engine here, so both get the same
setup (this package imports no server, agent or renderer module).

SQLite: every transaction starts with BEGIN IMMEDIATE, so read-modify-write sequences (credit holds,
draft versions) take the write lock up front instead of failing to upgrade a read lock under load.
Transactions here are short, so serialising writers costs little. PostgreSQL: an optional schema
(`search_path`) lets tests give every app its own namespace in one database.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
READ_ONLY_OPTION = "nemo_read_only"


def make_engine(url: str, *, schema: str | None = None) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
            dbapi_conn.isolation_level = None  # let SQLAlchemy's BEGIN below be the only one
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Read sessions (read_session) start a deferred transaction: in WAL mode it never blocks
            # a writer, so a request may read through DbDep and then write through a module's
            # transaction() without waiting on its own read lock.
            read_only = conn.get_execution_options().get(READ_ONLY_OPTION)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine

    connect_args: dict[str, Any] = {}
    if schema is not None:
        if not _SCHEMA_NAME.match(schema):
            raise ValueError(f"bad schema name {schema!r}")
        connect_args["options"] = f"-csearch_path={schema}"
    engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args=connect_args)
    if schema is not None:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    return engine


def drop_schema(engine: Engine, schema: str) -> None:
    """Tests on PostgreSQL: remove the namespace an app used."""
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session whose work commits at the end of the block, or rolls back on error."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


def read_session(engine: Engine) -> Session:
    """A session for reads (DbDep, the token check). Writes belong in transaction()."""
    return Session(engine.execution_options(**{READ_ONLY_OPTION: True}), expire_on_commit=False)
