"""One engine per app: a SQLite file (WAL) by default, PostgreSQL when the URL says so.

SQLite: every transaction starts with BEGIN IMMEDIATE, so read-modify-write sequences (credit holds,
draft versions) take the write lock up front instead of failing to upgrade a read lock under load.
Transactions here are short, so serialising writers costs little. PostgreSQL: an optional schema
(`search_path`) lets tests give every app its own namespace in one database.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine

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


class DatabaseFileError(RuntimeError):
    """The SQLite file is there but cannot be trusted: the server refuses to start (one clear line)."""


SQLITE_HEADER = b"SQLite format 3\x00"


def check_sqlite_file(path: Path) -> None:
    """Refuse a database file that exists but is empty or corrupt, before anything opens it.

    SQLite would treat a zero-byte file as a new, empty database and the server would start with
    every user, token and credit gone and healthz "ok"; a corrupt one fails later, mid-request or
    in a traceback. A missing file is a first start and fine. quick_check reads every page once
    (about a second per GB), the price of never serving from a damaged file.
    """
    if not path.exists():
        return
    where = f"the database file {path}"
    what_to_do = "restore it from a backup, or move it away to start with an empty database"
    size = path.stat().st_size
    if size == 0:
        raise DatabaseFileError(f"{where} is empty (0 bytes); {what_to_do}")
    with open(path, "rb") as fh:
        header = fh.read(len(SQLITE_HEADER))
    if header != SQLITE_HEADER:
        raise DatabaseFileError(f"{where} is not an SQLite database; {what_to_do}")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise DatabaseFileError(f"{where} is corrupt ({' '.join(str(exc).split())}); {what_to_do}") from None
    if problems != ["ok"]:
        found = " ".join(" ".join(problems).split())[:300]  # quick_check's lines, on one line
        raise DatabaseFileError(f"{where} is corrupt ({found}); {what_to_do}")


def init_db(engine: Engine) -> None:
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        check_sqlite_file(Path(str(engine.url.database)))
    # Import for the side effect of registering every table on SQLModel.metadata.
    from renderer import jobs  # noqa: F401
    from server import tables  # noqa: F401

    SQLModel.metadata.create_all(engine)


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
