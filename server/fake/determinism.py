"""The fake's seeded ids and logical clock: the same calls give the same ids and times on every run.

Each kind of id (user, token, session, event, ...) has its own sequence, so the number of event ids
a turn drew never shifts the next session id. Times start at the configured start and move forward
a millisecond per reading (so they increase, as clients expect), plus whatever a test advances.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timedelta

from server.clock import Clock
from server.ids import IdSource


class SeededIds(IdSource):
    def __init__(self, seed: int | str) -> None:
        self.seed = str(seed)
        self._counters: dict[str, int] = {}
        self._lock = threading.Lock()

    def random_bytes(self, kind: str, n: int) -> bytes:
        with self._lock:
            count = self._counters.get(kind, 0)
            self._counters[kind] = count + 1
        out = b""
        block = 0
        while len(out) < n:
            out += hashlib.sha256(f"{self.seed}\0{kind}\0{count}\0{block}".encode()).digest()
            block += 1
        return out[:n]

    def restart(self) -> None:
        """Back to the first id of every kind (POST /_fake/reset with data)."""
        with self._lock:
            self._counters.clear()


class FakeClock(Clock):
    def __init__(self, start: datetime, tick: timedelta = timedelta(milliseconds=1)) -> None:
        self.start = start
        self.tick = tick
        self._offset = timedelta(0)
        self._reads = 0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            self._reads += 1
            return self.start + self._offset + self.tick * self._reads

    def advance(self, seconds: float) -> datetime:
        """Move time forward (tokens expire, holds age) without waiting; returns the new time."""
        with self._lock:
            self._offset += timedelta(seconds=seconds)
            return self.start + self._offset + self.tick * self._reads

    def restart(self) -> None:
        with self._lock:
            self._offset = timedelta(0)
            self._reads = 0
