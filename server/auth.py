"""Tokens: made from 32 random bytes, stored only as a keyed hash, compared in constant time.

A token is `nmv_usr_` + 43 url-safe characters = base64url(HMAC(key, "token:" + nonce)), where the
nonce is 32 random bytes kept on the row. The row also keeps HMAC(key, "hash:" + token), which is
what lookups use. So the database alone never yields a usable token, and the same client id can be
handed the same token again while it is valid (clients re-run setup in every conversation).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session, select

from server.errors import ApiError, ErrorCode
from server.tables import Token, User

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


def new_nonce() -> str:
    return secrets.token_hex(32)


def token_for(secret: bytes, nonce: str) -> str:
    mac = hmac.new(secret, b"token:" + nonce.encode(), hashlib.sha256).digest()
    return TOKEN_PREFIX + _b64(mac)[:_TOKEN_BODY_LEN]


def hash_token(secret: bytes, token: str) -> str:
    return hmac.new(secret, b"hash:" + token.encode(), hashlib.sha256).hexdigest()


def parse_bearer(authorization: str | None) -> str:
    if not authorization:
        raise ApiError(ErrorCode.TOKEN_INVALID, "missing Authorization: Bearer <token>; get an anonymous token")
    scheme, _, value = authorization.strip().partition(" ")
    token = value.strip()
    if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        raise ApiError(ErrorCode.TOKEN_INVALID, "malformed token; get a new anonymous token")
    return token


def authenticate(db: Session, secret: bytes, authorization: str | None, now: datetime | None = None) -> User:
    """The user behind a bearer token, or 1001 (missing, malformed, unknown or expired)."""
    token = parse_bearer(authorization)
    digest = hash_token(secret, token)
    row = db.exec(select(Token).where(Token.token_hash == digest)).first()
    # The lookup is by keyed hash; compare again in constant time so no timing reveals a prefix.
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        raise ApiError(ErrorCode.TOKEN_INVALID, "unknown token; get a new anonymous token")
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    if expires <= (now or datetime.now(UTC)):
        raise ApiError(ErrorCode.TOKEN_INVALID, "token expired; get a new anonymous token")
    user = db.get(User, row.user_id)
    if user is None:
        raise ApiError(ErrorCode.TOKEN_INVALID, "unknown token; get a new anonymous token")
    return user
