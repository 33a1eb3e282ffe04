"""Requests per token, counted with the `limits` library (security.md, "Tokens, sessions, credits").

One limiter per app, built lazily from the settings and kept in `ctx.extras`. The storage is
`memory://` by default (one process); `NEMO_RATE_LIMIT_STORAGE=redis://...` shares the counts
between server processes. The key is the token's keyed hash, never the token itself, so a shared
store (Redis) never holds a usable credential. New anonymous tokens per IP are limited in
server/auth.py, in the database, because that count must survive restarts.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from server.errors import ApiError, ErrorCode

EXTRAS_KEY = "rate_limiter"


class TokenRateLimiter:
    """`check(key)` counts one request for `key` and raises 429 + Retry-After past the limit."""

    def __init__(self, per_token: str, storage_uri: str = "memory://") -> None:
        self.item: RateLimitItem = parse(per_token)
        self.storage = storage_from_string(storage_uri)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.in_memory = storage_uri.startswith("memory://")  # cheap enough for the event loop

    def check(self, key: str) -> None:
        if self.limiter.hit(self.item, "token", key):
            return
        reset_at, _remaining = self.limiter.get_window_stats(self.item, "token", key)
        retry = max(1, math.ceil(reset_at - time.time()))
        raise ApiError(
            ErrorCode.RATE_LIMITED,
            f"too many requests for this token ({self.item.amount} per {self._window()}); retry later",
            headers={"Retry-After": str(retry)},
        )

    def _window(self) -> str:
        multiple = self.item.multiples
        unit = self.item.GRANULARITY.name
        return unit if multiple == 1 else f"{multiple} {unit}s"


def limiter_for(ctx: object) -> TokenRateLimiter | None:
    """The app's per-token limiter; None when no limit is configured, or in fake mode (the
    integration-test fake injects its own 429s and must not throttle test clients)."""
    extras: dict[str, object] = ctx.extras  # type: ignore[attr-defined]
    if EXTRAS_KEY not in extras:
        settings = ctx.settings  # type: ignore[attr-defined]
        per_token = (settings.rate_limit_per_token or "").strip()
        limiter = None
        if per_token and settings.mode != "fake":
            limiter = TokenRateLimiter(per_token, settings.rate_limit_storage)
        extras.setdefault(EXTRAS_KEY, limiter)  # atomic: two first requests agree on one limiter
    found = extras[EXTRAS_KEY]
    return found if isinstance(found, TokenRateLimiter) else None
