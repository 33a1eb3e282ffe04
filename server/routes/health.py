"""Operations endpoints: GET /healthz (liveness with a database check) and GET /metrics (Prometheus)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from server.deps import CtxDep
from server.errors import ErrorCode, envelope

router = APIRouter(tags=["operations"])
log = logging.getLogger("nemo.health")


@router.get("/healthz", summary="Liveness: 200 when the database answers, 503 when not")
def healthz(ctx: CtxDep) -> JSONResponse:
    try:
        with ctx.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        db_status = "ok"
    except Exception:
        log.exception("health check: database unreachable")
        db_status = "unreachable"
    ok = db_status == "ok"
    # Both shapes at once: `status` on top for probes that read it, the envelope for our clients.
    data = {"status": "ok" if ok else "degraded", "database": db_status}
    body: dict[str, Any] = (
        envelope(data) if ok else envelope(data, code=int(ErrorCode.INTERNAL), message="database unreachable")
    )
    body["status"] = body["data"]["status"]
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics of this server", response_class=Response)
def metrics(ctx: CtxDep) -> Response:
    return Response(ctx.metrics.render(), media_type=ctx.metrics.content_type)
