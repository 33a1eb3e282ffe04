"""The server's rows (SQLModel). Render jobs live in `render_jobs.table` (workers own that table).

Times are timezone-aware UTC datetimes. JSON documents (session state, events, media facts) are
stored as text: one shape on SQLite and PostgreSQL, and they are always read whole.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, DateTime, Float, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(**kw: object) -> Column:  # type: ignore[type-arg]
    return Column(DateTime(timezone=True), **kw)  # type: ignore[arg-type]


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: str = Field(primary_key=True, max_length=64)  # anon_<hex> for anonymous users
    anonymous: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    # Credits live on the user row so one conditional UPDATE can move them atomically.
    credits_available: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    credits_frozen: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))


class Token(SQLModel, table=True):
    __tablename__ = "tokens"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(index=True, unique=True, max_length=128)  # keyed hash, never the token
    user_id: str = Field(foreign_key="users.id", index=True, max_length=64)
    client_id: str | None = Field(default=None, index=True, max_length=64)
    created_ip: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    expires_at: datetime = Field(sa_column=_ts(nullable=False))
    # Idempotent setup hands the same token back to the same client id, so the token must be
    # re-derivable without storing it: token = prefix + HMAC(server key, nonce) (auth.py).
    nonce: str = Field(max_length=64)


class ChatSession(SQLModel, table=True):
    __tablename__ = "sessions"

    id: str = Field(primary_key=True, max_length=32)  # 19-digit numeric string
    task_id: str = Field(index=True, unique=True, max_length=64)
    task_name: str = Field(default="project", max_length=256)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=64)
    language: str | None = Field(default=None, max_length=32)
    version: int = 0  # the latest committed state version
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class StateVersion(SQLModel, table=True):
    """Every committed change of a session's state; undo and `state/{version}` read these."""

    __tablename__ = "state_versions"
    __table_args__ = (UniqueConstraint("session_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(foreign_key="sessions.id", index=True, max_length=32)
    version: int
    state_json: str = Field(sa_column=Column(Text, nullable=False))
    reason: str | None = Field(default=None, max_length=256)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class SessionEvent(SQLModel, table=True):
    __tablename__ = "session_events"

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(foreign_key="sessions.id", index=True, max_length=32)
    invocation_id: str = Field(index=True, max_length=64)
    event_json: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class CreditHold(SQLModel, table=True):
    """Credits frozen for one chat turn; settled (spent) or refunded exactly once."""

    __tablename__ = "credit_holds"

    id: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=64)
    session_id: str | None = Field(default=None, max_length=32)
    amount: int
    status: str = Field(default="held", max_length=16)  # held | settled | refunded
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    closed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class Media(SQLModel, table=True):
    """One uploaded file; the bytes live content-addressed in storage, shared between uploads."""

    __tablename__ = "media"

    id: str = Field(primary_key=True, max_length=64)  # media_id
    user_id: str = Field(foreign_key="users.id", index=True, max_length=64)
    session_id: str | None = Field(default=None, index=True, max_length=32)
    sha256: str = Field(index=True, max_length=64)
    filename: str = Field(max_length=1024)  # the client's name, as text only
    file_type: str = Field(max_length=16)
    storage_key: str = Field(max_length=512)  # path relative to the storage root
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    info_json: str = Field(sa_column=Column(Text, nullable=False))  # the MediaFile as answered
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class ClaimToken(SQLModel, table=True):
    __tablename__ = "claim_tokens"

    token_hash: str = Field(primary_key=True, max_length=128)
    user_id: str = Field(foreign_key="users.id", max_length=64)
    session_id: str = Field(max_length=32)
    task_id: str = Field(max_length=64)
    expires_at: datetime = Field(sa_column=_ts(nullable=False))


class ClientIdUse(SQLModel, table=True):
    """New client ids seen per IP, for the anonymous-token limit."""

    __tablename__ = "client_id_uses"

    id: int | None = Field(default=None, primary_key=True)
    ip: str = Field(index=True, max_length=64)
    client_id: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class TurnLease(SQLModel, table=True):
    """Which process runs the chat turn of a session now (server/turn_lock.py).

    Rows are released, never deleted: the fencing token must only grow, or a holder that lost its
    lease could match the token of a later one. `expires_at` is float epoch seconds, as on
    render_jobs, so the takeover test is plain arithmetic inside one statement on both databases.
    No foreign key: the lease is taken before anything else of the turn touches the session.
    """

    __tablename__ = "turn_leases"

    session_id: str = Field(primary_key=True, max_length=32)
    holder: str | None = Field(default=None, max_length=128)  # None: released
    token: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    expires_at: float = Field(default=0.0, sa_column=Column(Float, nullable=False, default=0.0))
