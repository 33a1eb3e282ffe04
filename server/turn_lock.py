"""One chat turn per session across every API process: a lease row per session, with a fencing token.

The same pattern as render jobs (render_jobs/lease.py): the row is the source of truth, taken with one
atomic statement that bumps a fencing token and sets an expiry, renewed while the turn runs,
released at its end, and taken over once it has expired, so a process that died mid-turn locks its
sessions for at most one lease period. Writes the turn makes to the session check the token in
their own transaction (`Lease.fence`), so a holder that lost its lease (paused, partitioned,
presumed dead) can never write over the turn that took the session from it.

Why a lease row rather than PostgreSQL advisory locks plus SQLite file locks: one mechanism and
one code path on both databases; no database connection pinned for the whole turn (a turn can run
15 minutes and the pool has 30 connections, while 100 streams may run); and the fencing token,
which a lock released by a dropped connection cannot give. The price is that a crashed holder
blocks its session until the lease expires, and that a waiter in another process polls.

Times are float epoch seconds from each process's clock, as for render jobs: the lease must be
longer than the clock skew between API hosts.

`TurnLocks` keeps an asyncio lock per session in front of the row: waiters in the same process
queue there without any database round-trip, and only the one at the head polls the row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from server.tables import TurnLease

log = logging.getLogger("nemo.turns")


class LeaseLost(Exception):
    """Another process took this session's turn over: the writes of this turn are refused."""


@dataclass(frozen=True)
class Lease:
    """A session's turn this process now holds: every write of the turn presents `token`."""

    session_id: str
    holder: str
    token: int

    def fence(self, db: Session) -> None:
        """Inside the caller's write transaction: raise LeaseLost unless this lease is still current.

        FOR SHARE (PostgreSQL) keeps a takeover waiting until the transaction ends, so the write
        commits under the lease it checked; on SQLite, BEGIN IMMEDIATE already serialises writers.
        """
        row = db.exec(
            select(TurnLease.holder, TurnLease.token)
            .where(TurnLease.session_id == self.session_id)
            .with_for_update(read=True)
        ).first()
        if row is None or tuple(row) != (self.holder, self.token):
            raise LeaseLost(f"the turn lease on session {self.session_id} was taken over")


def _now(now: float | None) -> float:
    return time.time() if now is None else now


def _insert(engine: Engine) -> Any:
    # INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING has the same SQL on both databases,
    # but SQLAlchemy builds it from each dialect's own insert().
    if engine.dialect.name == "postgresql":
        return postgresql.insert
    if engine.dialect.name == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"turn leases need SQLite or PostgreSQL, not {engine.dialect.name}")


def take(
    engine: Engine, session_id: str, holder: str, lease_s: float, now: float | None = None
) -> Lease | None:
    """The session's lease when it is free (never taken, released, or expired), else None.

    One statement: insert the row, or update it only where it has expired, bumping the token. On
    PostgreSQL a racing insert waits for the winner and then sees its unexpired lease; on SQLite
    the statement runs under BEGIN IMMEDIATE. Either way at most one caller gets a row back.
    """
    t = _now(now)
    table = TurnLease.__table__  # type: ignore[attr-defined]
    insert = _insert(engine)(table).values(
        session_id=session_id, holder=holder, token=1, expires_at=t + lease_s
    )
    stmt = insert.on_conflict_do_update(
        index_elements=[table.c.session_id],
        set_={
            "holder": insert.excluded.holder,
            "token": table.c.token + 1,
            "expires_at": insert.excluded.expires_at,
        },
        where=table.c.expires_at < t,
    ).returning(table.c.token)
    with engine.begin() as conn:
        token = conn.execute(stmt).scalar_one_or_none()
    return None if token is None else Lease(session_id=session_id, holder=holder, token=int(token))


def _conditional(engine: Engine, lease: Lease, values: dict[str, Any]) -> bool:
    """One UPDATE of the lease row guarded by holder and token; True if this lease was still current."""
    stmt = (
        update(TurnLease)
        .where(
            TurnLease.session_id == lease.session_id,  # type: ignore[arg-type]
            TurnLease.holder == lease.holder,  # type: ignore[arg-type]
            TurnLease.token == lease.token,  # type: ignore[arg-type]
        )
        .values(**values)
    )
    with engine.begin() as conn:
        return conn.execute(stmt).rowcount == 1


def renew(engine: Engine, lease: Lease, lease_s: float, now: float | None = None) -> bool:
    """Push the expiry on. False: released or taken over (the holder test also keeps a renewal that
    lands after the release from locking the session again)."""
    return _conditional(engine, lease, {"expires_at": _now(now) + lease_s})


