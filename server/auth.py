"""Tokens: made from 32 random bytes, stored only as a keyed hash, compared in constant time.

A token is `nmv_usr_` + 43 url-safe characters = base64url(HMAC(key, "token:" + nonce)), where the
nonce is 32 random bytes kept on the row. The row also keeps HMAC(key, "hash:" + token), which is
what lookups use. So the database alone never yields a usable token, and the caller that owns a
client id can be handed the same token again while it is valid (clients re-run setup in every
conversation); see issue_anonymous for who owns one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import text as sa_text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from database.engine import transaction
from server.errors import ApiError, ErrorCode
from server.ids import IdSource
from server.tables import ClientIdUse, Token, User

TOKEN_PREFIX = "nmv_usr_"
_TOKEN_BODY_LEN = 43


def load_secret(configured: str | None, data_dir: Path) -> bytes:
    """The key for token hashes: configured, else made once and kept (0600) in the data dir."""
    if configured:
        return configured.encode()
    path = data_dir / "secret.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(secrets.token_bytes(32))
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_bytes()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def token_for(secret: bytes, nonce: str) -> str:
    mac = hmac.new(secret, b"token:" + nonce.encode(), hashlib.sha256).digest()
    return TOKEN_PREFIX + _b64(mac)[:_TOKEN_BODY_LEN]


def hash_token(secret: bytes, token: str) -> str:
    return hmac.new(secret, b"hash:" + token.encode(), hashlib.sha256).hexdigest()


def parse_bearer(authorization: str | None) -> str:
    if not authorization:
        raise ApiError(
            ErrorCode.TOKEN_INVALID, "missing Authorization: Bearer <token>; get an anonymous token"
        )
    scheme, _, value = authorization.strip().partition(" ")
    token = value.strip()
    if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        raise ApiError(ErrorCode.TOKEN_INVALID, "malformed token; get a new anonymous token")
    return token


def authenticate(db: Session, secret: bytes, authorization: str | None, now: datetime | None = None) -> User:
    """The user behind a bearer token, or 1001 (missing, malformed, unknown or expired)."""
    return identify(db, secret, authorization, now)[0]


def identify(
    db: Session, secret: bytes, authorization: str | None, now: datetime | None = None
) -> tuple[User, datetime]:
    """authenticate(), also giving the token's expiry (what TokenCache needs)."""
    token = parse_bearer(authorization)
    digest = hash_token(secret, token)
    row = db.exec(select(Token).where(Token.token_hash == digest)).first()
    # The lookup is by keyed hash; compare again in constant time so no timing reveals a prefix.
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        raise ApiError(ErrorCode.TOKEN_INVALID, "unknown token; get a new anonymous token")
    if _aware(row.expires_at) <= (now or datetime.now(UTC)):
        raise ApiError(ErrorCode.TOKEN_INVALID, "token expired; get a new anonymous token")
    user = db.get(User, row.user_id)
    if user is None:
        raise ApiError(ErrorCode.TOKEN_INVALID, "unknown token; get a new anonymous token")
    return user, _aware(row.expires_at)


class TokenCache:
    """Who a token belongs to, remembered briefly so most requests skip the database and the
    thread hop that reading it costs (measured: about half of a state/credits request).

    Keyed by the token's keyed hash, never the token. An entry lives `ttl_seconds` at most and
    never past the token's own expiry (checked against the app's clock, so the fake's clock
    works). Tokens are never revoked early here; whoever deletes users (the fake's reset) clears
    the cache. The cached User is a snapshot for identity only: credits are always read fresh.
    """

    def __init__(self, ttl_seconds: float = 30.0, max_entries: int = 10_000) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[User, datetime, float]] = {}

    def get(self, digest: str, now: datetime) -> User | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        user, expires_at, cached_until = entry
        if expires_at <= now or time.monotonic() >= cached_until:
            self._entries.pop(digest, None)
            return None
        return user

    def put(self, digest: str, user: User, expires_at: datetime) -> None:
        if len(self._entries) >= self.max_entries:  # drop the oldest (dicts keep insertion order)
            self._entries.pop(next(iter(self._entries)), None)
        self._entries[digest] = (user, expires_at, time.monotonic() + self.ttl_seconds)

    def clear(self) -> None:
        self._entries.clear()


class IssuedToken(BaseModel):
    token: str
    user_id: str
    expires_at: datetime
    credits: int
    new_user: bool


RATE_WINDOW = timedelta(days=7)


