"""Credits: held (`frozen`) while a turn runs, then settled (spent) or refunded, exactly once.

Correctness rests on two conditional UPDATEs, never on read-then-write in Python:
- hold: `available -= n, frozen += n WHERE available >= n` on the user row. Under any concurrency
  the balance cannot go negative: the database evaluates the condition on the row it locks.
- settle/refund: the hold row flips `status` `WHERE status = 'held'`; only the caller whose UPDATE
  touched the row moves the user's numbers, so a hold is closed once even if two paths race.
`total == available + frozen` holds after every committed transaction.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlmodel import col

from database.engine import read_session, transaction
from server.errors import ApiError, ErrorCode
from server.tables import CreditHold, TurnLease, User, utcnow

HoldStatus = Literal["held", "settled", "refunded"]
HELD: HoldStatus = "held"
SETTLED: HoldStatus = "settled"
REFUNDED: HoldStatus = "refunded"


class Balance(BaseModel):
    available: int
    frozen: int
    total: int


def hold(
    engine: Engine, user_id: str, amount: int, session_id: str | None, *, bind_url: str | None = None
) -> str:
    """Freeze `amount` credits for one turn and return the hold id, or raise 2001.

    Anonymous users get `data.bind_url` (where to register or top up) with the 2001.
    """
    if amount < 0:
        raise ValueError(f"hold amount must be >= 0, got {amount}")
    hold_id = "hold_" + secrets.token_hex(12)
    with transaction(engine) as db:
        moved = db.connection().execute(
            update(User)
            .where(User.id == user_id, User.credits_available >= amount)  # type: ignore[arg-type]
            .values(
                credits_available=User.credits_available - amount,
                credits_frozen=User.credits_frozen + amount,
            )
        )
        if moved.rowcount == 1:
            db.add(CreditHold(id=hold_id, user_id=user_id, session_id=session_id, amount=amount, status=HELD))
            return hold_id
        user = db.get(User, user_id)
    data: dict[str, object] = {"required": amount, "available": user.credits_available if user else 0}
    if user is not None and user.anonymous and bind_url:
        data["bind_url"] = bind_url
    raise ApiError(
        ErrorCode.INSUFFICIENT_CREDITS,
        f"not enough credits: this turn needs {amount}, {data['available']} available",
        data=data,
    )


def _close(engine: Engine, hold_id: str, status: HoldStatus) -> bool:
    back_to_available = 1 if status == REFUNDED else 0
    with transaction(engine) as db:
        conn = db.connection()
        flipped = conn.execute(
            update(CreditHold)
            .where(CreditHold.id == hold_id, CreditHold.status == HELD)  # type: ignore[arg-type]
            .values(status=status, closed_at=utcnow())
        )
        if flipped.rowcount != 1:
            return False  # already settled or refunded (or unknown): nothing moves twice
        row = conn.execute(
            select(col(CreditHold.user_id), col(CreditHold.amount)).where(CreditHold.id == hold_id)  # type: ignore[arg-type]
        ).one()
        conn.execute(
            update(User)
            .where(User.id == row.user_id)
            .values(
                credits_frozen=User.credits_frozen - row.amount,
                credits_available=User.credits_available + row.amount * back_to_available,
            )
        )
        return True


def settle(engine: Engine, hold_id: str) -> bool:
    """Spend a hold. True when this call closed it; False when it was already closed."""
    return _close(engine, hold_id, SETTLED)


def refund(engine: Engine, hold_id: str) -> bool:
    """Give a hold back to `available`. True when this call closed it; False when already closed."""
    return _close(engine, hold_id, REFUNDED)


def balance(engine: Engine, user_id: str) -> Balance:
    with read_session(engine) as db:
        user = db.get(User, user_id)
        if user is None:
            return Balance(available=0, frozen=0, total=0)
        available, frozen = user.credits_available, user.credits_frozen
    return Balance(available=available, frozen=frozen, total=available + frozen)


def spent(engine: Engine, user_id: str) -> int:
    """Credits the user has spent: the sum of their settled holds (refunded ones cost nothing)."""
    with read_session(engine) as db:
        total = db.scalar(
            select(func.coalesce(func.sum(CreditHold.amount), 0)).where(
                CreditHold.user_id == user_id,  # type: ignore[arg-type]
                CreditHold.status == SETTLED,  # type: ignore[arg-type]
            )
        )
    return int(total or 0)


def settled_holds(
    engine: Engine, user_id: str, *, since: datetime | None, until: datetime | None, offset: int, limit: int
) -> tuple[list[CreditHold], int]:
    """A page of the user's settled holds (what they spent, turn by turn), newest first, and how
    many there are between `since` (inclusive) and `until` (exclusive)."""
    conditions = [col(CreditHold.user_id) == user_id, col(CreditHold.status) == SETTLED]
    if since is not None:
        conditions.append(col(CreditHold.created_at) >= since)
    if until is not None:
        conditions.append(col(CreditHold.created_at) < until)
    with read_session(engine) as db:
        total = db.scalar(select(func.count()).select_from(CreditHold).where(*conditions))
        rows = db.scalars(
            select(CreditHold)
            .where(*conditions)
            .order_by(col(CreditHold.created_at).desc(), col(CreditHold.id).desc())
            .offset(offset)
            .limit(limit)
        ).all()
    return list(rows), int(total or 0)


def refund_stale(engine: Engine, older_than: timedelta, now: datetime | None = None) -> int:
    """Refund holds left open by turns that died with their process (startup). Returns the count.

    Only holds older than the longest possible turn are touched, so another server process sharing
    the database never loses a live turn's hold.
    """
    cutoff = (now or utcnow()) - older_than
    with transaction(engine) as db:
        ids = list(
            db.connection().scalars(
                select(col(CreditHold.id)).where(
                    CreditHold.status == HELD,  # type: ignore[arg-type]
                    CreditHold.created_at < cutoff,  # type: ignore[arg-type]
                )
            )
        )
    return sum(1 for hold_id in ids if refund(engine, hold_id))


def refund_orphaned(engine: Engine, *, cap: timedelta, now: datetime | None = None) -> int:
    """Refund the holds of turns that are gone; the periodic sweep calls this. Returns the count.

    A turn holds its session's turn lease (server/turn_lock.py) from before its hold is made until
    after the hold is closed, renewing it while it runs. So a hold whose session has no live lease
    (released, or expired: its process died, kill -9 included) belongs to no running turn. Holds
    older than the longest possible turn (`cap`) are refunded too (their session may be running a
    newer turn). Each refund is the conditional flip of refund(), so a hold is closed exactly once
    however many sweeps, in however many processes, race for it.
    """
    t = now or utcnow()
    with read_session(engine) as db:
        holds = (
            db.connection()
            .execute(
                select(col(CreditHold.id), col(CreditHold.session_id), col(CreditHold.created_at)).where(
                    CreditHold.status == HELD  # type: ignore[arg-type]
                )
            )
            .all()
        )
        sessions = {row.session_id for row in holds if row.session_id}
        leases = {
            row.session_id: row
            for row in db.connection().execute(
                select(col(TurnLease.session_id), col(TurnLease.holder), col(TurnLease.expires_at)).where(
                    col(TurnLease.session_id).in_(sessions)
                )
            )
        }
    epoch = t.timestamp()
    orphans = []
    for row in holds:
        lease = leases.get(row.session_id)
        live = lease is not None and lease.holder is not None and lease.expires_at >= epoch
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=t.tzinfo)
        if not live or created < t - cap:
            orphans.append(row.id)
    return sum(1 for hold_id in orphans if refund(engine, hold_id))