def release(engine: Engine, lease: Lease) -> bool:
    """Free the session at once; the token stays, so the next holder's is higher."""
    return _conditional(engine, lease, {"holder": None, "expires_at": 0.0})


def default_holder() -> str:
    """Names the process in the row (host, pid, a random part: two apps in one process differ)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class TurnLocks:
    """The turn leases of one app: acquire waits up to `wait_seconds`, then gives None (the caller
    answers 429); a held lease is renewed every third of `lease_seconds` until released."""

    def __init__(
        self,
        engine: Engine,
        wait_seconds: float,
        *,
        lease_seconds: float = 15.0,
        holder: str | None = None,
        poll_seconds: tuple[float, float] = (0.02, 0.25),
    ) -> None:
        self.engine = engine
        self.wait_seconds = wait_seconds
        self.lease_seconds = lease_seconds
        self.holder = holder or default_holder()
        # Polls of a lease held elsewhere start fast (most turns are short) and back off to the cap.
        self.poll_seconds = poll_seconds
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}
        self._renewals: dict[str, asyncio.Task[None]] = {}

    async def acquire(self, session_id: str) -> Lease | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_seconds
        if not await self._acquire_local(session_id):
            return None
        try:
            lease = await self._take(session_id, deadline)
        except BaseException:
            self._release_local(session_id)
            raise
        if lease is None:
            self._release_local(session_id)
            return None
        self._renewals[session_id] = asyncio.create_task(self._renew(lease), name=f"turn lease {session_id}")
        return lease

    async def release(self, lease: Lease) -> None:
        """Give the session back. A database error here is logged, not raised: the lease then
        expires on its own, and the turn's outcome stands."""
        renewal = self._renewals.pop(lease.session_id, None)
        if renewal is not None:
            renewal.cancel()
        try:
            await asyncio.to_thread(release, self.engine, lease)
        except Exception:
            log.exception("could not release the turn lease on session %s", lease.session_id)
        finally:
            self._release_local(lease.session_id)

    def held_here(self, session_id: str) -> bool:
        """A turn of this app holds or is taking the session (tests, diagnostics)."""
        lock = self._locks.get(session_id)
        return lock is not None and lock.locked()

    async def _acquire_local(self, session_id: str) -> bool:
        # asyncio locks have no owner, so the request takes it and the turn task releases it.
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        self._users[session_id] = self._users.get(session_id, 0) + 1
        try:
            if self.wait_seconds > 0:
                await asyncio.wait_for(lock.acquire(), self.wait_seconds)
            elif lock.locked():  # no waiting at all (wait_for(..., 0) would refuse even a free lock)
                raise TimeoutError
            else:
                await lock.acquire()
        except TimeoutError:
            self._forget(session_id)
            return False
        except BaseException:  # the request was cancelled while it waited
            self._forget(session_id)
            raise
        return True

    def _release_local(self, session_id: str) -> None:
        self._locks[session_id].release()
        self._forget(session_id)

    def _forget(self, session_id: str) -> None:
        # Entries go when no one holds or waits, so the maps do not grow with every session seen.
        self._users[session_id] -= 1
        if self._users[session_id] == 0:
            del self._users[session_id]
            del self._locks[session_id]

    async def _take(self, session_id: str, deadline: float) -> Lease | None:
        loop = asyncio.get_running_loop()
        pause, cap = self.poll_seconds
        while True:
            lease = await self._take_once(session_id)
            if lease is not None:
                return lease
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            await asyncio.sleep(min(pause, remaining))
            pause = min(pause * 2, cap)

    async def _take_once(self, session_id: str) -> Lease | None:
        attempt = asyncio.ensure_future(
            asyncio.to_thread(take, self.engine, session_id, self.holder, self.lease_seconds)
        )
        try:
            return await asyncio.shield(attempt)
        except asyncio.CancelledError:
            # The request went away while the statement ran in its thread: give back what it took,
            # rather than leave the session locked until the lease expires.
            with contextlib.suppress(Exception):
                lease = await attempt
                if lease is not None:
                    await asyncio.to_thread(release, self.engine, lease)
            raise

    async def _renew(self, lease: Lease) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                kept = await asyncio.to_thread(renew, self.engine, lease, self.lease_seconds)
            except Exception:  # the database blinked: the next renewal may still come in time
                log.warning("could not renew the turn lease on session %s", lease.session_id, exc_info=True)
                continue
            if not kept:
                log.warning(
                    "the turn lease on session %s was taken over; this turn's writes will be refused",
                    lease.session_id,
                )
                return