def issue_anonymous(
    engine: Engine,
    secret: bytes,
    *,
    client_id: str,
    ip: str,
    credits: int,
    ttl: timedelta,
    per_ip: int,
    now: datetime | None = None,
    ids: IdSource | None = None,
    presented: str | None = None,
) -> IssuedToken:
    """The anonymous-token call: idempotent for the caller that owns a client id, limited per IP
    for *new* client ids.

    A client id is a label the caller chose (`my-laptop`), not a secret, so knowing it never hands
    over an account. The caller owns the account of a client id when it
    - presents one of that account's tokens for this client id (`presented`, the Authorization
      header; an expired one still proves it), or
    - calls from the address a token of this client id was issued to (re-running setup from the
      same machine, the case the contract's idempotency is for).
    The owner gets the same still-valid token back, or after expiry a new token for the *same*
    user, credits kept (a fresh 100 credits per week per client id would make the credit limit
    meaningless). Anyone else sending the same client id gets an account of their own, counted
    against `per_ip` new client ids per IP per 7 days (429 + Retry-After past it). The count lives
    in the database (`client_id_uses`), so it survives restarts and holds across several server
    processes sharing PostgreSQL.
    """
    now = now or datetime.now(UTC)
    ids = ids or IdSource()
    with transaction(engine) as db:
        _serialise(db, "anon:" + client_id)
        user = _owned_account(db, secret, client_id, ip, presented)
        if user is not None:
            latest = db.exec(
                select(Token)
                .where(Token.client_id == client_id, Token.user_id == user.id)
                .order_by(col(Token.expires_at).desc())
            ).first()
            if latest is not None and _aware(latest.expires_at) > now:
                return IssuedToken(
                    token=token_for(secret, latest.nonce),
                    user_id=user.id,
                    expires_at=_aware(latest.expires_at),
                    credits=user.credits_available,
                    new_user=False,
                )
            return _new_token(db, secret, user, client_id, ip, now + ttl, ids, new_user=False)
        _serialise(db, "ip:" + ip)
        _check_ip_limit(db, ip, per_ip, now)
        user = User(id=ids.user_id(), anonymous=True, credits_available=credits)
        db.add(user)
        db.flush()
        db.add(ClientIdUse(ip=ip, client_id=client_id, created_at=now))
        return _new_token(db, secret, user, client_id, ip, now + ttl, ids, new_user=True)


def _owned_account(db: Session, secret: bytes, client_id: str, ip: str, presented: str | None) -> User | None:
    """The account of `client_id` this caller owns (see issue_anonymous), or None."""
    row: Token | None = None
    if presented and presented.startswith(TOKEN_PREFIX) and len(presented) <= 128:
        digest = hash_token(secret, presented)
        found = db.exec(select(Token).where(Token.token_hash == digest)).first()
        proven = found is not None and hmac.compare_digest(found.token_hash, digest)
        if proven and found is not None and found.client_id == client_id:
            row = found
    if row is None:
        row = db.exec(
            select(Token)
            .where(Token.client_id == client_id, Token.created_ip == ip[:64])
            .order_by(col(Token.expires_at).desc())
        ).first()
    return db.get(User, row.user_id) if row is not None else None


def _new_token(
    db: Session,
    secret: bytes,
    user: User,
    client_id: str,
    ip: str,
    expires_at: datetime,
    ids: IdSource,
    *,
    new_user: bool,
) -> IssuedToken:
    nonce = ids.token_nonce()
    token = token_for(secret, nonce)
    expires_at = expires_at.replace(microsecond=0)
    db.add(
        Token(
            token_hash=hash_token(secret, token),
            user_id=user.id,
            client_id=client_id,
            created_ip=ip[:64],
            expires_at=expires_at,
            nonce=nonce,
        )
    )
    return IssuedToken(
        token=token, user_id=user.id, expires_at=expires_at, credits=user.credits_available, new_user=new_user
    )


def _check_ip_limit(db: Session, ip: str, per_ip: int, now: datetime) -> None:
    since = now - RATE_WINDOW
    times = db.exec(
        select(ClientIdUse.created_at)
        .where(ClientIdUse.ip == ip, col(ClientIdUse.created_at) > since)
        .order_by(col(ClientIdUse.created_at))
    ).all()
    if len(times) < per_ip:
        return
    # The oldest use in the window leaves it first: that is when one more new client id fits.
    retry = max(1, math.ceil((_aware(times[len(times) - per_ip]) + RATE_WINDOW - now).total_seconds()))
    raise ApiError(
        ErrorCode.RATE_LIMITED,
        f"too many new client ids from this address ({per_ip} per 7 days); retry later",
        headers={"Retry-After": str(retry)},
    )


def _serialise(db: Session, key: str) -> None:
    """PostgreSQL: queue concurrent calls for one client id / IP (SQLite: BEGIN IMMEDIATE did it)."""
    if db.get_bind().dialect.name == "postgresql":
        db.connection().execute(sa_text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})


def _aware(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; every time we store is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def iso_utc(value: datetime) -> str:
    """ISO-8601 in UTC with a `Z`, to the second (what `expires_at` answers)."""
    return _aware(value).astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
