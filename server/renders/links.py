"""What a client sees of a render job: the status answer, and the keyed link to the finished MP4."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import quote

from render_jobs.table import RenderJob


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


def client_status(job: RenderJob) -> str:
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
    return job.status


def status_body(job: RenderJob, base_url: str, secret: bytes) -> dict[str, Any]:
    """The status answer: flat fields, `success`, and the same fields under `data` (three client styles)."""
    done = job.status == "completed"
    url = output_url(base_url, secret, job) if done else None
    fields: dict[str, Any] = {
        "id": job.render_id,
        "status": client_status(job),
        "progress": int(job.progress),
        "phase": job.phase,
        "eta_seconds": None if job.terminal else job.eta_seconds,
        "outputUrl": url,
        "output": (
            {"url": url, "size": job.size, "duration": job.duration, "width": job.width, "height": job.height}
            if done
            else None
        ),
        "error": (
            {"code": job.error_code or "failed", "message": job.error_message or "the render failed"}
            if job.status == "failed"
            else {"code": "cancelled", "message": "the render was cancelled (POST .../cancel)"}
            if job.status == "cancelled"
            else None
        ),
        "createdAt": _ms(job.created_at),
        "completedAt": _ms(job.completed_at),
    }
    return {"code": 0, "success": True, "message": "success", **fields, "data": dict(fields)}
