"""The render job row (SQLModel): what a job asks for, where it stands, who holds it, what it made.

The row is the source of truth for every render, embedded or scaled out; lease.py owns the writes
that move it through its life. Times are float epoch seconds so the lease comparison is plain
arithmetic on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import json
from typing import Literal

from sqlalchemy import Column, Float, Integer, Text, UniqueConstraint
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel

JobStatus = Literal["pending", "processing", "completed", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
RENDER_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"


class RenderJob(SQLModel, table=True):
    __tablename__ = "render_jobs"
    __table_args__ = (UniqueConstraint("user_id", "render_id", name="uq_render_jobs_user_render"),)

    id: int | None = Field(default=None, primary_key=True)
    render_id: str = Field(max_length=128)  # chosen by the client, unique per user
    user_id: str = Field(index=True, max_length=64)
    session_id: str = Field(max_length=32)
    status: str = Field(default="pending", index=True, max_length=16)
    phase: str = Field(default="queued", max_length=16)
    progress: int = 0  # 0..100, only grows (the heartbeat keeps the maximum)
    eta_seconds: float | None = None
    draft_json: str = Field(sa_column=Column(Text, nullable=False))
    # src as written in the draft -> where the worker finds it: a path relative to the data dir,
    # an absolute path, or `builtin:<name>` (made by the worker with renderer.music.synth).
    sources_json: str = Field(sa_column=Column(Text, nullable=False))
    output_json: str = Field(sa_column=Column(Text, nullable=False))
    # Two budgets (migration 0002): `attempts` counts runs that ended by the render's own doing (an
    # error, a crashed child) and is bounded by `max_attempts`; `lost_leases` counts runs whose
    # worker vanished (its lease lapsed: the process or machine died), which are not the job's
    # fault, bounded separately and more loosely by `max_lost_leases`.
    attempts: int = 0
    max_attempts: int = 3
    lost_leases: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    max_lost_leases: int = Field(default=10, sa_column=Column(Integer, nullable=False, server_default="10"))
    lease_owner: str | None = Field(default=None, max_length=128)
    lease_expires_at: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    fencing_token: int = 0
    cancel_requested: bool = False
    error_code: str | None = Field(default=None, max_length=64)
    error_message: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    output_key: str | None = Field(default=None, max_length=512)  # relative to the data dir
    size: int | None = None
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    encoder: str | None = Field(default=None, max_length=32)
    device: str | None = Field(default=None, max_length=32)
    attribution_source: str | None = Field(default=None, max_length=256)
    attribution_version: str | None = Field(default=None, max_length=256)
    attribution_platform: str | None = Field(default=None, max_length=256)
    base_url: str | None = Field(default=None, max_length=1024)  # where the client reached the server
    # Split across workers (migration 0003): the number of RenderPart rows, 0 for a render done
    # whole by one worker. While the parts render the job is `processing` with no lease (no one
    # worker holds it); the worker that completes the last part takes the lease to join them.
    parts: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    # Set once by whoever first reports the finished render to the session (exactly once).
    announced: bool = False
    created_at: float = Field(sa_column=Column(Float, nullable=False))
    started_at: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    completed_at: float | None = Field(default=None, sa_column=Column(Float, nullable=True))

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def sources(self) -> dict[str, str]:
        return dict(json.loads(self.sources_json))


PartStatus = Literal["pending", "processing", "completed", "failed", "cancelled"]


class RenderPart(SQLModel, table=True):
    """Frames [start_frame, stop_frame) of a split job, rendered by any worker (render_jobs/parts.py).

    Fenced like the job row: a worker owns a part while `fencing_token` is the one its claim
    returned and its lease has not lapsed. `attempts` counts every run (claims), so a part whose
    worker was killed shows 2; `crashes` counts the runs that failed on their own."""

    __tablename__ = "render_parts"
    __table_args__ = (UniqueConstraint("job_id", "idx", name="uq_render_parts_job_idx"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(index=True)
    idx: int  # its place in the joined file
    start_frame: int
    stop_frame: int
    status: str = Field(default="pending", index=True, max_length=16)
    frames_done: int = 0  # of this run; the job's progress keeps its own maximum
    attempts: int = 0
    crashes: int = 0
    lease_owner: str | None = Field(default=None, max_length=128)
    lease_expires_at: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    fencing_token: int = 0
    output_key: str | None = Field(default=None, max_length=512)  # relative to the data dir
    created_at: float = Field(sa_column=Column(Float, nullable=False))
    started_at: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    completed_at: float | None = Field(default=None, sa_column=Column(Float, nullable=True))


def create_table(engine: Engine) -> None:
    """Create the job and part tables where missing (a standalone worker facing a new database)."""
    tables = [RenderJob.__table__, RenderPart.__table__]  # type: ignore[attr-defined]
    SQLModel.metadata.create_all(engine, tables=tables)
