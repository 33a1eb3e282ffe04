"""What a client sees of a render job: the status answer (`RenderStatus`, the one definition of that
shape), and the keyed link to the finished MP4.

Python names carry their units (`created_at_ms`, `duration_seconds`); the wire keys stay the
contract's (`createdAt`, `duration`) through aliases, and FastAPI answers by alias.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from render_jobs.table import JobStatus, RenderJob
from renderer.schema.output import Phase

# What clients are told: the job's status, except that a started job back in the queue is
# still `processing` (client_status).
ClientStatus = JobStatus


class RenderOutput(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    url: str
    size_bytes: int | None = Field(None, alias="size")
    duration_seconds: float | None = Field(None, alias="duration")
    width: int | None = None
    height: int | None = None


class RenderFailure(BaseModel):
    code: str
    message: str


class RenderStatusFields(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    status: ClientStatus
    progress: int
    phase: Phase
    eta_seconds: float | None = None
    output_url: str | None = Field(None, alias="outputUrl")
    output: RenderOutput | None = None
    error: RenderFailure | None = None
    created_at_ms: int = Field(..., alias="createdAt")
    completed_at_ms: int | None = Field(None, alias="completedAt")


class RenderStatus(RenderStatusFields):
    """The status answer: the fields flat, `success`, and the same fields again under `data`
    (clients read it in all three ways)."""

    code: Literal[0] = 0
    success: Literal[True] = True
    message: str = "success"
    data: RenderStatusFields


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


def output_mac(secret: bytes, job_id: int, user_id: str, render_id: str) -> str:
    return hmac.new(
        secret, f"render-output:{job_id}:{user_id}:{render_id}".encode(), hashlib.sha256
    ).hexdigest()[:32]


def output_url(base_url: str, secret: bytes, job: RenderJob) -> str:
    """Where the finished MP4 is fetched without a token, as the cloud's CDN links are
    (api-contract.md: `"outputUrl": "https://host/.../render_1.mp4"`; skills `curl -o` it or hand
    it to a person). Unguessable (keyed with the server's secret) and bound to this one job, like
    an upload's `cdn_url`; the token-checked `/api/render/proxy/{id}/download` serves it too."""
    assert job.id is not None
    mac = output_mac(secret, job.id, job.user_id, job.render_id)
    return f"{base_url.rstrip('/')}/media/renders/{job.id}-{mac}/{quote(job.render_id, safe='')}.mp4"


def client_status(job: RenderJob) -> ClientStatus:
    """The status clients see, which only moves forward (api-contract.md: pending -> processing ->
    completed | failed). A started job that went back to the queue (its server shut down, or an
    attempt died and is retried) is still `processing` to them: it is under way, not new.

    A cancelled render reads `failed`, with `error.code` "cancelled": clients know only those four
    statuses (api-contract.md, render status) and poll on through anything else until their
    5-minute cap; `failed` stops them at once, and the error says why. The job row keeps
    `cancelled` (a retry never picks it up)."""
    if job.status == "pending" and job.started_at is not None:
        return "processing"
    if job.status == "cancelled":
        return "failed"
    return job.status  # type: ignore[return-value]  # the row holds a JobStatus (lease.py writes only those)


def status_answer(job: RenderJob, base_url: str, secret: bytes) -> RenderStatus:
    """The status answer for `job`, as clients see it."""
    done = job.status == "completed"
    url = output_url(base_url, secret, job) if done else None
    fields = RenderStatusFields(
        id=job.render_id,
        status=client_status(job),
        progress=int(job.progress),
        phase=job.phase,  # the row holds a Phase (the worker writes only those)
        eta_seconds=None if job.terminal else job.eta_seconds,
        output_url=url,
        output=(
            RenderOutput(
                url=url,
                size_bytes=job.size,
                duration_seconds=job.duration,
                width=job.width,
                height=job.height,
            )
            if done and url is not None
            else None
        ),
        error=(
            RenderFailure(code=job.error_code or "failed", message=job.error_message or "the render failed")
            if job.status == "failed"
            else RenderFailure(code="cancelled", message="the render was cancelled (POST .../cancel)")
            if job.status == "cancelled"
            else None
        ),
        created_at_ms=int(job.created_at * 1000),
        completed_at_ms=_ms(job.completed_at),
    )
    return RenderStatus(**dict(fields), data=fields)
