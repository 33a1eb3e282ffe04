"""Clock: the wall-clock time the server shows clients (token expiry, event and render timestamps).

Normal mode reads the system clock. The fake (server/fake/determinism.py) runs a logical clock from
a configured start, so timestamps repeat from run to run and tests can move time forward (a token
then really expires). Durations (leases, timeouts, heartbeats) never use this clock: they measure
real time with `time.monotonic`.
"""

from __future__ import annotations

from datetime import UTC, datetime


class Clock:
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        return datetime.now(UTC)

    def time(self) -> float:
        """The current time as Unix seconds (what event and render timestamps carry)."""
        return self.now().timestamp()
