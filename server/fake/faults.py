"""Faults a test queues for the next N requests matching a route (and optionally a session).

A fault is one of: an error of the contract answered exactly as the real one would be (`error`),
extra latency (`latency_ms`, alone or with another), a stream behaviour of `/run_sse` (`stream`),
or a render behaviour of a render submission (`render`). Faults are taken first-queued first.
"""

from __future__ import annotations

import fnmatch
import itertools
import threading
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from server.errors import ErrorCode

StreamKind = Literal["no_text", "heartbeats_only", "error", "drop"]
RenderKind = Literal["fail", "slow", "stuck"]

# The skills' paths, then the official CLI's (server/gateway): renders there get the fake's defaults too.
RENDER_SUBMIT_PATHS = (
    "/api/render/proxy/lambda",
    "/api/render/proxy/draft",
    "/services/v1/render-proxy/lambda",
)
# How long a behaviour lasts when the test does not say.
DEFAULT_SECONDS = {"heartbeats_only": 3.0, "slow": 5.0, "stuck": 3600.0}


class FaultSpec(BaseModel):
    """What POST /_fake/faults takes."""

    model_config = ConfigDict(extra="forbid")

    route: str | None = Field(None, description='"METHOD /path/pattern" (fnmatch `*`), e.g. "POST /run_sse"')
    method: str = Field("*", description="HTTP method, or * for any")
    path: str | None = Field(None, description="path pattern (fnmatch), without any prefix")
    session_id: str | None = Field(None, description="only requests about this session (path or JSON body)")
    times: int = Field(1, ge=1, le=100_000, description="how many matching requests it applies to")
    error: int | None = Field(None, description="answer with this contract error code instead")
    message: str | None = Field(
        None, max_length=2000, description="the error's message (default: the real one)"
    )
    retry_after: int = Field(30, ge=0, le=86_400, description="429: the Retry-After header, in seconds")
    bind_url: str | None = Field(None, description="2001: data.bind_url (default: the configured one)")
    latency_ms: int = Field(0, ge=0, le=600_000, description="wait this long before answering")
    stream: StreamKind | None = Field(None, description="a /run_sse behaviour")
    render: RenderKind | None = Field(None, description="a render submission's behaviour")
    seconds: float | None = Field(None, ge=0, le=86_400, description="heartbeats_only/slow/stuck duration")
    heartbeat_seconds: float = Field(0.5, gt=0, le=60, description="heartbeats_only: interval")
    after_events: int = Field(1, ge=0, le=10_000, description="stream error/drop: after this many events")
    event_code: int = Field(5000, description="stream error: the event's errorCode")

    @model_validator(mode="after")
    def _check(self) -> FaultSpec:
        if self.route:
            method, _, path = self.route.strip().partition(" ")
            if not path:
                method, path = "*", method
            self.method, self.path = method, path.strip()
        self.method = self.method.upper()
        chosen = [k for k in ("error", "stream", "render") if getattr(self, k) is not None]
        if len(chosen) > 1:
            raise ValueError(f"a fault is one of error, stream or render, not {' and '.join(chosen)}")
        if not chosen and not self.latency_ms:
            raise ValueError("say what to do: error, stream, render or latency_ms")
        if self.error is not None and self.error not in ErrorCode._value2member_map_:
            known = ", ".join(str(int(c)) for c in ErrorCode)
            raise ValueError(f"error {self.error} is not a code of the contract ({known})")
        if self.path is None:
            self.path = "/run_sse" if self.stream else RENDER_SUBMIT_PATHS[0] if self.render else "*"
            if self.render and self.method == "*":
                self.method = "POST"
        if not self.path.startswith(("/", "*")):
            raise ValueError("path must start with / (or be a pattern starting with *)")
        if self.stream and not fnmatch.fnmatchcase("/run_sse", self.path):
            raise ValueError("stream behaviours apply to /run_sse; use path /run_sse")
        if self.render and not any(fnmatch.fnmatchcase(p, self.path) for p in RENDER_SUBMIT_PATHS):
            raise ValueError("render behaviours apply to render submissions: POST /api/render/proxy/lambda")
        return self

    @property
    def kind(self) -> str:
        if self.error is not None:
            return f"error {self.error}"
        if self.stream:
            return f"stream {self.stream}"
        if self.render:
            return f"render {self.render}"
        return "latency"

    def duration(self) -> float:
        kind = self.stream or self.render or ""
        return self.seconds if self.seconds is not None else DEFAULT_SECONDS.get(kind, 0.0)

    def matches(self, method: str, path: str, session_id: str | None) -> bool:
        if self.method not in ("*", method.upper()):
            return False
        if not fnmatch.fnmatchcase(path, self.path or "*"):
            return False
        return self.session_id is None or self.session_id == session_id


class Fault(FaultSpec):
    id: str
    remaining: int
    applied: int = 0


class FaultBook:
    """The queued faults of one app; used from the event loop and from route threads."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)

    def add(self, spec: FaultSpec) -> Fault:
        with self._lock:
            fault = Fault(**spec.model_dump(), id=f"fault_{next(self._numbers)}", remaining=spec.times)
            self._faults.append(fault)
            return fault

    def take(self, method: str, path: str, session_id: str | None) -> Fault | None:
        """The first pending fault for this request, counted as applied (gone once used up)."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path, session_id):
                    fault.remaining -= 1
                    fault.applied += 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault.model_copy()
        return None

    def wants_session(self) -> bool:
        with self._lock:
            return any(f.session_id is not None for f in self._faults)

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.model_dump(exclude_none=True) for f in self._faults]

    def clear(self) -> int:
        with self._lock:
            count = len(self._faults)
            self._faults.clear()
            return count
