"""IdSource: every id a client sees, in the formats of api-contract.md, from one replaceable source.

The server draws ids only through `ctx.ids`. Normal mode draws random bytes; the fake
(server/fake/determinism.py) draws them from a seed, so the same calls give the same ids on every
run. The formats live here once, whatever the bytes come from.
"""

from __future__ import annotations

import secrets
import uuid

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


class IdSource:
    """Random ids (normal mode). Subclasses replace `random_bytes` only."""

    def random_bytes(self, kind: str, n: int) -> bytes:
        """`n` unpredictable bytes for an id of `kind` (the seeded source keeps one sequence per kind)."""
        return secrets.token_bytes(n)

    def _hex(self, kind: str, n: int) -> str:
        return self.random_bytes(kind, n).hex()

    def user_id(self) -> str:
        return "anon_" + self._hex("user", 8)

    def token_nonce(self) -> str:
        """The nonce a token is derived from (auth.py): the token itself follows from it and the key."""
        return self._hex("token", 32)

    def session_id(self) -> str:
        """A 19-digit numeric string."""
        return str(10**18 + int.from_bytes(self.random_bytes("session", 16)) % (9 * 10**18))

    def task_id(self) -> str:
        return "task_" + self._hex("task", 12)

    def media_id(self) -> str:
        return "media_" + self._hex("media", 12)

    def event_id(self) -> str:
        """ADK's event id: 8 alphanumerics."""
        return "".join(_ALNUM[b % len(_ALNUM)] for b in self.random_bytes("event", 8))

    def invocation_id(self) -> str:
        """ADK's invocation id: `e-` + a UUID4."""
        return f"e-{uuid.UUID(bytes=self.random_bytes('invocation', 16), version=4)}"
