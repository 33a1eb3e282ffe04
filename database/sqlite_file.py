"""Refusing an SQLite file that exists but cannot be trusted (empty or corrupt), before anything
opens it: the server and the standalone render worker both check here, so neither starts on a file
SQLite would silently treat as new, or one that fails later mid-request."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import Engine


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


def check_engine_file(engine: Engine) -> None:
    """check_sqlite_file on the engine's file, when it is an SQLite file (not PostgreSQL, not memory)."""
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        check_sqlite_file(Path(str(engine.url.database)))
